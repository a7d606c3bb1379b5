"""What a registry row may hold, and the statements that select rows and history.

Pure SQLAlchemy Core: these functions build statements (values as bound
parameters, columns only from the table) and check input; `Registry` runs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..exceptions import InvalidInputError
from ..statuses import STATUSES
from .engine import escape_like
from .schema import events, model_ids, model_metadata

__all__ = ["COLUMNS", "FILE_COLUMNS", "ID_MATCHES", "INDEXED_SEARCH", "SORTABLE", "STATUSES",
           "Search", "check_status", "class_matches", "clean", "count_query", "event_key", "events_query", "merged_tags",
           "rows_query", "search_pattern", "unindexed_condition"]

COLUMNS = tuple(c.name for c in model_metadata.columns)
#: The columns describing a version's model file (`Registry.set_file`).
FILE_COLUMNS = ("file_path", "file_format", "file_sha256", "file_bytes", "artifact_state", "file_blake3",
                "file_chunks")
#: Columns `Registry.list` may order by (no JSON, no digests).
SORTABLE = frozenset(
    ["model_id", "version", "model_class", "training_date", "train_score", "validation_score",
     "status", "training_samples", "feature_count", "fit_seconds", "file_bytes"]
)


def rows_query(*, status: str | None, model_id: str | None, search: Search | None, order_by: str,
               limit: int | None, offset: int, latest_only: bool, where: Any = None) -> sa.Select[Any]:
    """The rows matching every given filter, in ``order_by`` order (see `Registry.list`).

    ``where`` is a condition built by `where.parse_where`, ``search`` what a
    search matches (`Search`). With a ``limit`` the
    keys of the page are selected first and its rows read after: the keys
    come from an index that holds them (`schema.SORT_INDEXES`), so that rows
    are read for the page only, not for every row a filter rejects.
    """
    descending = order_by.startswith("-")
    column = order_by.lstrip("-")
    if column not in SORTABLE:
        raise InvalidInputError(
            f"Cannot order by {order_by!r}; use one of {sorted(SORTABLE)}, "
            "with a leading '-' for descending."
        )
    key_columns = [model_metadata.c.model_id, model_metadata.c.version]
    if column not in ("model_id", "version"):
        key_columns.append(model_metadata.c[column])
    query = sa.select(*key_columns) if limit is not None else sa.select(model_metadata)
    query = query.where(*_filters(status, model_id, search, where))
    if latest_only:
        # the id's latest version (whatever its status): one lookup in `model_ids` per row read,
        # so a page stops after its rows instead of grouping every id first
        query = query.where(sa.exists().where(model_ids.c.model_id == model_metadata.c.model_id,
                                              model_ids.c.latest_version == model_metadata.c.version))
    query = query.order_by(*_ordering(model_metadata.c, column, descending))
    if limit is None:
        return query.offset(int(offset)) if offset else query
    query = query.limit(int(limit))
    if offset:
        query = query.offset(int(offset))
    page = query.subquery("page")
    return (sa.select(model_metadata)
            .join(page, sa.and_(page.c.model_id == model_metadata.c.model_id,
                                page.c.version == model_metadata.c.version))
            .order_by(*_ordering(page.c, column, descending)))


def _ordering(columns: Any, column: str, descending: bool) -> list[Any]:
    """``column`` (descending or not), then id ↑ and version ↓: a total order."""
    key = columns[column]
    return [key.desc() if descending else key.asc(), columns.model_id.asc(), columns.version.desc()]


def count_query(*, status: str | None, model_id: str | None, search: Search | None,
                where: Any = None, limit: int | None = None) -> sa.Select[Any]:
    """How many rows match the filters of `rows_query`; with ``limit``, counted up to it."""
    conditions = _filters(status, model_id, search, where)
    if limit is None:
        return sa.select(sa.func.count()).select_from(model_metadata).where(*conditions)
    found = sa.select(sa.literal(1).label("one")).select_from(model_metadata).where(*conditions)
    return sa.select(sa.func.count()).select_from(found.limit(int(limit)).subquery())


def events_query(model_id: str | None, version: int | None, kinds: Iterable[str] | None) -> sa.Select[Any]:
    """History entries, oldest first; ``kinds`` keeps only those event names."""
    query = sa.select(events).order_by(events.c.event_id)
    if kinds is not None:
        query = query.where(events.c.event.in_(list(kinds)))
    if model_id is not None:
        query = query.where(events.c.model_id == model_id)
    if version is not None:
        query = query.where(events.c.version == version)
    return query


def _filters(status: str | None, model_id: str | None, search: Search | None, condition: Any = None) -> list[Any]:
    where: list[Any] = [] if condition is None else [condition]
    if status is not None:
        check_status(status)
        where.append(model_metadata.c.status == status)
    if model_id is not None:
        where.append(model_metadata.c.model_id == model_id)
    if search is not None:
        where.append(search.condition())
    return where


#: Up to this many versions, a search's versions are looked up by id and class (then sorted);
#: beyond it, they are tested in the order of the page (a page of 100 is found within a few
#: thousand rows), instead of looking them all up to sort them.
INDEXED_SEARCH = 5000


def search_pattern(text: str) -> str:
    """The ``LIKE`` pattern of a search: the text anywhere, its wildcards matched literally."""
    return "%" + escape_like(str(text)) + "%"


@dataclass(frozen=True)
class Search:
    """What a search matched when it was planned (`Registry` fills it), and how to read its versions.

    ``ids`` is how many ids contained the text (from `model_ids`), ``classes``
    the class names that did (from the class index). With ``walk``, so many
    versions match that they are tested as the page's index is read in order;
    else they are looked up by id and class and sorted.
    """

    pattern: str
    ids: int
    classes: tuple[str, ...]
    walk: bool

    def condition(self) -> Any:
        """The versions of the ids and classes that matched (false when nothing did). Read them in the
        transaction that planned the search (`Registry` does): one state of the registry."""
        parts = []
        if self.ids:
            ids = sa.select(model_ids.c.model_id).where(_contains(model_ids.c.model_id, self.pattern))
            parts.append(_tested(model_metadata.c.model_id, self.walk).in_(ids))
        if self.classes:
            parts.append(_tested(model_metadata.c.model_class, self.walk).in_(self.classes))
        return sa.or_(*parts) if parts else sa.false()


class _contains(FunctionElement[bool]):
    """``column LIKE pattern`` ignoring letter case (escape character ``\\``).

    ``ILIKE`` on PostgreSQL; on SQLite a plain ``LIKE``, which ignores the case of
    ASCII letters as ``lower()`` does (neither folds other letters), so that the
    test reads the column from an index that holds it, before the row is read.
    """

    type = sa.Boolean()
    name = "contains"
    inherit_cache = True


@compiles(_contains)
def _contains_ilike(element: _contains, compiler: Any, **kw: Any) -> str:
    column, pattern = (compiler.process(c, **kw) for c in element.clauses)
    return f"({column} ILIKE {pattern} ESCAPE '\\')"


@compiles(_contains, "sqlite")
def _contains_sqlite(element: _contains, compiler: Any, **kw: Any) -> str:
    column, pattern = (compiler.process(c, **kw) for c in element.clauses)
    return f"({column} LIKE {pattern} ESCAPE '\\')"


class _unindexed(FunctionElement[Any]):
    """``column || ''``: the column as an expression no index answers.

    A condition on it is tested on each row a query reads in its order, and
    never makes the planner look rows up by that column instead.
    """

    inherit_cache = True

    def __init__(self, column: Any) -> None:
        self.type = column.type
        super().__init__(column)


@compiles(_unindexed)
def _unindexed_sql(element: _unindexed, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    return f"({compiler.process(column, **kw)} || '')"


class unindexed_condition(FunctionElement[bool]):
    """``+(condition)`` on SQLite: the same test, which no index may answer, so that a page is read in
    its sort order and the condition tested on each row (see `Registry.list`)."""

    type = sa.Boolean()
    inherit_cache = True


@compiles(unindexed_condition)
def _unindexed_condition_sql(element: unindexed_condition, compiler: Any, **kw: Any) -> str:
    (condition,) = element.clauses
    return f"+({compiler.process(condition, **kw)})"


def _tested(column: Any, walk: bool) -> Any:
    return _unindexed(column) if walk else column


#: How many ids contain the search (``pattern``), and how many versions they have (`model_ids`).
ID_MATCHES = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(model_ids.c.versions), 0)).where(
    _contains(model_ids.c.model_id, sa.bindparam("pattern", type_=sa.String())))


def class_matches() -> sa.Select[Any]:
    """The class names containing the search (``pattern``), from every class name of the registry
    found with one index lookup each (a loose scan of the class index). Built per call (a few
    microseconds; SQLAlchemy caches its compiled form)."""
    names = sa.select(sa.func.min(model_metadata.c.model_class).label("name")).cte("class_names", recursive=True)
    following = sa.select(sa.select(sa.func.min(model_metadata.c.model_class))
                          .where(model_metadata.c.model_class > names.c.name).scalar_subquery())
    names = names.union_all(following.where(names.c.name.is_not(None)))
    return sa.select(names.c.name).where(names.c.name.is_not(None),
                                         _contains(names.c.name, sa.bindparam("pattern", type_=sa.String())))


def merged_tags(stored: Any, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``stored`` tags with ``changes`` applied (a value of None removes that tag)."""
    tags = dict(stored) if isinstance(stored, dict) else {}
    for key, value in changes.items():
        if value is None:
            tags.pop(str(key), None)
        else:
            tags[str(key)] = value
    return tags


def event_key(event: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two history entries the same entry (for importing history twice)."""
    return tuple(event.get(k) for k in ("version", "event", "from_status", "to_status", "actor", "at"))


def clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as a dict, refused when a key is not a column or the status is unknown."""
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise InvalidInputError(f"Unknown registry column(s) {sorted(unknown)}.")
    if values.get("status") is not None:
        check_status(values["status"])
    return dict(values)


def check_status(status: Any) -> None:
    """`InvalidInputError` unless ``status`` is one of `STATUSES`."""
    if status not in STATUSES:
        raise InvalidInputError(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.")
