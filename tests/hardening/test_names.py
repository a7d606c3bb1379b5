"""No name escapes the models folder or confuses the file system or the database.

Hand-written hostile names and hypothesis-generated ones drive the real
`ModelService` API in a sandbox; the tree outside ``models_directory`` is
snapshotted before and after every name and must never change.
"""

from __future__ import annotations

import os
import string
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.dummy import DummyClassifier

from jupyter_modelservice import (
    InvalidInputError,
    InvalidModelIdError,
    ModelNotFoundError,
    ModelService,
)
from jupyter_modelservice.ids import parse_ref

from . import hostile
from .figures import FIGURES

_REGISTRY_NOISE = {"registry.db-wal", "registry.db-shm", "registry.db-journal", "registry.db"}


class Sandbox:
    """A service whose models folder sits four levels deep in a watched tree; cwd inside it too."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.models = root / "l1" / "l2" / "l3" / "models"
        self.cwd = root / "cwd"
        self.cwd.mkdir(parents=True)
        (root / "l1" / "secret.txt").parent.mkdir(parents=True, exist_ok=True)
        (root / "l1" / "secret.txt").write_text("do not touch")
        self.service = ModelService(models_directory=self.models)

    def snapshot(self, *, inside: bool) -> dict[str, tuple]:
        """Every path under the sandbox (outside the models folder, or only inside it)."""
        found = {}
        for folder, dirs, files in os.walk(self.root):
            for name in dirs + files:
                path = Path(folder) / name
                rel = path.relative_to(self.root)
                is_inside = path == self.models or self.models in path.parents
                if is_inside != inside or (inside and name in _REGISTRY_NOISE):
                    continue
                info = path.lstat()
                found[rel.as_posix()] = (path.is_dir(), info.st_size if not path.is_dir() else 0,
                                         info.st_mtime_ns if not path.is_dir() else 0)
        return found


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    box = Sandbox(tmp_path / "sandbox")
    monkeypatch.chdir(box.cwd)
    yield box
    box.service.close()


def _every_entry_point(service, name, X, y):
    """Call each API that takes a model id or reference with ``name``; yield (label, outcome)."""
    calls = {
        "train_model": lambda: service.train_model(DummyClassifier, X, y, model_id=name),
        "register_model": lambda: service.register_model(DummyClassifier().fit(X, y), model_id=name),
        "save_model": lambda: service.save_model(name),
        "load_model": lambda: service.load_model(name),
        "get_model": lambda: service.get_model(name),
        "get_model_metadata": lambda: service.get_model_metadata(name),
        "update_model_metadata": lambda: service.update_model_metadata(name, {"tags": {"k": "v"}}),
        "archive_model": lambda: service.archive_model(name),
        "delete_model": lambda: service.delete_model(name),
        "model_history": lambda: service.model_history(name),
        "list_models": lambda: service.list_models(model_id=name),
        "evaluate_model": lambda: service.evaluate_model(X, y, model_id=name),
        "cross_validate_model": lambda: service.cross_validate_model(DummyClassifier, X, y, cv_folds=2,
                                                                     model_id=name),
        "compare_models": lambda: service.compare_models([name], X, y),
        "get_feature_importance": lambda: service.get_feature_importance(model_id=name),
    }
    if not hasattr(service, "register_model"):
        del calls["register_model"]
    for label, call in calls.items():
        try:
            call()
        except Exception as err:  # noqa: BLE001 - the outcome is what we check
            yield label, err
        else:
            yield label, None


def _is_ref(name) -> bool:
    try:
        parse_ref(name)
    except (InvalidModelIdError, TypeError):
        return False
    return True


def test_hand_written_hostile_names_are_refused_everywhere_before_any_io(sandbox, tiny_data):
    X, y = tiny_data
    before_out, before_in = sandbox.snapshot(inside=False), sandbox.snapshot(inside=True)
    wrong = []
    for name in [*hostile.CATALOGUE, *hostile.NOT_STRINGS]:
        for label, outcome in _every_entry_point(sandbox.service, name, X, y):
            if not isinstance(outcome, InvalidModelIdError):
                wrong.append((label, name, repr(outcome)))
    FIGURES["names_tried"] += len(hostile.CATALOGUE) + len(hostile.NOT_STRINGS)
    escaped = sandbox.snapshot(inside=False) != before_out
    FIGURES["escapes"] += int(escaped)
    assert not wrong, wrong[:10]
    assert not escaped
    assert sandbox.snapshot(inside=True) == before_in  # refused before any I/O: not even a folder
    assert sandbox.service.list_models() == []


@pytest.mark.parametrize("ref", hostile.REFS)
def test_versions_that_are_not_positive_integers_are_refused(sandbox, tiny_data, ref):
    X, y = tiny_data
    sandbox.service.train_model(DummyClassifier, X, y, model_id="rf")
    calls = [lambda: sandbox.service.load_model(ref), lambda: sandbox.service.save_model(ref),
             lambda: sandbox.service.delete_model(ref)]
    if ref.startswith("rf:"):
        calls.append(lambda: sandbox.service.save_model("rf", version=ref[3:]))
    for call in calls:
        with pytest.raises(InvalidModelIdError, match="version|model_id"):
            call()
    assert [r["version"] for r in sandbox.service.list_models()] == [1]


@pytest.mark.parametrize("name", hostile.LOOK_ALIKE_BUT_VALID)
def test_valid_names_that_look_like_sql_or_paths_stay_in_their_folder(sandbox, tiny_data, name):
    X, y = tiny_data
    before = sandbox.snapshot(inside=False)
    sandbox.service.train_model(DummyClassifier, X, y, model_id=name)
    sandbox.service.save_model(name)
    assert sandbox.service.load_model(name)
    assert sorted(p.name for p in (sandbox.models / name).iterdir()) == ["v1.joblib", "v1.json"]
    assert sandbox.snapshot(inside=False) == before
    assert sandbox.service.delete_model(name) == 1


def test_ids_differing_only_in_case_are_refused(sandbox, tiny_data):
    X, y = tiny_data
    sandbox.service.train_model(DummyClassifier, X, y, model_id="Forest")
    with pytest.raises(InvalidModelIdError, match="differs only in letter case"):
        sandbox.service.train_model(DummyClassifier, X, y, model_id="forest")
    sandbox.service.train_model(DummyClassifier, X, y, model_id="Forest")  # a new version is fine
    assert [r["model_id"] for r in sandbox.service.list_models()] == ["Forest", "Forest"]


@pytest.mark.slow
@settings(max_examples=400, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
@given(data=st.data())
def test_generated_names_never_escape_the_models_folder(sandbox, tiny_data, data):
    X, y = tiny_data
    service = sandbox.service
    name = data.draw(hostile.names(extra_fragments=(str(sandbox.root), str(sandbox.root / "l1"),
                                                    "../../../../", "..\\..\\..\\")), label="name")
    before_out, before_in = sandbox.snapshot(inside=False), sandbox.snapshot(inside=True)
    if hostile.is_valid_id(name):
        FIGURES["valid_names"] += 1
        version = service.train_model(DummyClassifier, X, y, model_id=name)["version"]
        service.save_model(name)
        assert service.load_model(name)
        # a name drawn again gets a new number: deleted versions' numbers are not reused
        assert (name, version) in {(r["model_id"], r["version"]) for r in service.list_models(search=name)}
        created = set(sandbox.snapshot(inside=True)) - set(before_in)
        prefix = (sandbox.models / name).relative_to(sandbox.root).as_posix()
        assert created and all(p == prefix or p.startswith(prefix + "/") for p in created), created
        assert service.delete_model(name) == 1
    else:
        FIGURES["names_tried"] += 1
        for label, outcome in _every_entry_point(service, name, X, y):
            if _is_ref(name) and label == "model_history":
                ref = parse_ref(name)  # history outlives rows: no error, and only this version's events
                assert outcome is None
                assert all((e["model_id"], e["version"]) == ref for e in service.model_history(name))
                continue
            expected = (InvalidModelIdError, ModelNotFoundError) if _is_ref(name) and label != "train_model" \
                else InvalidModelIdError
            assert isinstance(outcome, expected), (label, name, outcome)
        try:
            rows = service.list_models(search=name)
        except InvalidInputError:
            rows = []
        assert rows == []
        assert sandbox.snapshot(inside=True) == before_in
    escaped = sandbox.snapshot(inside=False) != before_out
    FIGURES["escapes"] += int(escaped)
    assert not escaped, name
    assert (sandbox.root / "l1" / "secret.txt").read_text() == "do not touch"


# -- search text -------------------------------------------------------------------
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_ROWS = [("rf", "RandomForestClassifier"), ("RF_big", "RandomForestClassifier"), ("a_b", "Pct%Class"),
         ("axb", "Under_Score"), ("Forest.1", "Quote'Class"), ("k-1", "Back\\slash"), ("kelvin", "KClass"),
         ("drop", "x; DROP TABLE model_metadata; --")]


def _expected(search: str) -> set[tuple[str, int]]:
    needle = search.translate(_ASCII_LOWER)
    return {(model_id, 1) for model_id, cls in _ROWS
            if needle in model_id.translate(_ASCII_LOWER) or needle in cls.translate(_ASCII_LOWER)}


@pytest.fixture
def searchable(tmp_path):
    service = ModelService(models_directory=tmp_path / "models")
    for model_id, cls in _ROWS:
        service.registry.add_version({"model_id": model_id, "model_class": cls})
    yield service
    service.close()


@pytest.mark.parametrize("search", ["%", "_", "a_b", "a%b", "\\", "'", "' OR 1=1 --", "%' OR '1'='1",
                                    "x; DROP TABLE model_metadata; --", "Pct%", "Under_", "\\slash", "RF",
                                    "[a-z]", "*", "\u212a"])
def test_search_metacharacters_match_literally(searchable, search):
    got = {(r["model_id"], r["version"]) for r in searchable.list_models(search=search)}
    assert got == _expected(search)
    assert searchable.registry.count() == len(_ROWS)


@settings(max_examples=300, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(search=hostile.search_texts())
def test_generated_search_text_is_harmless_and_literal(searchable, search):
    FIGURES["searches_tried"] += 1
    try:
        rows = searchable.list_models(search=search)
    except InvalidInputError:
        assert any(unicodedata.category(c) in ("Cc", "Cs") for c in search) or len(search) > 200, search
        return
    got = {(r["model_id"], r["version"]) for r in rows}
    FIGURES["search_mismatches"] += int(got != (_expected(search) if search else got))
    if search:
        assert got == _expected(search), search
    assert searchable.registry.count() == len(_ROWS)
