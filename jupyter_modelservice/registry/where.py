"""A small query language for registry rows, parsed with `ast` into SQLAlchemy expressions.

    validation_score >= 0.9 and (status == 'production' or tags.team == 'vision')
    model_class in ('RandomForestClassifier', 'SVC') and not metrics.roc_auc < 0.8

Columns are compared with literals (text, numbers, True/False, None): ``==``,
``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in``, ``not in``, chained comparisons,
``and`` / ``or`` / ``not`` and parentheses. ``tags.NAME`` is a tag's value and
``metrics.NAME`` a metric of the version's latest evaluation. Nothing is ever
evaluated as Python: anything else is a `QueryError` naming the position.

Comparisons follow SQL: a missing value (NULL, an absent tag, a tag of another
type than the literal) makes a comparison unknown, and ``not unknown`` is
unknown too, so such rows are not returned either way; ``x == None`` and
``x != None`` test for a missing value. Results are the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import sqlalchemy as sa

from ..exceptions import QueryError
from .schema import model_metadata

__all__ = ["QUERY_COLUMNS", "QueryError", "looks_like_query", "parse_where"]

#: Columns a query may name, by the kind of literal they are compared with.
QUERY_COLUMNS: dict[str, str] = {
    **dict.fromkeys(("model_id", "model_class", "model_module", "task_type", "scoring", "training_date",
                     "status", "file_format", "file_sha256", "artifact_state", "data_fingerprint",
                     "parent", "trust"), "text"),
    **dict.fromkeys(("version", "training_samples", "validation_samples", "feature_count", "train_score",
                     "validation_score", "file_bytes", "fit_seconds"), "number"),
}
_JSON_COLUMNS = ("tags", "metrics")
_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
        ast.In: "in", ast.NotIn: "not in"}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_MAX_LENGTH = 2000
_MAX_DEPTH = 50
_QUERY_HINT = re.compile(r"==|!=|<|>|\bin\b|\band\b|\bor\b|\bnot\b")


def looks_like_query(text: str) -> bool:
    """Whether search-box text is meant as an expression (it has an operator), not plain text."""
    return bool(_QUERY_HINT.search(text))


def parse_where(text: str, dialect: str) -> Any:
    """The SQLAlchemy condition for ``text`` on ``dialect`` (``"sqlite"`` or ``"postgresql"``)."""
    if not isinstance(text, str) or not text.strip():
        raise QueryError("The where expression is empty; write e.g. \"validation_score >= 0.9\".")
    if len(text) > _MAX_LENGTH:
        raise QueryError(f"The where expression is {len(text)} characters long; at most {_MAX_LENGTH}.")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise QueryError(f"Cannot read the where expression at position {err.offset or 0}: {err.msg}. "
                         "Write comparisons joined by and / or, e.g. \"status == 'production'\".") from err
    return _Compiler(text.strip(), dialect).condition(tree.body, 0)


class _Compiler:
    def __init__(self, text: str, dialect: str) -> None:
        self.text = text
        self.dialect = dialect

    def error(self, node: ast.AST, message: str) -> QueryError:
        position = getattr(node, "col_offset", 0) + 1
        fragment = ast.get_source_segment(self.text, node) or ""
        return QueryError(f"At position {position} ({fragment!r}) of the where expression: {message}")

    def condition(self, node: ast.AST, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise self.error(node, f"nested more than {_MAX_DEPTH} levels deep.")
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(value, depth + 1) for value in node.values]
            return sa.and_(*parts) if isinstance(node.op, ast.And) else sa.or_(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return sa.not_(self.condition(node.operand, depth + 1))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        raise self.error(node, "expected a comparison such as validation_score >= 0.9, joined with "
                               "and / or / not.")

    def compare(self, node: ast.Compare) -> Any:
        parts, left = [], node.left
        for op, right in zip(node.ops, node.comparators):
            name = _OPS.get(type(op))
            if name is None:
                raise self.error(node, f"{type(op).__name__} is not a comparison of the query language; "
                                       "use ==, !=, <, <=, >, >=, in or not in.")
            parts.append(self.pair(left, name, right))
            left = right
        return parts[0] if len(parts) == 1 else sa.and_(*parts)

    def pair(self, left: ast.expr, op: str, right: ast.expr) -> Any:
        if self.is_field(left):
            field, literal = left, right
        elif self.is_field(right) and op not in ("in", "not in"):
            field, literal, op = right, left, _FLIP[op]
        else:
            raise self.error(left, "a comparison needs a column on one side (e.g. status, tags.team, "
                                   f"metrics.accuracy); columns are {', '.join(QUERY_COLUMNS)}.")
        if op in ("in", "not in"):
            if not isinstance(literal, (ast.Tuple, ast.List, ast.Set)) or not literal.elts:
                raise self.error(literal, f"'{op}' takes a list of values, e.g. ('saved', 'production').")
            values = [self.literal(v) for v in literal.elts]
            if any(v is None for v in values):
                raise self.error(literal, "None cannot be in a list; use x == None.")
            kinds = {_kind_of(v) for v in values}
            if len(kinds) > 1:
                raise self.error(literal, "the values of a list must be all text or all numbers.")
            kind = kinds.pop()
            if kind == "boolean":
                values = ["true" if v else "false" for v in values]  # read as its text, as with ==
            if kind == "number" and any(isinstance(v, float) for v in values):
                values = [float(v) for v in values]  # PostgreSQL types a list from its first value
            column = self.column(field, kind)
            return column.not_in(values) if op == "not in" else column.in_(values)  # NULL stays unknown
        value = self.literal(literal)
        if value is None:
            if op not in ("==", "!="):
                raise self.error(literal, "None can only be compared with == or != (is it missing?).")
            column = self.raw_column(field)
            return column.is_(None) if op == "==" else column.is_not(None)
        column = self.column(field, _kind_of(value))
        if isinstance(value, bool):
            if op not in ("==", "!="):
                raise self.error(literal, "True and False can only be compared with == or !=.")
            value = "true" if value else "false"  # a JSON boolean is read as its text on both databases
        return {"==": column == value, "!=": column != value, "<": column < value, "<=": column <= value,
                ">": column > value, ">=": column >= value}[op]

    @staticmethod
    def is_field(node: ast.expr) -> bool:
        return isinstance(node, ast.Name) or (
            isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)) or (
            isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name))

    def literal(self, node: ast.expr) -> Any:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            value = node.operand.value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return -value
        if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (str, int, float))):
            value = node.value
            if isinstance(value, float) and value != value:  # noqa: PLR0124 - NaN
                raise self.error(node, "NaN cannot be compared with; use x == None for a missing value.")
            return value
        raise self.error(node, "expected a literal value: 'text' in quotes, a number, True, False or None "
                               "(names of notebook variables are not looked up).")

    def field_parts(self, node: ast.expr) -> tuple[str, str | None]:
        if isinstance(node, ast.Name):
            if node.id in QUERY_COLUMNS:
                return node.id, None
            if node.id in _JSON_COLUMNS:
                raise self.error(node, f"name one entry: {node.id}.NAME.")
            raise self.error(node, f"unknown column {node.id!r}; use one of {', '.join(QUERY_COLUMNS)}, "
                                   "tags.NAME or metrics.NAME.")
        owner = node.value if isinstance(node, (ast.Attribute, ast.Subscript)) else None
        base = owner.id if isinstance(owner, ast.Name) else ""
        if base not in _JSON_COLUMNS:
            raise self.error(node, f"only tags.NAME and metrics.NAME have entries, not {base}.")
        if isinstance(node, ast.Attribute):
            key = node.attr
        else:
            key_node = node.slice if isinstance(node, ast.Subscript) else None
            if not (isinstance(key_node, ast.Constant) and isinstance(key_node.value, str)):
                raise self.error(node, f"write {base}['name'] with the name in quotes.")
            key = key_node.value
        if not _KEY.fullmatch(key):
            raise self.error(node, f"{base} names may use letters, digits, '_', '.' and '-'.")
        return base, key

    def raw_column(self, node: ast.expr) -> Any:
        base, key = self.field_parts(node)
        if key is None:
            return model_metadata.c[base]
        return self.json_value(base, key, "any")

    def column(self, node: ast.expr, kind: str) -> Any:
        base, key = self.field_parts(node)
        if key is None:
            expected = QUERY_COLUMNS[base]
            if kind == "boolean" or expected != kind:
                raise self.error(node, f"{base} holds {expected}; compare it with "
                                       + ("a number." if expected == "number" else "text in quotes."))
            return self.ordered(model_metadata.c[base], kind)
        return self.ordered(self.json_value(base, key, kind), kind)

    def ordered(self, column: Any, kind: str) -> Any:
        """Text compared by code point on both databases (PostgreSQL would use its locale)."""
        return column.collate("C") if kind == "text" and self.dialect == "postgresql" else column

    def json_value(self, base: str, key: str, kind: str) -> Any:
        """The entry ``key`` of a JSON column when it is of ``kind``, else NULL (same on both databases)."""
        column = model_metadata.c[base]
        typed: dict[str, tuple[Any, Any]]
        json_type: Any
        if self.dialect == "postgresql":
            entry = column.op("->")(sa.literal(key, sa.String))
            text = column.op("->>")(sa.literal(key, sa.String))
            json_type = sa.func.json_typeof(entry)
            typed = {"number": ("number", sa.cast(text, sa.Float)), "text": ("string", text),
                     "boolean": ("boolean", text)}
        else:
            path = f'$."{key}"'
            json_type = sa.func.json_type(column, path)
            extracted = sa.func.json_extract(column, path)
            typed = {"number": (("integer", "real"), extracted), "text": ("text", extracted),
                     "boolean": (("true", "false"), json_type)}
        if kind == "any":
            return sa.case((json_type.is_not(None) & (json_type != "null"), sa.literal(1)))
        wanted, value = typed[kind]
        test = json_type.in_(wanted) if isinstance(wanted, tuple) else json_type == wanted
        # typed as what it holds: a literal compared with it is bound as text or a number, never as JSON
        return sa.type_coerce(sa.case((test, value)), sa.Float if kind == "number" else sa.String)


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "text" if isinstance(value, str) else "number"
