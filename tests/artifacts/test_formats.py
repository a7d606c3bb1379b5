import io
import pickle

import joblib
import numpy as np
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

from jupyter_modelservice.artifacts import formats
from jupyter_modelservice.exceptions import ArtifactError, InvalidInputError, UntrustedTypesError


@pytest.fixture(scope="module")
def model():
    X = np.random.default_rng(0).normal(size=(40, 3))
    return LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_each_format_round_trips_and_is_detected_from_bytes(model, fmt):
    buf = io.BytesIO()
    formats.dump(model, buf, fmt)
    data = buf.getvalue()
    assert formats.detect_format(data) == fmt
    back = formats.loads(data, fmt)
    np.testing.assert_array_equal(back.coef_, model.coef_)


def test_compressed_joblib_is_detected(model):
    buf = io.BytesIO()
    joblib.dump(model, buf, compress=3)
    assert formats.detect_format(buf.getvalue()) == "joblib"
    assert formats.loads(buf.getvalue(), "joblib").coef_.shape == model.coef_.shape


def test_unknown_bytes_and_format_names_are_errors():
    with pytest.raises(ArtifactError, match="neither"):
        formats.detect_format(b"hello world")
    with pytest.raises(InvalidInputError, match="save_format"):
        formats.check_format("json")


class Custom:
    pass


def test_skops_refuses_untrusted_types_by_name():
    data = skops.io.dumps({"payload": Custom()})
    with pytest.raises(UntrustedTypesError) as info:
        formats.loads(data, "skops")
    assert any("Custom" in t for t in info.value.types)
    assert "Custom" in str(info.value)


def test_broken_pickle_is_an_artifact_error():
    with pytest.raises(ArtifactError, match="Could not read"):
        formats.loads(pickle.dumps([1, 2])[:-3] , "pickle")


def test_detection_looks_for_joblibs_mark_in_the_first_mebibyte_only():
    mark = b"joblib.numpy_pickle"
    within = b"\x80\x04" + b"\x00" * ((1 << 20) - 2 - len(mark)) + mark
    beyond = b"\x80\x04" + b"\x00" * ((1 << 20) - 2) + mark
    assert formats.detect_format(within) == "joblib"
    assert formats.detect_format(beyond) == "pickle"


def test_an_unknown_file_is_described_in_full():
    with pytest.raises(ArtifactError) as info:
        formats.detect_format(b"hello world")
    assert str(info.value) == "The file is neither a joblib, a pickle nor a skops file."


def test_a_damaged_skops_file_says_what_is_wrong():
    with pytest.raises(ArtifactError) as info:
        formats.loads(b"PK\x03\x04garbage", "skops")
    assert str(info.value) == "The skops file cannot be read: BadZipFile: File is not a zip file"


class _FirstStep(FunctionTransformer):
    """A user-defined type: not on the allow-list."""


class _SecondStep(FunctionTransformer):
    """Another one."""


def test_untrusted_types_are_listed_in_full_with_the_way_to_load_them():
    from sklearn.pipeline import make_pipeline

    data = skops.io.dumps(make_pipeline(_FirstStep(), _SecondStep()))
    with pytest.raises(UntrustedTypesError) as info:
        formats.trusted_skops_types(data)
    names = info.value.types
    assert sorted(names) == [f"{__name__}._FirstStep", f"{__name__}._SecondStep"]
    assert str(info.value) == (
        f"The skops file contains types that are not on the allow-list: {names[0]}, {names[1]}. "
        "They are neither model parts of scikit-learn, NumPy or SciPy nor named by you; their "
        "code would run while loading. If you know where the file comes from and trust these "
        f"types, load it with trusted={names!r}, e.g. load_model(ref, trusted={names!r})."
    )
    assert sorted(formats.trusted_skops_types(data, names)) == sorted(skops.io.get_untrusted_types(data=data))


def test_refusing_bytes_of_no_known_format_names_the_file_and_what_to_do():
    from jupyter_modelservice.exceptions import ArtifactIntegrityError

    with pytest.raises(ArtifactIntegrityError) as info:
        formats.check_bytes(b"hello world", "pickle")
    assert str(info.value) == (
        "The model file is registered as pickle, but its bytes are of no known model format; it was not "
        "read. A file is only ever read as the format it was saved in: save the model again, or delete "
        "this version if you did not put that file there.")


def test_refusing_bytes_of_another_format_names_the_format_found():
    from jupyter_modelservice.exceptions import ArtifactIntegrityError

    with pytest.raises(ArtifactIntegrityError, match="^rf:2 is registered as skops, but its bytes are a "
                                                     "pickle file; it was not read"):
        formats.check_bytes(pickle.dumps([1, 2]), "skops", "rf:2")


def test_a_pickle_naming_joblib_past_the_first_mebibyte_is_still_a_pickle():
    mark = b"joblib.numpy_pickle"
    beyond = b"\x80\x04" + b"\x00" * ((1 << 20) - 2) + mark  # the same window detect_format looks at
    formats.check_bytes(beyond, "pickle")
    formats.check_bytes(memoryview(beyond), "pickle")
    within = b"\x80\x04" + b"\x00" * ((1 << 20) - 2 - len(mark)) + mark
    with pytest.raises(ArtifactError, match="registered as pickle, but its bytes are a joblib file"):
        formats.check_bytes(within, "pickle")


def test_an_unknown_format_name_lists_the_known_ones():
    with pytest.raises(InvalidInputError) as info:
        formats.check_format("json")
    assert str(info.value) == "Unknown save_format 'json'; use one of joblib, pickle, skops."


def test_dumping_with_an_unknown_format_names_the_format_asked_for():
    buf = io.BytesIO()
    with pytest.raises(InvalidInputError) as info:
        formats.dump([1, 2], buf, "json")
    assert str(info.value) == "Unknown save_format 'json'; use one of joblib, pickle, skops."
    assert buf.getvalue() == b""


def test_pickle_files_are_written_with_the_highest_protocol():
    buf = io.BytesIO()
    formats.dump({"a": [1, 2]}, buf, "pickle")
    data = buf.getvalue()
    assert data[:2] == bytes([0x80, pickle.HIGHEST_PROTOCOL])  # PROTO opcode and its number
    assert formats.loads(data, "pickle") == {"a": [1, 2]}


def test_loads_names_the_file_the_model_file_by_default():
    with pytest.raises(ArtifactError, match="^The model file is registered as skops, but its bytes are a "
                                            "pickle file; it was not read"):
        formats.loads(pickle.dumps([1, 2]), "skops")


@pytest.mark.parametrize("trusted", [5, 1.5, object()])
def test_trusted_must_be_a_list_of_names_not_some_other_object(trusted):
    with pytest.raises(InvalidInputError) as info:
        formats.loads(pickle.dumps([1, 2]), "pickle", trusted)
    assert str(info.value) == (
        f"trusted must be a list of type names such as ['mypackage.MyEstimator'], not {trusted!r}; "
        "trusting everything (trusted=True) is not offered.")


@pytest.mark.parametrize("trusted, bad", [([3], "3"), (["pkg.Model", 3], "3"), ([b"pkg.Model", None], "b'pkg.Model'")])
def test_trusted_names_must_be_strings_and_the_first_other_one_is_named(trusted, bad):
    with pytest.raises(InvalidInputError) as info:
        formats.loads(pickle.dumps([1, 2]), "pickle", trusted)
    assert str(info.value) == f"trusted must list type names as strings; got {bad}."


def test_a_pickle_needing_a_missing_module_says_so_with_the_error():
    data = b"\x80\x04cjms_no_such_module_xyz\nThing\n."  # PROTO 4, GLOBAL jms_no_such_module_xyz.Thing, STOP
    with pytest.raises(ArtifactError) as info:
        formats.loads(data, "pickle")
    assert str(info.value) == (
        "Could not read the pickle model file: ModuleNotFoundError: No module named 'jms_no_such_module_xyz'. "
        "It may need a library that is not installed here.")
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def _verified_stream(data, peeks):
    """A `VerifiedStream` of ``data`` that records the size of each ``peek``."""
    from jupyter_modelservice.artifacts.digests import ChunkDigests, Digests
    from jupyter_modelservice.artifacts.verified_stream import VerifiedStream

    class Recording(VerifiedStream):
        def peek(self, size=1):
            peeks.append(size)
            return super().peek(size)

    return Recording(io.BytesIO(data), ChunkDigests.from_text(Digests.of(data).chunks), len(data), "rf:1")


@pytest.mark.timeout(10)
def test_a_streamed_pickle_is_unpickled_without_peek():
    """CPython's unpickler, given ``peek``, copies ahead on every read outside a frame: the stream
    is peeked once, for the format check, and the unpickler gets it without ``peek``."""
    obj = {"weights": list(range(1000)), "name": "lr"}
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    peeks = []
    with _verified_stream(data, peeks) as stream:
        assert formats.load_stream(stream, "pickle", label="rf:1") == obj
    assert peeks == [1 << 20]  # once, for the format check: the first MiB, the window check_bytes reads


@pytest.mark.timeout(10)
def test_a_streamed_joblib_file_is_loaded_from_the_stream(model):
    buf = io.BytesIO()
    formats.dump(model, buf, "joblib")
    with _verified_stream(buf.getvalue(), []) as stream:
        back = formats.load_stream(stream, "joblib", label="rf:1")
    np.testing.assert_array_equal(back.coef_, model.coef_)
