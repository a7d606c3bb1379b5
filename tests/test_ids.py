import pytest

from jupyter_modelservice.exceptions import InvalidModelIdError
from jupyter_modelservice.ids import ModelRef, generate_model_id, parse_ref, validate_model_id

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
