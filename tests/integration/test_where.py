"""The where language gives the same rows on SQLite and PostgreSQL as a plain Python filter of them."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_modelservice import ModelService
from jupyter_modelservice.registry import Registry
from jupyter_modelservice.registry.where import QueryError, looks_like_query

TEXT = ["model_id", "model_class", "status"]
NUMBER = ["version", "train_score", "validation_score", "training_samples"]
WORDS = ["rf", "Rx", "lr", "svc", "Pipeline", "SVC", "saved", "production", "vision", "a b", "é", ""]
ROWS = [
    {"model_id": "rf", "model_class": "RandomForestClassifier", "status": "production", "train_score": 1.0,
     "validation_score": 0.95, "training_samples": 400, "tags": {"team": "vision", "n": 3, "ok": True},
     "metrics": {"accuracy": 0.94, "roc_auc": 0.99}},
    {"model_id": "rf", "model_class": "RandomForestClassifier", "status": "saved", "train_score": 0.99,
     "validation_score": None, "training_samples": 100, "tags": {"team": "nlp", "n": 3.5},
     "metrics": {"accuracy": 0.9}},
    {"model_id": "Rx", "model_class": "SVC", "status": "trained", "train_score": 0.5,
     "validation_score": 0.5, "training_samples": None, "tags": {"team": 7, "ok": False}, "metrics": None},
    {"model_id": "lr", "model_class": "Pipeline", "status": "archived", "train_score": None,
     "validation_score": 0.7, "training_samples": 50, "tags": {"n": "3", "team": None},
     "metrics": {"accuracy": None, "roc_auc": 0.5}},
    {"model_id": "svc", "model_class": "SVC", "status": "saved", "train_score": 0.8,
     "validation_score": 0.85, "training_samples": 60, "tags": None, "metrics": {"accuracy": 0.85}},
    {"model_id": "é", "model_class": "a b", "status": "production", "train_score": 0.0,
     "validation_score": 0.0, "training_samples": 0, "tags": {"team": "Vision", "ok": True},
     "metrics": {"roc_auc": 0.7}},
]
FIELDS = TEXT + NUMBER + ["tags.team", "tags.n", "tags.ok", "tags.missing", "metrics.accuracy",
                          "metrics.roc_auc"]


def _value(row, field):
    if "." in field:
        base, key = field.split(".")
        return (row.get(base) or {}).get(key)
    return row.get(field)


def _typed(value, literal):
    kind = bool if isinstance(literal, bool) else str if isinstance(literal, str) else float
    if kind is bool:
        return value if isinstance(value, bool) else None
    if kind is str:
        return value if isinstance(value, str) else None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _cmp(row, field, op, literal):
    """Kleene (SQL) semantics: None is unknown."""
    value = _value(row, field)
    if literal is None:
        return (value is None) if op == "==" else (value is not None)
    if op in ("in", "not in"):
        typed = _typed(value, literal[0])
        if typed is None:
            return None
        return (typed in literal) if op == "in" else (typed not in literal)
    typed = _typed(value, literal)
    if typed is None:
        return None
    return {"==": typed == literal, "!=": typed != literal, "<": typed < literal, "<=": typed <= literal,
            ">": typed > literal, ">=": typed >= literal}[op]


def _and(a, b):
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a, b):
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


@st.composite
def comparisons(draw):
    field = draw(st.sampled_from(FIELDS))
    if field in TEXT:
        kinds = ["text"]
    elif field in NUMBER:
        kinds = ["number"]
    else:
        kinds = ["text", "number", "bool"] if field.startswith("tags") else ["number"]
    kind = draw(st.sampled_from(kinds + ["none"]))
    if kind == "none":
        op = draw(st.sampled_from(["==", "!="]))
        return f"{field} {op} None", (field, op, None)
    if kind == "bool":
        op, literal = draw(st.sampled_from(["==", "!="])), draw(st.booleans())
        return f"{field} {op} {literal}", (field, op, literal)
    literal_st = st.sampled_from(WORDS) if kind == "text" else st.sampled_from([0, 0.5, 0.7, 0.85, 0.95, 1, 3, 50, 100.0, -1])
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]))
    if op in ("in", "not in"):
        values = tuple(draw(st.lists(literal_st, min_size=1, max_size=3)))
        return f"{field} {op} {values!r}", (field, op, values)
    literal = draw(literal_st)
    return f"{field} {op} {literal!r}", (field, op, literal)


@st.composite
def expressions(draw, depth=0):
    if depth >= 3 or draw(st.booleans()):
        text, spec = draw(comparisons())
        return text, lambda row: _cmp(row, *spec)
    kind = draw(st.sampled_from(["and", "or", "not"]))
    if kind == "not":
        text, f = draw(expressions(depth + 1))
        return f"not ({text})", lambda row: None if f(row) is None else not f(row)
    (ta, fa), (tb, fb) = draw(expressions(depth + 1)), draw(expressions(depth + 1))
    combine = _and if kind == "and" else _or
    return f"({ta}) {kind} ({tb})", lambda row: combine(fa(row), fb(row))


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    reg = Registry(url)
    for row in ROWS:
        reg.add_version({k: v for k, v in row.items() if k != "version"})
    yield reg
    reg.close()


def _key(row):
    return (row["model_id"], row["version"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expressions())
def test_where_equals_a_python_filter_of_the_same_rows(registry, expression):
    text, predicate = expression
    stored = registry.list(order_by="model_id")
    expected = sorted(_key(r) for r in stored if predicate(r) is True)
    assert sorted(_key(r) for r in registry.list(where=text)) == expected, text
    assert registry.count(where=text) == len(expected)


@pytest.mark.parametrize("text, where", [
    ("__import__('os').system('x')", "position 1"),
    ("validation_score >= threshold", "literal value"),
    ("model_id > 3", "holds text"),
    ("validation_score >= '0.9'", "holds number"),
    ("tags >= 1", "tags.NAME"),
    ("secret == 1", "unknown column 'secret'"),
    ("status == 'a' and", "Cannot read"),
    ("status in ()", "list of values"),
    ("validation_score < None", "None can only"),
    ("tags['a\"b'] == 1", "names may use"),
    ("(lambda: 1)() == 1", "column on one side"),
])
def test_anything_else_is_a_clear_error(registry, text, where):
    with pytest.raises(QueryError, match=where):
        registry.list(where=text)


def test_list_models_where_through_the_service(tmp_path):
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    with ModelService(models_directory=tmp_path / "m") as service:
        for depth in (1, 3):
            service.train_model(DecisionTreeClassifier, X, y, model_id=f"tree{depth}", max_depth=depth,
                                random_state=0)
        service.update_model_metadata("tree3", {"tags": {"team": "vision"}})
        rows = service.list_models(where="validation_score > 0.8 and tags.team == 'vision'")
        assert [r["model_id"] for r in rows] == ["tree3"]
    assert looks_like_query("score > 1") and not looks_like_query("forest")


@pytest.mark.parametrize("text, ids", [
    ("train_score in (0, 0.5)", ["Rx", "é"]),  # PostgreSQL types a list from its first value: 0.5 must stay 0.5
    ("train_score not in (1, 0.99)", ["Rx", "svc", "é"]),
    ("version in (1, 2.0)", ["Rx", "lr", "rf", "rf", "svc", "é"]),
])
def test_a_list_mixing_integers_and_decimals(registry, text, ids):
    assert sorted(r["model_id"] for r in registry.list(where=text)) == ids
