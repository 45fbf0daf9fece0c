"""The detector-level bad-input matrix: ``MTCNN().detect`` on broken inputs.

Every bad input must raise ``ValueError`` or ``TypeError`` with a message naming the problem
(the shape, the dtype, the path), never crash inside the cascade; an image smaller than
P-Net's 12-px window (or than ``min_face_size``) is not an error but gives ``N = 0``.
The conversion rules themselves are tested in ``test_io.py``; here the whole detector is run.
"""
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymtcnn import MTCNN

ASTRONAUT = Path(__file__).resolve().parents[1] / "tinymtcnn" / "assets" / "astronaut.png"


@pytest.fixture(scope="module")
def detector():
    return MTCNN()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A folder of broken files next to a good PNG and JPEG they were made from."""
    d = tmp_path_factory.mktemp("bad_inputs")
    pixels = np.random.default_rng(7).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(d / "good.png")
    Image.fromarray(pixels).save(d / "good.jpg", quality=90)
    png, jpg = (d / "good.png").read_bytes(), (d / "good.jpg").read_bytes()
    (d / "truncated.png").write_bytes(png[:len(png) // 2])
    (d / "truncated.jpg").write_bytes(jpg[:len(jpg) // 3])
    corrupt = bytearray(png)
    corrupt[100:140] = bytes(40)  # zeros inside the IDAT deflate stream
    (d / "corrupt.png").write_bytes(bytes(corrupt))
    (d / "empty.png").write_bytes(b"")
    (d / "notes.jpg").write_text("these are not pixels\n")
    np.savez(d / "arrays.npz", x=np.ones(3))
    (d / "folder.jpg").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(d / "tiny.png")
    return d


@pytest.fixture(scope="module")
def small_astronaut():
    """128 x 128 astronaut (one face of about 30 px): fast, and the detector finds the face."""
    return np.ascontiguousarray(np.asarray(Image.open(ASTRONAUT).convert("RGB"))[::4, ::4])


def _assert_empty(faces):
    assert len(faces) == 0
    assert faces.boxes.shape == (0, 4) and faces.scores.shape == (0,) and faces.landmarks.shape == (0, 5, 2)


# --------------------------------------------------------------------------- arrays
@pytest.mark.parametrize("shape", [(0, 0, 3), (0, 10, 3), (10, 0, 3), (10, 0), (0, 0), (0, 7, 1)])
def test_empty_arrays(detector, shape):
    with pytest.raises(ValueError, match=re.escape(f"empty: shape {shape}")):
        detector.detect(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("shape", [(), (10,), (0,), (2, 10, 10, 3), (1, 1, 1, 1, 1)])
def test_wrong_rank(detector, shape):
    with pytest.raises(ValueError, match=re.escape(f"got {shape}")) as err:
        detector.detect(np.zeros(shape, np.uint8))
    assert "(H, W, 3)" in str(err.value)


@pytest.mark.parametrize("shape", [(20, 20, 5), (20, 20, 0), (20, 20, 6), (40, 30, 64)])
def test_wrong_channel_count(detector, shape):
    with pytest.raises(ValueError, match=re.escape(f"1, 2, 3 or 4 channels in the last axis, got shape {shape}")):
        detector.detect(np.zeros(shape, np.uint8))


def test_channels_first_gets_a_hint(detector):
    with pytest.raises(ValueError, match=r"looks channels-first, use np\.transpose\(a, \(1, 2, 0\)\)"):
        detector.detect(np.zeros((3, 64, 64), np.float32))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_floats(detector, dtype, bad):
    a = np.full((30, 30, 3), 0.5, dtype)
    a[3, 4, 1] = bad
    a[7, 7, 0] = bad
    with pytest.raises(ValueError, match=r"contains 2 NaN/inf value\(s\)"):
        detector.detect(a)


def test_all_nan_image(detector):
    with pytest.raises(ValueError, match=r"contains 2700 NaN/inf"):
        detector.detect(np.full((30, 30, 3), np.nan))


@pytest.mark.parametrize("low, high", [(0.0, 255.0), (-0.5, 0.5), (0.0, 1.0001)])
def test_floats_outside_unit_range(detector, low, high):
    a = np.linspace(low, high, 30 * 30 * 3).reshape(30, 30, 3)
    with pytest.raises(ValueError, match=r"floats must be in \[0, 1\]; got range"):
        detector.detect(a)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64, np.complex64,
                                   np.complex128, object, "U3", "S3", "datetime64[s]", "timedelta64[ms]"])
def test_unsupported_dtypes(detector, dtype):
    a = np.zeros((20, 20, 3), dtype=dtype)
    with pytest.raises(TypeError, match=re.escape(f"got {a.dtype}")) as err:
        detector.detect(a)
    assert "uint8" in str(err.value)


def test_signed_integers_suggest_a_conversion(detector):
    with pytest.raises(TypeError, match=r"a\.astype\(np\.uint8\)"):
        detector.detect(np.full((20, 20, 3), 128, np.int64))


@pytest.mark.parametrize("bad", [[[0, 1], [2, 3]], None, 5, 1.5, b"\x89PNG", {"image": 1}, (20, 20, 3)])
def test_unsupported_types(detector, bad):
    with pytest.raises(TypeError, match=f"got {type(bad).__name__}"):
        detector.detect(bad)


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("name, match", [
    ("truncated.png", "corrupt or truncated"),
    ("truncated.jpg", "corrupt or truncated"),
    ("corrupt.png", "corrupt or truncated"),
    ("empty.png", "not an image file Pillow can read"),
    ("notes.jpg", "not an image file Pillow can read"),
    ("arrays.npz", "not an image file Pillow can read"),
])
def test_broken_files_name_the_path(detector, files, name, match):
    for path in (files / name, str(files / name)):
        with pytest.raises(ValueError, match=match) as err:
            detector.detect(path)
        assert str(files / name) in str(err.value)


def test_missing_file_is_value_and_file_not_found_error(detector, files):
    path = files / "absent.jpg"
    with pytest.raises(ValueError, match=re.escape(str(path))):
        detector.detect(path)
    with pytest.raises(FileNotFoundError):
        detector.detect(str(path))


@pytest.mark.parametrize("name", ["", "folder.jpg"])
def test_directories(detector, files, name):
    with pytest.raises(ValueError, match="is a directory, not an image file") as err:
        detector.detect(files / name)
    assert str(files / name) in str(err.value)


def test_decompression_bomb_is_a_value_error(detector, files, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # the 64 x 64 file is now "> 2x the limit"
    with pytest.raises(ValueError, match=re.escape(str(files / "good.png"))):
        detector.detect(files / "good.png")


def test_lazily_opened_truncated_pil_image(detector, files):
    with Image.open(files / "truncated.png") as img, pytest.raises(ValueError, match="corrupt or truncated"):
        detector.detect(img)  # opening read the header only: decoding fails inside detect


@pytest.mark.pipeline
def test_good_files_still_work(detector, files):
    for name in ("good.png", "good.jpg"):
        _assert_empty(detector.detect(files / name))  # noise: no face, but no error


# --------------------------------------------------------------------------- tiny images: N = 0
@pytest.mark.parametrize("shape", [(1, 1, 3), (11, 11, 3), (11, 400, 3), (400, 11, 3), (5, 5), (11, 11, 1),
                                   (11, 11, 4), (12, 12, 3), (19, 19, 3)])
def test_images_too_small_give_no_faces(detector, shape):
    _assert_empty(detector.detect(np.full(shape, 128, np.uint8)))


def test_tiny_file_and_float_image_give_no_faces(detector, files):
    _assert_empty(detector.detect(files / "tiny.png"))
    _assert_empty(detector.detect(np.full((10, 10, 3), 0.5, np.float32)))


def test_trace_of_a_tiny_image_is_empty(detector):
    t = detector.trace(np.zeros((8, 8, 3), np.uint8))
    assert t["pyramid"] == [] and t["pnet_maps"] == []
    assert t["pnet"][0].shape == (0, 4) and t["rnet"][0].shape == (0, 4)
    _assert_empty(t["onet"])


# --------------------------------------------------------------------------- other entry points
def test_trace_rejects_bad_input_like_detect(detector):
    with pytest.raises(ValueError, match="channels"):
        detector.trace(np.zeros((20, 20, 7), np.uint8))


@pytest.mark.pipeline
def test_detect_batch_reports_the_bad_item(detector):
    with pytest.raises(TypeError, match="got int32"):
        detector.detect_batch([np.zeros((20, 20, 3), np.uint8), np.zeros((20, 20, 3), np.int32)])


# --------------------------------------------------------------------------- unusual but valid arrays
@pytest.mark.pipeline
def test_memory_layout_does_not_change_the_answer(detector, small_astronaut):
    base = detector.detect(small_astronaut)
    assert len(base) == 1
    readonly = small_astronaut.copy()
    readonly.flags.writeable = False
    twice_flipped = np.flip(np.ascontiguousarray(small_astronaut[:, ::-1]), axis=1)  # negative strides
    padded = np.zeros((128, 256, 3), np.uint8)
    padded[:, ::2] = small_astronaut
    variants = {"fortran": np.asfortranarray(small_astronaut), "readonly": readonly,
                "negative strides": twice_flipped, "step view": padded[:, ::2]}
    for name, a in variants.items():
        faces = detector.detect(a)
        np.testing.assert_array_equal(faces.boxes, base.boxes, err_msg=name)
        np.testing.assert_array_equal(faces.landmarks, base.landmarks, err_msg=name)


@pytest.mark.pipeline
def test_input_array_is_not_modified(detector, small_astronaut):
    a = small_astronaut.astype(np.float64) / 255
    before = a.copy()
    detector.detect(a)
    np.testing.assert_array_equal(a, before)
