"""The registry views and edits of `ModelService`: listing, metadata, tags and status,
archiving and deleting versions.

A mixin of `ModelService` (like `service_lifecycle.Lifecycle`): it uses the
service's registry, model files and lookups, and holds no state of its own.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .exceptions import IncompleteDeleteWarning, InvalidInputError, ModelServiceWarning
from .ids import ModelVersion, parse_ref, validate_model_id, validate_search
from .model_files import ModelFiles
from .registry import Registry

__all__ = ["Catalog"]

#: The columns `update_model_metadata` may change.
_UPDATABLE = ("status", "tags")


class Catalog:
    """The registry methods of `ModelService` (see the module docstring)."""

    registry: Registry
    files: ModelFiles
    _unsaved: dict[ModelVersion, Any]
    _trained: dict[str, int]

    if TYPE_CHECKING:
        @property
        def current_ref(self) -> str | None: ...

        def _lookup(self, model_id: Any, version: Any = None) -> tuple[ModelVersion, dict[str, Any]]: ...
        def _refresh(self, row: Any) -> dict[str, Any]: ...
        def _set_current(self, estimator: Any, row: dict[str, Any]) -> None: ...

    def list_models(
        self,
        status: str | None = None,
        model_id: str | None = None,
        search: str | None = None,
        order_by: str = "-training_date",
        limit: int | None = None,
        *,
        offset: int = 0,
        latest_only: bool = False,
        where: str | None = None,
        as_of: Any = None,
    ) -> list[dict[str, Any]]:
        """Registry rows (one per version) as dicts, newest first by default.

        ``status`` is one of ``trained``, ``saved``, ``production``,
        ``archived``; ``search`` matches id or class name as plain text;
        ``order_by`` is a column, ``-`` prefixed for descending. ``where`` is
        an expression of the registry's query language, e.g.
        ``"validation_score >= 0.9 and (status == 'production' or tags.team == 'vision')"``:
        columns, ``tags.NAME``, ``metrics.NAME`` (latest evaluation), comparisons,
        ``in``, ``and``/``or``/``not``; never evaluated as Python (`QueryError`
        names the position of anything else). ``as_of`` (a datetime, a date or
        ISO text) shows the versions that existed then, with the status they had
        (replayed from the history); ``status`` then filters those statuses.
        """
        if model_id is not None:
            model_id = validate_model_id(model_id)
        search = validate_search(search)
        if as_of is None:
            rows = self.registry.list(status=status, model_id=model_id, search=search,
                                      order_by=order_by, limit=limit, offset=offset,
                                      latest_only=latest_only, where=where)
        else:
            from . import lifecycle

            kinds = ("registered", "restored", "imported", "status", "deleted")
            rows = lifecycle.as_of(self.registry.list(model_id=model_id, search=search, order_by=order_by,
                                                      latest_only=latest_only, where=where),
                                   self.registry.events(model_id, kinds=kinds), as_of)
            rows = [r for r in rows if status is None or r["status"] == status]
            rows = rows[offset:None if limit is None else offset + limit]
        return [self.files.public(row) for row in rows]

    def get_model_metadata(self, model_id: str, version: int | None = None) -> dict[str, Any]:
        """The registry row of ``"id"`` (latest), ``"id:3"`` or ``(id, version=3)``.

        ``file_path`` opens the model file from the caller's working directory
        (an absolute path, or a URL for an object store); ``relative_path`` is
        the path inside ``models_directory`` that the registry stores.
        """
        return self.files.public(self._lookup(model_id, version)[1])

    def update_model_metadata(self, model_id: str, updates: Mapping[str, Any],
                              version: int | None = None) -> dict[str, Any]:
        """Change ``status`` and/or ``tags`` of a version; returns the updated row.

        Status changes are recorded in the history; promoting a version to
        ``production`` demotes the id's previous production version. ``tags``
        are merged (a value of None removes a tag).
        """
        unknown = set(updates) - set(_UPDATABLE)
        if unknown:
            raise InvalidInputError(
                f"Cannot update {sorted(unknown)}; only {', '.join(_UPDATABLE)} can be changed "
                "(scores and parameters belong to the training run)."
            )
        ref, row = self._lookup(model_id, version)
        if "status" in updates:
            status = updates["status"]  # checked by the registry
            if status in ("saved", "production") and not row["file_path"]:
                warnings.warn(
                    f"{ref} is marked {status!r} but has no saved file; call save_model({str(ref)!r}) "
                    "or it is lost when this session ends.",
                    ModelServiceWarning,
                    stacklevel=2,
                )
        merge = _tag_changes(updates["tags"]) if "tags" in updates else None
        with self.files.atomic():
            if "status" in updates:
                self.registry.set_status(*ref, updates["status"])  # the status is checked there
            if merge is not None:
                self.registry.merge_tags(*ref, merge)  # merged under the write lock
            row = self.registry.get(*ref)
        return self._refresh(row)

    _get_model_metadata = get_model_metadata
    _update_model_metadata = update_model_metadata

    def archive_model(self, model_id: str, version: int | None = None) -> int:
        """Set status ``archived``: every version of ``"id"``, or one of ``"id:3"``.

        Returns the number of versions archived. Files are kept.
        """
        refs = self._refs(model_id, version)
        for ref in refs:
            with self.files.atomic():
                self.registry.set_status(*ref, "archived")
                self._refresh(self.registry.get(*ref))
        return len(refs)

    def delete_model(self, model_id: str, version: int | None = None) -> int:
        """Delete every version of ``"id"`` (or one: ``"id:3"``) and its files.

        The rows go first, in one transaction that also records the files to
        remove, then the files: an interruption leaves at most files that
        ``modelservice gc`` (or ``verify --repair``) removes later, never a row
        without its file. A store failure after the rows are gone is an
        `IncompleteDeleteWarning`, not an error. Returns the number of versions deleted.
        """
        ref = parse_ref(model_id, version)
        rows = self.registry.delete(ref.model_id, ref.version)
        left: list[str] = []
        for row in rows:
            self._unsaved.pop(ModelVersion.of(row), None)
            if self._trained.get(row["model_id"]) == row["version"]:
                del self._trained[row["model_id"]]
            if self.current_ref == f"{row['model_id']}:{row['version']}":
                self._set_current(None, {})
            try:
                self.files.delete(row)
            except OSError as err:  # ArtifactError included: the delete is recorded, gc finishes it
                left.append(f"{row['model_id']}:{row['version']} ({err})")
        if left:
            warnings.warn(
                f"Deleted {len(rows)} version(s), but the files of {'; '.join(left)} could not be "
                "removed; `modelservice gc` (or `modelservice verify --repair`) removes them later.",
                IncompleteDeleteWarning,
                stacklevel=2,
            )
        return len(rows)

    def _refs(self, model_id: str, version: int | None) -> list[ModelVersion]:
        ref = parse_ref(model_id, version)
        if ref.version is not None:
            return [self._lookup(ref)[0]]
        rows = self.registry.list(model_id=ref.model_id, order_by="version")
        if not rows:
            self.registry.get(ref.model_id)  # raises ModelNotFoundError
        return [ModelVersion.of(r) for r in rows]


def _tag_changes(tags: Any) -> dict[str, Any]:
    """Tag changes checked: a mapping of names to JSON values (None removes the tag)."""
    if not isinstance(tags, Mapping):
        raise InvalidInputError(
            f"tags must be a dict of name → value, e.g. {{'team': 'vision'}}, not {type(tags).__name__}."
        )
    import json

    changes = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"Tag names must be non-empty strings; got {key!r}.")
        try:
            json.dumps(value, allow_nan=True)
        except (TypeError, ValueError) as err:
            raise InvalidInputError(
                f"The value of tag {key!r} cannot be stored ({err}); use text, numbers, booleans, "
                "lists or dicts of those."
            ) from err
        changes[key] = value
    return changes
