import pytest

from jupyter_modelservice.exceptions import InvalidInputError, InvalidModelIdError
from jupyter_modelservice.ids import (
    ModelRef,
    generate_model_id,
    parse_ref,
    validate_model_id,
    validate_search,
    validate_version,
)

GOOD = ["rf", "rf_stock_predictor_v1", "a", "A.b-c_d", "x" * 128, "model.v2", "9lives"]
BAD = [
    "", ".", "..", "../x", "a/b", "a\\b", "/abs", "a..b", "rf.", "-rf", "_rf", ".hidden",
    "x" * 129, "a b", " rf", "rf ", "a\x00b", "a\nb", "caf\u00e9", "\u0430dmin",  # Cyrillic a
    "CON", "con", "nul.txt", "COM1", "lpt9.joblib", "a:b", "rf;DROP TABLE x", "%2e%2e",
    "s3://x", "a%b", "a*b", "a?b", "a'b", 'a"b',
]


@pytest.mark.parametrize("model_id", GOOD)
def test_valid_ids_are_returned_unchanged(model_id):
    assert validate_model_id(model_id) == model_id


@pytest.mark.parametrize("model_id", BAD)
def test_invalid_ids_raise_a_value_error(model_id):
    with pytest.raises(InvalidModelIdError) as info:
        validate_model_id(model_id)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("model_id", [None, 3, b"rf", ["rf"]])
def test_non_string_ids_are_rejected(model_id):
    with pytest.raises(InvalidModelIdError, match="string"):
        validate_model_id(model_id)


def test_parse_ref_latest_and_version():
    assert parse_ref("rf") == ModelRef("rf", None)
    assert parse_ref("rf:3") == ModelRef("rf", 3)
    assert parse_ref("rf", version=2) == ModelRef("rf", 2)
    assert str(parse_ref("rf:3")) == "rf:3"


@pytest.mark.parametrize("ref", ["rf:0", "rf:-1", "rf:1.5", "rf:abc", "rf:", "rf:01", ":3", "rf:3:4"])
def test_bad_versions_are_rejected(ref):
    with pytest.raises(InvalidModelIdError):
        parse_ref(ref)


def test_conflicting_versions_are_rejected():
    with pytest.raises(InvalidModelIdError, match="version"):
        parse_ref("rf:3", version=4)


def test_generated_ids_are_valid_and_distinct():
    ids = {generate_model_id("RandomForestClassifier") for _ in range(50)}
    assert len(ids) == 50
    for model_id in ids:
        assert validate_model_id(model_id).startswith("RandomForestClassifier_")


@pytest.mark.parametrize("model_id, reason", [
    ("", "is empty"),
    ("x" * 129, "129 characters long"),
    ("a/b", "path separator '/'"),
    ("a\\b", "path separator '\\\\'"),
    ("C:x", "contains ':'"),
    ("%2e%2e", "percent-encoded"),
    ("a\x00b", "U+0000"),
    ("a\u200bb", "ZERO WIDTH SPACE"),
    ("rf ", "U+0020 SPACE"),
    ("\u0430dmin", "CYRILLIC SMALL LETTER A"),
    ("cafe\u0301", "COMBINING ACUTE ACCENT"),
    ("-rf", "starts with '-'"),
    ("a..b", "contains '..'"),
    ("rf.", "ends with '.'"),
    ("aux.joblib", "device name"),
    ("a'b", "contains \"'\""),
    ("registry.db", "registry's own file"),
])
def test_errors_say_which_rule_was_broken(model_id, reason):
    with pytest.raises(InvalidModelIdError) as info:
        validate_model_id(model_id)
    assert reason in str(info.value)


def test_a_str_subclass_comes_back_as_a_plain_str():
    class Sneaky(str):
        def __str__(self):
            return "../escape"

        def __fspath__(self):
            return "../escape"

    checked = validate_model_id(Sneaky("rf"))
    assert type(checked) is str and checked == "rf"
    assert type(parse_ref(Sneaky("rf:2")).model_id) is str


@pytest.mark.parametrize("version", [0, -1, 10**9, True, 1.0, "1.0", " 1", "1 ", "+1", "01", "\u0663",
                                     "1e3", "0x1", "", None, [1]])
def test_versions_that_are_not_positive_integers_are_rejected(version):
    with pytest.raises(InvalidModelIdError, match="positive integer"):
        validate_version(version)


def test_numpy_integers_and_decimal_strings_are_versions():
    import numpy as np

    assert validate_version(np.int64(3)) == 3 and validate_version("12") == 12
    with pytest.raises(InvalidModelIdError):
        validate_version(np.int64(0))


def test_a_model_ref_with_a_bad_version_is_rejected():
    with pytest.raises(InvalidModelIdError, match="positive integer"):
        parse_ref(ModelRef("rf", -1))
    with pytest.raises(InvalidModelIdError, match="positive integer"):
        parse_ref(ModelRef("rf", "1; DROP TABLE model_metadata"))
    with pytest.raises(InvalidModelIdError, match="separator"):
        parse_ref(ModelRef("../rf", 1))


@pytest.mark.parametrize("text", ["Forest", "a_b", "%", "' OR 1=1 --", "\\", "é", "[a-z]*"])
def test_search_text_is_passed_through_unchanged(text):
    assert validate_search(text) == text


@pytest.mark.parametrize("text, match", [("a\x00b", "control character"), ("\ud800", "control character"),
                                         ("x" * 201, "at most 200"), (3, "must be text")])
def test_unusable_search_text_is_refused(text, match):
    with pytest.raises(InvalidInputError, match=match):
        validate_search(text)


def test_empty_search_means_no_filter():
    assert validate_search(None) is None and validate_search("") is None
