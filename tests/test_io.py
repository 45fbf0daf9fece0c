"""tinymtcnn.io: load_image conversions and errors, iter_image_files."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymtcnn.io import ImageNotFoundError, iter_image_files, load_image

ASTRONAUT = Path(__file__).resolve().parents[1] / "tinymtcnn" / "assets" / "astronaut.png"


def _check_rgb(a, shape):
    assert a.dtype == np.uint8 and a.shape == shape and a.flags.c_contiguous


# ---- arrays -------------------------------------------------------------------------------

def test_uint8_rgb_is_returned_as_is(rng):
    a = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert load_image(a) is a


def test_non_contiguous_uint8_becomes_contiguous(rng):
    a = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)[:, ::2]
    out = load_image(a)
    _check_rgb(out, (5, 4, 3))
    np.testing.assert_array_equal(out, a)


@pytest.mark.parametrize("shape", [(4, 6), (4, 6, 1)])
def test_gray_repeated_into_three_channels(rng, shape):
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    out = load_image(a)
    _check_rgb(out, (4, 6, 3))
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], a.reshape(4, 6))


def test_alpha_is_dropped(rng):
    rgba = rng.integers(0, 256, (4, 6, 4), dtype=np.uint8)
    np.testing.assert_array_equal(load_image(rgba), rgba[:, :, :3])
    la = rng.integers(0, 256, (4, 6, 2), dtype=np.uint8)
    np.testing.assert_array_equal(load_image(la), np.repeat(la[:, :, :1], 3, axis=2))


def test_uint16_scaled_by_255_over_65535(rng):
    a = rng.integers(0, 65536, (3, 50, 3)).astype(np.uint16)
    a[0, :2, 0] = [0, 65535]
    expected = np.rint(a.astype(np.float64) * 255 / 65535).astype(np.uint8)
    np.testing.assert_array_equal(load_image(a), expected)
    np.testing.assert_array_equal(load_image(a.astype(">u2")), expected)  # big-endian too


def test_bool_maps_to_0_and_255():
    a = np.array([[True, False]])
    np.testing.assert_array_equal(load_image(a)[..., 0], [[255, 0]])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_in_unit_range_scaled_and_rounded(dtype):
    x = np.array([[0.0, 1.0, 0.5, 0.1, 0.998]], dtype=dtype)
    expected = np.rint(x.astype(np.float64) * 255).astype(np.uint8)
    np.testing.assert_array_equal(load_image(x)[..., 1], expected)
    assert load_image(x)[0, 1, 0] == 255


def test_float_out_of_range_message_suggests_uint8():
    with pytest.raises(ValueError, match=r"floats must be in \[0, 1\]; got range 0..255.*use uint8"):
        load_image(np.array([[0.0, 255.0]]))
    with pytest.raises(ValueError, match="got range -0.5..0.5"):
        load_image(np.array([[-0.5, 0.5]], dtype=np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_floats_rejected(bad):
    with pytest.raises(ValueError, match="NaN/inf"):
        load_image(np.array([[0.5, bad]]))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint32, np.uint64, np.complex128, object])
def test_unsupported_dtypes_type_error(dtype):
    with pytest.raises(TypeError, match="dtype must be uint8"):
        load_image(np.zeros((4, 4, 3), dtype=dtype))


@pytest.mark.parametrize("shape, match", [
    ((0, 5, 3), "empty"), ((5, 0), "empty"),
    ((5,), "must have shape"), ((2, 5, 5, 3), "must have shape"),
    ((5, 5, 5), "channels"), ((3, 20, 30), "channels-first"),
])
def test_bad_shapes_value_error(shape, match):
    with pytest.raises(ValueError, match=match):
        load_image(np.zeros(shape, dtype=np.uint8))


@pytest.mark.parametrize("bad", [[[1, 2], [3, 4]], 3.0, None, b"\x89PNG"])
def test_unsupported_types(bad):
    with pytest.raises(TypeError, match="path .* PIL image or a numpy array"):
        load_image(bad)


def test_tiny_image_accepted():
    _check_rgb(load_image(np.zeros((1, 1), np.uint8)), (1, 1, 3))


# ---- PIL images -----------------------------------------------------------------------------

def test_pil_rgb_and_rgba(rng):
    a = rng.integers(0, 256, (6, 5, 4), dtype=np.uint8)
    np.testing.assert_array_equal(load_image(Image.fromarray(a, "RGBA")), a[:, :, :3])
    np.testing.assert_array_equal(load_image(Image.fromarray(a[:, :, :3])), a[:, :, :3])


@pytest.mark.parametrize("mode", ["1", "L", "LA", "La", "P", "PA", "CMYK", "YCbCr", "RGBX", "RGBa", "HSV", "LAB"])
def test_pil_modes_convert_to_rgb(mode):
    img = Image.new(mode, (7, 4))
    _check_rgb(load_image(img), (4, 7, 3))


def test_pil_palette_with_transparency_uses_palette_colours():
    p = Image.new("P", (3, 2), 1)
    p.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    p.info["transparency"] = 1
    np.testing.assert_array_equal(load_image(p)[0, 0], [10, 20, 30])


def test_pil_16bit_modes():
    a = np.array([[0, 257, 65535]], dtype=np.uint16)
    np.testing.assert_array_equal(load_image(Image.fromarray(a))[0, :, 0], [0, 1, 255])  # mode I;16
    as_i = Image.fromarray(a.astype(np.int32), "I")
    np.testing.assert_array_equal(load_image(as_i)[0, :, 0], [0, 1, 255])
    with pytest.raises(ValueError, match="0..65535"):
        load_image(Image.fromarray(np.array([[-1, 5]], dtype=np.int32), "I"))


def test_pil_float_mode_uses_float_rule():
    f = Image.fromarray(np.array([[0.0, 1.0]], dtype=np.float32), "F")
    np.testing.assert_array_equal(load_image(f)[0, :, 0], [0, 255])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        load_image(Image.fromarray(np.array([[0.0, 200.0]], dtype=np.float32), "F"))


def test_exif_orientation_applied(tmp_path, rng):
    a = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)  # 4 rows, 6 columns
    img = Image.fromarray(a)
    exif = img.getexif()
    exif[0x0112] = 6  # orientation 6: displayed rotated 90 degrees clockwise
    path = tmp_path / "rot.png"
    img.save(path, exif=exif)
    out = load_image(path)
    np.testing.assert_array_equal(out, np.rot90(a, k=-1))
    np.testing.assert_array_equal(load_image(Image.open(path)), out)


# ---- files ----------------------------------------------------------------------------------

def test_load_bundled_png():
    a = load_image(ASTRONAUT)
    _check_rgb(a, (512, 512, 3))
    np.testing.assert_array_equal(load_image(str(ASTRONAUT)), a)


@pytest.mark.parametrize("ext", ["png", "bmp", "tiff", "ppm", "gif", "webp"])
def test_lossless_round_trip(tmp_path, rng, ext):
    a = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    if ext == "gif":  # palette format: use few colours
        a = (a // 128) * 255
    kwargs = {"lossless": True} if ext == "webp" else {}
    Image.fromarray(a).save(tmp_path / f"x.{ext}", **kwargs)
    np.testing.assert_array_equal(load_image(tmp_path / f"x.{ext}"), a)


def test_16bit_png_file(tmp_path):
    a = np.array([[0, 65535, 257 * 100]], dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "g16.png")
    np.testing.assert_array_equal(load_image(tmp_path / "g16.png")[0, :, 1], [0, 255, 100])


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="nope.jpg") as info:
        load_image(tmp_path / "nope.jpg")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ImageNotFoundError)


def test_directory_rejected(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        load_image(tmp_path)


def test_non_image_file(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(ValueError, match="notes.txt.*not an image"):
        load_image(p)


def test_corrupt_and_truncated_files(tmp_path, rng):
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"garbage" * 20)
    with pytest.raises(ValueError, match="corrupt.jpg"):
        load_image(bad)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.png"):
        load_image(tmp_path / "cut.png")
    Image.fromarray(a).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.jpg"):
        load_image(tmp_path / "cut.jpg")
    with pytest.raises(ValueError, match="cannot decode PIL image"):
        load_image(Image.open(tmp_path / "cut.jpg"))  # lazily opened, decoded by load_image


# ---- iter_image_files -------------------------------------------------------------------------

def test_iter_image_files(tmp_path):
    for name in ["b.JPG", "a.png", "notes.txt", "sub/c.webp", "sub/deep/d.tif", ".hidden.png", ".git/e.png",
                 "z.pgm"]:
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    rel = [p.relative_to(tmp_path).as_posix() for p in iter_image_files(tmp_path)]
    assert rel == ["a.png", "b.JPG", "sub/c.webp", "sub/deep/d.tif", "z.pgm"]  # sorted by path components
    flat = [p.name for p in iter_image_files([tmp_path], recursive=False)]
    assert flat == ["a.png", "b.JPG", "z.pgm"]
    # explicit files pass through in argument order whatever their extension; duplicates once
    listed = list(iter_image_files([tmp_path / "notes.txt", tmp_path / "missing.png", tmp_path / "sub",
                                    tmp_path / "sub" / "c.webp"]))
    assert [p.name for p in listed] == ["notes.txt", "missing.png", "c.webp", "d.tif"]
