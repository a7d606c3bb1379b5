"""The where language, pinned one behaviour per test: which rows an expression selects, and what it refuses.

The rows are written out below; each expected answer is read off them by hand.
Most tests run on a SQLite file; those of the PostgreSQL branch (JSON
operators, code-point order) run on both databases.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from jupyter_modelservice.exceptions import QueryError
from jupyter_modelservice.registry import Registry
from jupyter_modelservice.registry.where import looks_like_query, parse_where
from tests.integration.conftest import (  # noqa: F401 - fixtures used by name
    PG_ADMIN_URL,
    _libpq,
    _sqlalchemy,
    _with_database,
    pg_database,
    pg_url,
)

ROWS = [
    {"model_id": "a", "model_class": "Tree", "status": "saved", "validation_score": 0.9, "train_score": 1.0,
     "tags": {"team": "vision", "n": 3, "ok": True, "x.y": "dotted", "x": {"y": "nested"}},
     "metrics": {"accuracy": 0.8}},
    {"model_id": "b", "model_class": "Bx", "status": "trained", "validation_score": 0.5, "train_score": None,
     "tags": {"team": "nlp", "n": 3.0, "ok": False, "gone": None}, "metrics": {"accuracy": 0.6}},
    {"model_id": "c", "model_class": "ax", "status": "production", "validation_score": None, "train_score": 0.7,
     "tags": {"team": 7, "n": "3"}, "metrics": None},
]


def _fill(registry):
    for values in ROWS:
        registry.add_version(values)
    return registry


@pytest.fixture
def reg(tmp_path):
    registry = _fill(Registry(f"sqlite:///{tmp_path / 'registry.db'}"))
    yield registry
    registry.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def both(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    registry = _fill(Registry(url))
    yield registry
    registry.close()


def ids(registry, where):
    return sorted(r["model_id"] for r in registry.list(where=where))


# -- what an expression selects --------------------------------------------------------------------

@pytest.mark.parametrize("where, expected", [
    ("validation_score == 0.9", ["a"]),
    ("validation_score != 0.9", ["b"]),          # NULL is unknown either way
    ("validation_score < 0.9", ["b"]),
    ("validation_score <= 0.9", ["a", "b"]),
    ("validation_score > 0.5", ["a"]),
    ("validation_score >= 0.5", ["a", "b"]),
    ("validation_score > -1", ["a", "b"]),
    ("validation_score < 1e999", ["a", "b"]),
])
def test_a_number_column_compared_with_a_number(reg, where, expected):
    assert ids(reg, where) == expected


@pytest.mark.parametrize("where, expected", [
    ("0.9 == validation_score", ["a"]),
    ("0.9 != validation_score", ["b"]),
    ("0.9 > validation_score", ["b"]),
    ("0.9 >= validation_score", ["a", "b"]),
    ("0.5 < validation_score", ["a"]),
    ("0.5 <= validation_score", ["a", "b"]),
])
def test_a_literal_on_the_left_reads_as_the_mirrored_comparison(reg, where, expected):
    assert ids(reg, where) == expected


@pytest.mark.parametrize("where, expected", [
    ("0.4 < validation_score < 0.9", ["b"]),
    ("0.5 <= validation_score <= 0.9", ["a", "b"]),
    ("0.5 < validation_score <= 0.9", ["a"]),
])
def test_a_chained_comparison_is_all_of_its_parts(reg, where, expected):
    assert ids(reg, where) == expected


@pytest.mark.parametrize("where, expected", [
    ("status == 'saved' and validation_score > 0.8", ["a"]),
    ("status == 'saved' and validation_score < 0.8", []),
    ("status == 'trained' or validation_score > 0.8", ["a", "b"]),
    ("status == 'x' or model_class == 'ax'", ["c"]),
    ("not status == 'saved'", ["b", "c"]),
    ("not validation_score > 0.8", ["b"]),   # not unknown is unknown
    ("not not status == 'saved'", ["a"]),
    ("(status == 'saved' or status == 'trained') and not validation_score < 0.6", ["a"]),
])
def test_and_or_not(reg, where, expected):
    assert ids(reg, where) == expected


@pytest.mark.parametrize("where, expected", [
    ("status in ('saved', 'production')", ["a", "c"]),
    ("status in ['saved']", ["a"]),
    ("status in {'trained'}", ["b"]),
    ("status not in ('saved', 'production')", ["b"]),
    ("validation_score in (0.9, 0.5)", ["a", "b"]),
    ("validation_score not in (0.9,)", ["b"]),
])
def test_in_and_not_in_a_list(reg, where, expected):
    assert ids(reg, where) == expected


@pytest.mark.parametrize("where, expected", [
    ("validation_score == None", ["c"]),
    ("validation_score != None", ["a", "b"]),
    ("metrics.accuracy == None", ["c"]),
    ("tags.gone == None", ["a", "b", "c"]),   # a JSON null is missing too
    ("tags.gone != None", []),
    ("tags.team != None", ["a", "b", "c"]),   # of any type
    ("tags.ok == None", ["c"]),
])
def test_none_tests_for_a_missing_value(both, where, expected):
    assert ids(both, where) == expected


@pytest.mark.parametrize("where, expected", [
    ("tags.team == 'vision'", ["a"]),
    ("tags.team != 'vision'", ["b"]),         # 7 is not text: unknown
    ("tags.team == 7", ["c"]),
    ("tags.n == 3", ["a", "b"]),              # 3 and 3.0, not the text '3'
    ("tags.n == '3'", ["c"]),
    ("tags.n > 2.5", ["a", "b"]),
    ("tags['team'] == 'nlp'", ["b"]),
    ("tags['x.y'] == 'dotted'", ["a"]),       # a key with a dot is one key
    ("metrics.accuracy >= 0.7", ["a"]),
    ("metrics.accuracy < 0.7", ["b"]),
    ("tags.team < 'o'", ["b"]),
    ("tags.team in ('vision', 'nlp')", ["a", "b"]),
    ("tags.n in (3,)", ["a", "b"]),
    ("tags.n not in (3,)", []),
])
def test_entries_of_json_columns_compare_only_with_their_own_type(both, where, expected):
    assert ids(both, where) == expected


@pytest.mark.parametrize("where, expected", [
    ("tags.ok == True", ["a"]),
    ("tags.ok == False", ["b"]),
    ("tags.ok != True", ["b"]),
    ("tags.ok != False", ["a"]),
    ("tags.ok in (True,)", ["a"]),
    ("tags.ok in (True, False)", ["a", "b"]),
    ("tags.ok not in (True,)", ["b"]),
    ("tags.n == True", []),
])
def test_json_booleans_compare_with_true_and_false(both, where, expected):
    assert ids(both, where) == expected


def test_text_is_ordered_by_code_point_whatever_the_columns_collation(both):
    if both.dialect == "postgresql":  # a server whose locale sorts 'a' before 'B'
        with both.atomic() as conn:
            conn.exec_driver_sql('ALTER TABLE model_metadata ALTER COLUMN model_class TYPE varchar(200) '
                                 'COLLATE "und-x-icu"')
    assert ids(both, "model_class < 'a'") == ["a", "b"]  # 'Tree' and 'Bx': capitals first
    assert ids(both, "model_class >= 'a'") == ["c"]


@pytest.fixture
def icu_database(pg_database):  # noqa: F811 - the imported fixture
    """A URL of a database whose default collation is ICU's root locale ('a' < 'B' < 'b')."""
    import uuid

    import psycopg

    name = f"ms_icu_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'und' "
                      "LOCALE 'C.UTF-8'")
    try:
        yield _sqlalchemy(_with_database(PG_ADMIN_URL, name))
    finally:
        with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_postgres_tag_text_is_ordered_by_code_point_whatever_the_databases_collation(icu_database):
    with Registry(icu_database) as registry:
        for team in ("Bx", "a", "b"):
            registry.add_version({"model_id": team.lower() + "1", "model_class": "X", "tags": {"team": team}})
        assert ids(registry, "tags.team < 'a'") == ["bx1"]
        assert ids(registry, "model_class >= 'X' and tags.team >= 'a'") == ["a1", "b1"]


def test_text_columns_compare_exactly(reg):
    assert ids(reg, "model_class == 'tree'") == []
    assert ids(reg, "model_class == 'Tree'") == ["a"]


# -- what it refuses -------------------------------------------------------------------------------

def refused(reg, where):
    with pytest.raises(QueryError) as info:
        reg.list(where=where)
    return str(info.value)


@pytest.mark.parametrize("where", ["", "   "])
def test_an_empty_expression_is_refused(reg, where):
    assert "The where expression is empty" in refused(reg, where)


def test_a_non_text_expression_is_refused():
    with pytest.raises(QueryError, match="empty"):
        parse_where(None, "sqlite")


def test_an_expression_of_2000_characters_is_read(reg):
    where = "status == '" + "x" * (2000 - len("status == ''")) + "'"
    assert len(where) == 2000 and ids(reg, where) == []


def test_an_expression_over_2000_characters_is_refused(reg):
    where = "status == '" + "x" * (2001 - len("status == ''")) + "'"
    assert "is 2001 characters long; at most 2000" in refused(reg, where)


def test_surrounding_spaces_are_ignored(reg):
    assert ids(reg, "  status == 'saved'\n") == ["a"]


def test_errors_name_the_position_in_the_expression_without_its_surrounding_spaces(reg):
    assert refused(reg, "  status == 'a' and model_id > 3").startswith(
        "At position 19 ('model_id') of the where expression: model_id holds text")


def test_a_syntax_error_names_its_position(reg):
    assert refused(reg, "status == == 'a'").startswith("Cannot read the where expression at position 11")


def test_fifty_levels_of_nesting_are_read(reg):
    assert ids(reg, "not " * 50 + "status == 'saved'") == ["a"]


def _nested_and(levels):
    where = "status == 'saved'"
    for _ in range(levels):
        where = f"model_class == 'Tree' and ({where})"
    return where


def test_fifty_levels_of_and_are_read(reg):
    assert ids(reg, _nested_and(50)) == ["a"]


def test_more_than_fifty_levels_of_and_are_refused(reg):
    assert "nested more than 50 levels deep" in refused(reg, _nested_and(51))


def test_more_than_fifty_levels_of_nesting_are_refused(reg):
    assert "nested more than 50 levels deep" in refused(reg, "not " * 51 + "status == 'saved'")


@pytest.mark.parametrize("where, message", [
    ("status", "expected a comparison"),
    ("status is None", "Is is not a comparison"),
    ("status is not None", "IsNot is not a comparison"),
    ("'saved' in status", "needs a column on one side"),
    ("'a' == 'a'", "needs a column on one side"),
    ("tags.team.name == 1", "needs a column on one side"),
    ("tags['a']['b'] == 1", "needs a column on one side"),
    ("len(status) == 1", "needs a column on one side"),
    ("validation_score == -True", "expected a literal value"),
    ("validation_score == +1", "expected a literal value"),
    ("status in 'saved'", "'in' takes a list of values"),
    ("status not in []", "'not in' takes a list of values"),
    ("status in ('a', None)", "None cannot be in a list"),
    ("tags.n in (1, 'a')", "all text or all numbers"),
    ("validation_score > None", "None can only be compared with == or !="),
    ("tags.ok < True", "True and False can only be compared with == or !="),
    ("status == True", "status holds text; compare it with text in quotes"),
    ("status in (True,)", "status holds text"),
    ("validation_score == 'a'", "validation_score holds number; compare it with a number."),
    ("status == -'a'", "expected a literal value"),
    ("status == b'a'", "expected a literal value"),
    ("status == saved", "expected a literal value"),
    ("owner == 'me'", "unknown column 'owner'"),
    ("tags == 1", "name one entry: tags.NAME."),
    ("metrics == 1", "name one entry: metrics.NAME."),
    ("params.a == 1", "only tags.NAME and metrics.NAME have entries, not params."),
    ("status.a == 1", "only tags.NAME and metrics.NAME have entries, not status."),
    ("tags[1] == 1", "write tags['name'] with the name in quotes"),
    ("tags['a b'] == 1", "tags names may use letters"),
    ("metrics['" + "k" * 101 + "'] == 1", "metrics names may use"),
])
def test_what_is_outside_the_language_is_refused_saying_why(reg, where, message):
    assert message in refused(reg, where)


#: The query language's columns, in the order its messages list them.
COLUMNS = ("model_id, model_class, model_module, task_type, scoring, training_date, status, file_format, "
           "file_sha256, artifact_state, data_fingerprint, parent, trust, version, training_samples, "
           "validation_samples, feature_count, train_score, validation_score, file_bytes, fit_seconds")


@pytest.mark.parametrize("where, fragment, message", [
    ("status", "status", "expected a comparison such as validation_score >= 0.9, joined with and / or / not."),
    ("status is None", "status is None",
     "Is is not a comparison of the query language; use ==, !=, <, <=, >, >=, in or not in."),
    ("'x' == 'y'", "'x'", "a comparison needs a column on one side (e.g. status, tags.team, metrics.accuracy); "
                          f"columns are {COLUMNS}."),
    ("'x' not in status", "'x'", "a comparison needs a column on one side (e.g. status, tags.team, "
                                 f"metrics.accuracy); columns are {COLUMNS}."),
    ("status in 'saved'", "'saved'", "'in' takes a list of values, e.g. ('saved', 'production')."),
    ("status in ('a', None)", "('a', None)", "None cannot be in a list; use x == None."),
    ("tags.n in (1, 'a')", "(1, 'a')", "the values of a list must be all text or all numbers."),
    ("validation_score > None", "None", "None can only be compared with == or != (is it missing?)."),
    ("tags.ok < True", "True", "True and False can only be compared with == or !=."),
    ("status == saved", "saved", "expected a literal value: 'text' in quotes, a number, True, False or None "
                                 "(names of notebook variables are not looked up)."),
    ("owner == 1", "owner", f"unknown column 'owner'; use one of {COLUMNS}, tags.NAME or metrics.NAME."),
    ("tags == 1", "tags", "name one entry: tags.NAME."),
    ("params.a == 1", "params.a", "only tags.NAME and metrics.NAME have entries, not params."),
    ("tags[1] == 1", "tags[1]", "write tags['name'] with the name in quotes."),
    ("tags['a b'] == 1", "tags['a b']", "tags names may use letters, digits, '_', '.' and '-'."),
    ("status == 1", "status", "status holds text; compare it with text in quotes."),
    ("validation_score == 'a'", "validation_score", "validation_score holds number; compare it with a number."),
])
def test_each_refusal_names_the_fragment_at_fault_its_position_and_the_fix(reg, where, fragment, message):
    text = "status == 'a' and " + where
    position = text.index(fragment, len("status == 'a' and ")) + 1
    assert refused(reg, text) == f"At position {position} ({fragment!r}) of the where expression: {message}"


@pytest.mark.parametrize("where, message", [
    ("", 'The where expression is empty; write e.g. "validation_score >= 0.9".'),
    ("status == '" + "x" * 1989 + "'", "The where expression is 2001 characters long; at most 2000."),
])
def test_the_refusals_of_the_whole_text_say_what_to_write(reg, where, message):
    assert refused(reg, where) == message


def test_a_syntax_error_says_how_to_write_the_expression(reg):
    message = refused(reg, "status == == 'a'")
    assert message.startswith("Cannot read the where expression at position 11: ")
    assert message.endswith(". Write comparisons joined by and / or, e.g. \"status == 'production'\".")


def test_the_nesting_limit_names_the_level_it_stopped_at(reg):
    fragment = "status == 'saved'"
    assert refused(reg, "not " * 51 + fragment) == (
        f"At position {4 * 51 + 1} ({fragment!r}) of the where expression: nested more than 50 levels deep.")


def test_a_key_of_100_characters_is_read(reg):
    assert ids(reg, "tags['" + "k" * 100 + "'] == 1") == []


def test_keys_may_hold_digits_dashes_dots_and_underscores(reg):
    assert ids(reg, "tags['Team_9-x.y'] == 1") == []


def test_the_error_names_the_fragment_that_is_wrong(reg):
    assert "('tags.team.name')" in refused(reg, "status == 'a' or tags.team.name == 1")


def test_the_error_for_an_unknown_column_lists_the_columns(reg):
    message = refused(reg, "owner == 'me'")
    assert "use one of model_id, model_class," in message and message.endswith(", tags.NAME or metrics.NAME.")


# -- looks_like_query ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["score > 1", "a<b", "a == b", "a != b", "x in y", "a and b", "a or b",
                                  "not a"])
def test_text_with_an_operator_looks_like_a_query(text):
    assert looks_like_query(text)


@pytest.mark.parametrize("text", ["forest", "android", "notebook", "origin", "random forest", "a = b"])
def test_plain_text_does_not_look_like_a_query(text):
    assert not looks_like_query(text)


def test_the_condition_is_a_sqlalchemy_expression_of_the_table():
    condition = parse_where("status == 'saved'", "sqlite")
    assert isinstance(condition, sa.ColumnElement)
