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


def test_generated_ids_are_valid_and_follow_the_ids_taken():
    taken: list[str] = []
    for _ in range(12):
        taken.append(validate_model_id(generate_model_id("RandomForestClassifier", taken)))
    assert taken == [f"randomforest-{n}" for n in range(1, 13)]
    assert generate_model_id("RandomForestClassifier", ["RandomForest-7", "randomforest-x", "rf-9"]) == (
        "randomforest-8")  # letter case ignored; other forms and ids are not numbers of this one


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


@pytest.mark.parametrize("model_id, message", [
    ("", "Invalid model_id '': it is empty"),
    ("x" * 129, "Invalid model_id '" + "x" * 54 + "...' (129 characters): it is 129 characters long (at most 128)"),
    ("a/b", "Invalid model_id 'a/b': it contains the path separator '/'"),
    ("C:x", "Invalid model_id 'C:x': it contains ':' (drive letters, URLs and 'id:version' references are not ids)"),
    ("a%b", "Invalid model_id 'a%b': it contains '%' (percent-encoded text is not decoded; write the plain name)"),
    ("a\x00b", "Invalid model_id 'a\\x00b': it contains the control or invisible character U+0000"),
    ("a\U000e0080", "Invalid model_id 'a\\U000e0080': it contains the control or invisible character U+E0080;"),
    ("a\u200bb", "it contains the control or invisible character U+200B ZERO WIDTH SPACE;"),
    ("a\u2028b", "it contains the control or invisible character U+2028 LINE SEPARATOR;"),
    ("a\u2029b", "it contains the control or invisible character U+2029 PARAGRAPH SEPARATOR;"),
    ("a\ue000b", "it contains the control or invisible character U+E000;"),
    ("a\ud800b", "it contains the control or invisible character U+D800;"),
    ("rf ", "Invalid model_id 'rf ': it contains the white-space character U+0020 SPACE;"),
    ("a\u00a0b", "it contains the white-space character U+00A0 NO-BREAK SPACE;"),
    ("\u0430dmin", "it contains the non-ASCII character 'а' (U+0430 CYRILLIC SMALL LETTER A) (ids are plain ASCII, "
                   "so look-alike letters and unnormalized text cannot pass for another id);"),
    ("cafe\u0301", "it contains the non-ASCII character U+0301 COMBINING ACUTE ACCENT (ids are"),
    ("a*b", "Invalid model_id 'a*b': it contains '*', which is not allowed;"),
    ("-rf", "Invalid model_id '-rf': it starts with '-' instead of a letter or digit;"),
    ("a..b", "Invalid model_id 'a..b': it contains '..', which names another folder on some file systems;"),
    ("rf.", "Invalid model_id 'rf.': it ends with '.', which names another folder on some file systems;"),
    ("CONIN$.x", "Invalid model_id 'CONIN$.x': it contains '$', which is not allowed;"),
    ("aux.joblib", "Invalid model_id 'aux.joblib': it is a reserved device name on Windows; pick another."),
    ("Registry.DB-wal", "Invalid model_id 'Registry.DB-wal': it is the name of the registry's own file; pick another."),
])
def test_error_messages_in_full(model_id, message):
    with pytest.raises(InvalidModelIdError) as info:
        validate_model_id(model_id)
    text = str(info.value)
    assert message in text
    if "it is" not in message or "characters long" in message or "empty" in message:
        assert text.endswith("; use letters, digits, '.', '_' or '-', starting with a letter or digit, at most "
                             "128 characters.")


@pytest.mark.parametrize("model_id", ["x" * 128, "x" * 57, "x" * 58])
def test_ids_up_to_128_characters_are_valid(model_id):
    assert validate_model_id(model_id) == model_id


def test_long_values_are_shortened_in_messages():
    with pytest.raises(InvalidModelIdError) as info:
        validate_model_id("x" * 58 + "/")  # repr is 61 characters: shortened
    assert "Invalid model_id '" + "x" * 54 + "...' (59 characters): it contains the path separator" in str(info.value)
    with pytest.raises(InvalidModelIdError) as info:
        validate_model_id("x" * 57 + "/")  # repr is 60 characters: shown whole
    assert f"Invalid model_id '{'x' * 57}/': it" in str(info.value)


@pytest.mark.parametrize("name", ["CON", "PRN", "AUX", "NUL", "CONIN$", "CLOCK$", "COM0", "COM9", "LPT0", "LPT9"])
def test_every_windows_device_name_is_a_reserved_id(name):
    from jupyter_modelservice.ids import _WINDOWS_DEVICES

    assert name in _WINDOWS_DEVICES
    if "$" not in name:
        for model_id in (name, name.lower(), f"{name}.joblib", f"{name.lower()}.tar.gz"):
            with pytest.raises(InvalidModelIdError, match="reserved device name"):
                validate_model_id(model_id)


@pytest.mark.parametrize("model_id", ["COM10", "LPT10", "CONSOLE", "nul_model", "aux-1", "registry", "registry.db2"])
def test_names_close_to_reserved_ones_are_valid(model_id):
    assert validate_model_id(model_id) == model_id


def test_the_largest_version_is_accepted_in_every_form():
    import numpy as np

    top = 10**9 - 1
    assert validate_version(top) == validate_version(str(top)) == validate_version(np.int64(top)) == top
    assert validate_version(np.int64(1)) == validate_version(1) == validate_version("1") == 1
    for too_big in (10**9, "1000000000", np.int64(10**9)):
        with pytest.raises(InvalidModelIdError, match="positive integer"):
            validate_version(too_big)


def test_an_integral_that_cannot_become_an_int_is_not_a_version():
    import numbers

    class Broken:
        def __int__(self):
            raise TypeError("no")

    numbers.Integral.register(Broken)
    with pytest.raises(InvalidModelIdError, match="positive integer"):
        validate_version(Broken())


@pytest.mark.parametrize("version, shown", [("1.5", "'1.5'"), (2.5, "2.5"), (0, "0"), (None, "None"),
                                            ("9" * 70, "'" + "9" * 54 + "...' (70 characters)"),
                                            ([1] * 40, repr([1] * 40)[:60])])
def test_version_errors_show_the_value(version, shown):
    with pytest.raises(InvalidModelIdError) as info:
        validate_version(version)
    assert str(info.value) == f"Invalid version {shown}: use a positive integer such as 1 or 3."


def test_references_print_as_written():
    assert str(ModelRef("rf", None)) == "rf" and str(ModelRef("rf", 3)) == "rf:3"
    assert str(parse_ref("rf")) == "rf"


def test_generated_ids_have_the_documented_form():
    assert generate_model_id("RandomForestClassifier") == "randomforest-1"
    assert generate_model_id("GradientBoostingRegressor", ["gradientboosting-2"]) == "gradientboosting-3"
    assert generate_model_id("LogisticRegression") == "logisticregression-1"
    assert generate_model_id("My model<3>.v2") == "mymodel3v2-1"
    assert generate_model_id("") == "model-1"
    assert generate_model_id("_Private") == "private-1"
    assert generate_model_id("Classifier") == "classifier-1"  # the ending alone is the name
    assert generate_model_id("K" * 150) == "k" * 40 + "-1"
    assert generate_model_id("Ünïcode") == "ncode-1"
    assert generate_model_id("Ünïcode") == "ncode-1"
    for name in ("CON", "NUL", "Aux", "registry.db"):  # never a device or the registry's own file
        assert validate_model_id(generate_model_id(name))


def test_refusals_of_other_types_name_the_type():
    with pytest.raises(InvalidModelIdError) as info:
        validate_model_id(3)
    assert str(info.value).startswith("model_id must be a string, not int; use letters")
    with pytest.raises(InvalidInputError) as info:
        validate_search(b"rf")
    assert str(info.value) == "search must be text, not bytes."


def test_a_bad_character_in_a_128_character_id_is_named():
    with pytest.raises(InvalidModelIdError, match="path separator") as info:
        validate_model_id("x" * 127 + "/")
    assert "characters long" not in str(info.value)


def test_a_reference_with_two_colons_is_refused_as_an_id_with_a_colon():
    with pytest.raises(InvalidModelIdError, match=r"Invalid model_id 'rf:3': it contains ':'"):
        parse_ref("rf:3:4")


def test_search_text_of_200_characters_is_accepted_and_control_characters_are_named():
    assert validate_search("x" * 200) == "x" * 200
    with pytest.raises(InvalidInputError) as info:
        validate_search("a\tb")
    assert str(info.value) == ("search text contains the control character U+0009; "
                               "ids and class names never do, so remove it.")


def test_a_registry_row_names_its_version():
    from jupyter_modelservice.ids import ModelVersion

    version = ModelVersion.of({"model_id": "rf", "version": 3, "status": "saved"})
    assert version == ("rf", 3) and (version.model_id, version.version) == ("rf", 3)
    assert str(version) == "rf:3"
