"""Copy a registry to the team setup: every version, its history and its files.

This is what ``modelservice migrate`` runs::

    modelservice migrate --to postgresql://db-host/models [--copy-files s3://bucket/models]

The command opens the local registry (``./models`` or ``--models-directory``)
as the source, a ``ModelService(db_type="postgresql", db_url=<--to>,
models_directory=<--copy-files>)`` as the target, calls
:func:`migrate_registry` and prints its report; it exits non-zero when the
report lists conflicts or failures. Without ``--copy-files`` only the rows
are copied and the target is expected to reach the same files (``copy_files=False``).

Guarantees
----------
* Nothing is lost: every column of every version is copied with its version
  number, and its status history keeps its original actors and times (plus
  one ``imported`` event saying where it came from). Events of versions
  deleted from the source are copied too.
* Files are verified on both sides: the source bytes against the source's
  sha256 before copying, the target's bytes (read back) after publishing.
  A version whose source file is missing or damaged is reported, not copied.
* Safe to re-run: a version already in the target with the same sha256 (or,
  without a file, the same training date) is skipped; an interrupted copy
  (target row still ``pending``) is finished, with the source's current file
  when the source changed meanwhile (its row was repaired or saved again: a
  pending copy was never vouched for, so nothing is lost); a different version
  under the same ``model_id:version`` is reported as a conflict and never overwritten.
* A version whose save is unfinished in the source (its row ``pending``) is
  not copied: it is reported, to be copied by a re-run once the save has
  finished or ``modelservice verify --repair`` has settled it.

Either side may keep its model files in its registry database
(``models_directory="db://"``, ``--copy-files db://``): the bytes are then
read from, or stored into, that database, a target version is marked ready
in the transaction that stores its bytes (after reading them back), and a
file over the target's size limit is reported before its row is copied.
Without ``--copy-files`` the command copies a ``db://`` registry's files into
the target database: another database cannot reach them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from .exceptions import (
    ArtifactError,
    ArtifactIntegrityError,
    InvalidInputError,
    ModelNotFoundError,
    ModelTooLargeError,
)
from .ids import ModelRef, ModelVersion
from .redaction import redact_url, scrub_secrets
from .registry.database import COLUMNS
from .registry.engine import actor, utcnow

__all__ = ["migrate_registry"]

ProgressCallback = Callable[[int, int], None]


def migrate_registry(source: Any, target: Any, *, copy_files: bool = True,
                     progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Copy every version of ``source``'s registry (rows, history, files) into ``target``.

    Parameters
    ----------
    source, target : ModelService
        Typically a local SQLite registry and the team's PostgreSQL registry
        (with a local or remote ``models_directory``).
    copy_files : bool, default True
        Copy model files and write their JSON sidecars into ``target.store``.
        With False only rows are copied; files already present in the target
        store are still checked against their sha256.
    progress : callable, optional
        ``progress(done, total)`` after each version.

    Returns
    -------
    dict
        ``source``, ``target`` (URLs), ``versions`` (how many the source
        holds), lists of ``"id:version"`` refs: ``copied``, ``skipped`` (already
        there, identical), ``resumed`` (an interrupted copy finished),
        ``missing_files`` (row copied, file not in the target store; only with
        ``copy_files=False``), lists of ``{"ref", "reason"}``: ``conflicts``,
        ``failed``; counters ``files_copied``, ``bytes_copied``,
        ``events_copied``; and ``ok`` (no conflict, no failure).

    Examples
    --------
    >>> local = ModelService(models_directory="models")                  # doctest: +SKIP
    >>> team = ModelService("postgresql", "s3://ml/models",
    ...                     db_url="postgresql://db/models")              # doctest: +SKIP
    >>> report = migrate_registry(local, team)                            # doctest: +SKIP
    >>> report["ok"], len(report["copied"])                                # doctest: +SKIP
    (True, 42)
    """
    if source.registry.engine.url == target.registry.engine.url:
        raise InvalidInputError("Source and target are the same registry database; nothing to migrate.")
    run = _Migration(source, target, copy_files)
    rows = sorted(source.registry.list(order_by="model_id"), key=lambda r: (r["model_id"], r["version"]))
    history: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for event in source.registry.events():
        history[(event["model_id"], event["version"])].append(event)
    for done, row in enumerate(rows, 1):
        run.version(row, history.pop((row["model_id"], row["version"]), []))
        if progress is not None:
            progress(done, len(rows))
    orphans: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (model_id, _version), events in history.items():  # versions deleted from the source
        orphans[model_id].extend(events)
    for model_id, events in sorted(orphans.items()):
        run.report["events_copied"] += target.registry.import_events(model_id, events)
    run.report["versions"] = len(rows)
    run.report["ok"] = not run.report["conflicts"] and not run.report["failed"]
    return run.report


class _Migration:
    """The state of one `migrate_registry` call."""

    def __init__(self, source: Any, target: Any, copy_files: bool) -> None:
        self.source = source
        self.target = target
        self.copy_files = copy_files
        self.urls = (source.registry.engine.url, target.registry.engine.url)
        self.origin = redact_url(source.registry.engine.url)  # shown and stored: never a secret
        self.report: dict[str, Any] = {
            "source": self.origin,
            "target": redact_url(target.registry.engine.url),
            "versions": 0, "copied": [], "skipped": [], "resumed": [], "missing_files": [],
            "conflicts": [], "failed": [], "files_copied": 0, "bytes_copied": 0,
            "events_copied": 0, "ok": False,
        }

    def version(self, row: dict[str, Any], events: list[dict[str, Any]]) -> None:
        ref = f"{row['model_id']}:{row['version']}"
        try:
            if row["artifact_state"] == "pending":
                raise _Failed("its save is unfinished in the source (the row is pending): let the save finish "
                              "or run `modelservice verify --repair` on the source, then re-run")
            existing = self._target_row(row)
            if existing is not None:
                self._compare(ref, row, existing)
            elif not self._insert(ref, row, events):
                # Someone registered this version meanwhile: judge it like any existing row.
                again = self._target_row(row)
                if again is None:
                    raise _Failed("the target registered this version and deleted it again meanwhile; "
                                  "re-run to copy it")
                self._compare(ref, row, again)
        except _Failed as failure:
            self.report["failed"].append({"ref": ref, "reason": scrub_secrets(str(failure), *self.urls)})
        except OSError as err:  # the store failed (network, permissions): report and go on
            self.report["failed"].append(
                {"ref": ref, "reason": scrub_secrets(f"{type(err).__name__}: {err}; re-run to retry", *self.urls)}
            )

    def _target_row(self, row: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self.target.registry.get(row["model_id"], row["version"])
        except ModelNotFoundError:
            return None

    def _compare(self, ref: str, row: dict[str, Any], existing: dict[str, Any]) -> None:
        if row["file_sha256"] or existing["file_sha256"]:
            same = row["file_sha256"] == existing["file_sha256"]
            what = f"sha256 {existing['file_sha256']} in the target, {row['file_sha256']} in the source"
        else:
            same = row["training_date"] == existing["training_date"]
            what = (f"trained {existing['training_date']} in the target, "
                    f"{row['training_date']} in the source")
        if not same and self._own_unfinished_copy(existing):
            self._replace(ref, row)
        elif not same:
            self.report["conflicts"].append(
                {"ref": ref, "reason": f"the target already has a different {ref} ({what}); left as it is"}
            )
        elif existing["artifact_state"] == "pending" and self.copy_files:
            self._copy_file(ref, row)
            self.report["resumed"].append(ref)
        else:
            self.report["skipped"].append(ref)

    def _own_unfinished_copy(self, existing: dict[str, Any]) -> bool:
        """Whether ``existing`` is a copy this source started and never finished (still pending)."""
        if existing["artifact_state"] != "pending":
            return False
        imported = self.target.registry.events(existing["model_id"], existing["version"], kinds=["imported"])
        return any((e["details"] or {}).get("from") == self.origin for e in imported)

    def _replace(self, ref: str, row: dict[str, Any]) -> None:
        """Give an unfinished copy the source's current row (and file), as a first copy would."""
        values, data = self._prepared(ref, row)
        registry = self.target.registry
        with registry.atomic():
            if registry.lock_row(row["model_id"], row["version"], expect={"artifact_state": "pending"}) is None:
                raise _Failed("the target's copy changed meanwhile; re-run to compare again")
            registry.set_values(row["model_id"], row["version"],
                                {k: v for k, v in values.items() if k not in ("model_id", "version", "status")})
            registry.set_status(row["model_id"], row["version"], row["status"], {"from": self.origin})
            registry.record_event(row["model_id"], row["version"], "imported",
                                  {"from": self.origin, "replaced_unfinished_copy": True})
        if data is not None:
            self._copy_file(ref, row, data)
        self.report["resumed"].append(ref)

    def _prepared(self, ref: str, row: dict[str, Any]) -> tuple[dict[str, Any], bytes | None]:
        """The row's columns as the target first stores them, and the source bytes to copy there.

        A file is read (and checked) in the source either way; copied, its row is
        stored ``pending`` until the file is in place. Without copying, the
        bytes are None and a file the target store lacks is reported.
        """
        values = {k: row[k] for k in COLUMNS}
        if not row["file_path"]:
            return values, None
        data = self._source_bytes(ref, row)
        if self.copy_files:
            self._check_size(row, len(data))
            values["artifact_state"] = "pending"
            return values, data
        if not self._target_has(ref, row):
            self.report["missing_files"].append(ref)
        return values, None

    def _insert(self, ref: str, row: dict[str, Any], events: list[dict[str, Any]]) -> bool:
        values, data = self._prepared(ref, row)
        imported = {"model_id": row["model_id"], "version": row["version"], "event": "imported",
                    "from_status": None, "to_status": row["status"], "actor": actor(),
                    "at": utcnow(), "details": {"from": self.origin}}
        if not self.target.registry.import_version(values, [*events, imported]):
            return False
        self.report["events_copied"] += len(events) + 1
        if data is not None:
            self._copy_file(ref, values, data)
        self.report["copied"].append(ref)
        return True

    def _source_bytes(self, ref: str, row: dict[str, Any]) -> bytes:
        try:
            return self.source.files.read_bytes(ModelRef(row["model_id"], row["version"]), row)
        except ArtifactIntegrityError as err:
            raise _Failed(f"the source file {row['file_path']} does not match its sha256: {err} "
                          "Not copied.") from err
        except ArtifactError as err:
            raise _Failed(f"{err} Not copied; re-run once it is fixed.") from err

    def _check_size(self, row: dict[str, Any], nbytes: int) -> None:
        """A target store with a size limit (the database store) refuses a file before its row is copied."""
        check = getattr(self.target.store, "check_size", None)
        if check is None:
            return
        try:
            check(row["file_path"], nbytes)
        except ModelTooLargeError as err:
            raise _Failed(f"{err} Not copied.") from err

    def _target_has(self, ref: str, row: dict[str, Any]) -> bool:
        if not self.target.store.exists(row["file_path"]):
            return False
        found = hashlib.sha256(self.target.store.read_bytes(row["file_path"])).hexdigest()
        if found != row["file_sha256"]:
            raise _Failed(f"the target store's {row['file_path']} has sha256 {found}, not "
                          f"{row['file_sha256']}; not copied")
        return True

    def _copy_file(self, ref: str, row: dict[str, Any], data: bytes | None = None) -> None:
        """Publish the file in the target, verify it there, then mark the row ready."""
        if data is None:
            data = self._source_bytes(ref, row)
        store = self.target.store
        staged = store.stage(row["file_path"], lambda fh: fh.write(data))
        if staged.sha256 != row["file_sha256"]:  # pragma: no cover - the bytes were just verified
            store.discard(staged)
            raise _Failed(f"writing {row['file_path']} to the target changed its bytes")
        def ready() -> None:  # the row as copied, now with its file in place (and the digests loads check)
            self.target.registry.set_file(row["model_id"], row["version"],
                                          {"artifact_state": "ready", **staged.load_digests})

        # read back before the row is marked ready; a database store does both in one transaction
        try:
            published = self.target.files.publish(ModelVersion.of(row), staged, read_back=True, ready=ready)
        except ArtifactIntegrityError as err:
            raise _Failed(f"the target's copy: {err}; its row stays pending, re-run to retry") from err
        except BaseException:
            store.discard(staged)
            raise
        if published is None:
            with self.target.files.atomic():  # and its sidecar
                ready()
        self.report["files_copied"] += 1
        self.report["bytes_copied"] += len(data)


class _Failed(Exception):
    """One version could not be copied; the reason goes into the report."""

