"""What the registry's own history says about files: which ones it wrote and which deletes it recorded.

Maintenance deletes a file only on the word of this registry's database: the
file must be one this registry wrote (same path, same sha256 as recorded in its
events). A file that another registry (or a person) put under the same prefix
is never "replaced" or "left over" here, whatever its name.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ArtifactError
from ..model_files import SAVE_STARTED
from .files import file_digest, read_sidecar_file

__all__ = ["FileHistory", "file_history"]

_KINDS = (SAVE_STARTED, "resave", "file_removed", "deleted")
_Key = tuple[str, int]


@dataclass
class FileHistory:
    """Per ``(model_id, version)``: the files (path → sha256s) this registry wrote, and deletions."""

    written: dict[_Key, dict[str, set[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    deleted: set[_Key] = field(default_factory=set)

    def was_deleted(self, model_id: str, version: int) -> bool:
        """Whether ``model_id:version`` was deleted (its number is never given out again)."""
        return (model_id, version) in self.deleted

    def wrote(self, store: Any, model_id: str, version: int, relpath: str) -> bool:
        """Whether the file at ``relpath`` is one this registry wrote for ``model_id:version``
        (its content hashes to a recorded sha256)."""
        digests = self.written.get((model_id, version), {}).get(relpath)
        if not digests:
            return False
        try:
            return file_digest(store, relpath)[0].sha256 in digests
        except (ArtifactError, OSError):
            return False

    def left_by_delete(self, store: Any, entry: Any) -> bool:
        """Whether ``entry`` (a `StoreFile` no row points at) is a file or sidecar this registry
        wrote for a version it has since deleted: an interrupted delete left it behind."""
        model_id, version = entry.model_id, entry.version
        if model_id is None or version is None or not self.was_deleted(model_id, version):
            return False
        if entry.kind == "sidecar":
            return self.wrote_sidecar(store, model_id, version, entry.relpath)
        return entry.kind == "model" and self.wrote(store, model_id, version, entry.relpath)

    def wrote_sidecar(self, store: Any, model_id: str, version: int, relpath: str) -> bool:
        """Whether the sidecar at ``relpath`` describes a file this registry wrote for that version."""
        try:
            data = read_sidecar_file(store, relpath)
        except (ArtifactError, OSError):
            return False
        recorded = self.written.get((model_id, version), {})
        return any(data.get("file_sha256") in digests for digests in recorded.values())


def file_history(registry: Any) -> FileHistory:
    """The file events of every version, read in one query."""
    history = FileHistory()
    for event in registry.events(kinds=_KINDS):
        key = (event["model_id"], event["version"])
        details = event.get("details") if isinstance(event.get("details"), dict) else {}
        if event["event"] == "deleted":
            history.deleted.add(key)
        if event["event"] == "resave" and isinstance(details.get("previous"), dict):
            details = {"path": details["previous"].get("file_path"),
                       "sha256": details["previous"].get("file_sha256")}
        path, digest = details.get("path", details.get("file_path")), details.get("sha256", details.get("file_sha256"))
        if isinstance(path, str) and isinstance(digest, str):
            history.written[key][path].add(digest)
    return history
