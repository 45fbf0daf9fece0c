"""The image zoo: every kind of file and array a user may hand to ``load_image`` / ``detect``.

Each case is read correctly (the expected pixels are stated) or refused with a clear error;
none crashes or is read silently wrong. Files are made here with Pillow (or, where Pillow
cannot write them, byte by byte) under ``tmp_path``. The conversion rules themselves are in
``load_image``'s docstring and docs/api.md ("Images"); array edge cases beyond these in
test_io.py and test_bad_input.py.
"""
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymtcnn import MTCNN
from tinymtcnn.io import MultiFrameWarning, load_image

ASTRONAUT = Path(__file__).resolve().parents[1] / "tinymtcnn" / "assets" / "astronaut.png"
ORIENTATION = 0x0112  # the EXIF tag


def _png(width, height, bit_depth, colour_type, rows):
    """A PNG written byte by byte (Pillow cannot write 48-bit RGB, nor lie about its size)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + row for row in rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def face():
    """The bundled photo at 128 x 128 (one face of about 30 px): the detector finds it."""
    return np.ascontiguousarray(np.asarray(Image.open(ASTRONAUT).convert("RGB"))[::4, ::4])


@pytest.fixture(scope="module")
def detector():
    return MTCNN(num_threads=1)


def _quadrants():
    """40 x 60 RGB, four flat quadrants: any rotation or flip is visible, JPEG keeps them."""
    a = np.zeros((40, 60, 3), np.uint8)
    a[:20, :30] = (250, 10, 10)
    a[:20, 30:] = (10, 250, 10)
    a[20:, :30] = (10, 10, 250)
    a[20:, 30:] = (250, 250, 10)
    return a


def _no_warning(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_image(path)


# --------------------------------------------------------------------------- 16-bit
def test_16bit_gray_png_scaled_to_8_bits(tmp_path):
    a = np.array([[0, 128, 129, 257 * 100, 65535]], np.uint16)
    Image.fromarray(a).save(tmp_path / "gray16.png")  # mode I;16
    expected = [0, 0, 1, 100, 255]  # round(x * 255 / 65535)
    np.testing.assert_array_equal(load_image(tmp_path / "gray16.png")[0, :, 0], expected)


def test_32bit_int_tiff_read_as_16_bit_or_refused(tmp_path):
    Image.fromarray(np.array([[0, 257 * 3, 65535]], np.int32), "I").save(tmp_path / "int.tif")
    np.testing.assert_array_equal(load_image(tmp_path / "int.tif")[0, :, 2], [0, 3, 255])
    Image.fromarray(np.array([[0, 70000]], np.int32), "I").save(tmp_path / "wide.tif")
    with pytest.raises(ValueError, match=r"mode 'I' is read as 16-bit.*got range 0..70000"):
        load_image(tmp_path / "wide.tif")


def test_48bit_rgb_png_keeps_the_high_byte(tmp_path):
    a = np.array([[[0, 257 * 10, 65535], [0x80FF, 0x0100, 0x00FF]]], ">u2")
    (tmp_path / "rgb48.png").write_bytes(_png(2, 1, 16, 2, [a[0].tobytes()]))
    np.testing.assert_array_equal(load_image(tmp_path / "rgb48.png")[0], a[0] >> 8)  # Pillow's 16 -> 8 bits


@pytest.mark.pipeline
def test_16bit_rgb_photo_is_detected(tmp_path, face, detector):
    deep = face.astype(">u2") * 257
    (tmp_path / "face48.png").write_bytes(_png(128, 128, 16, 2, [row.tobytes() for row in deep]))
    np.testing.assert_array_equal(load_image(tmp_path / "face48.png"), face)
    assert len(detector.detect(tmp_path / "face48.png")) == 1


# --------------------------------------------------------------------------- palette, alpha, CMYK
def test_palette_with_transparency_png_uses_the_palette_colours(tmp_path):
    p = Image.new("P", (3, 2), 1)
    p.putpalette([0, 0, 0, 10, 20, 30, 200, 100, 50] + [0] * 759)
    p.putpixel((2, 1), 2)
    p.save(tmp_path / "trns.png", transparency=1)  # a tRNS chunk: colour 1 fully transparent
    assert Image.open(tmp_path / "trns.png").info.get("transparency") == 1
    out = load_image(tmp_path / "trns.png")
    np.testing.assert_array_equal(out[0, 0], [10, 20, 30])  # alpha dropped, colour kept
    np.testing.assert_array_equal(out[1, 2], [200, 100, 50])


@pytest.mark.parametrize("mode, pixel, expected", [("LA", (90, 0), (90, 90, 90)), ("LA", (90, 255), (90, 90, 90)),
                                                   ("RGBA", (1, 2, 3, 0), (1, 2, 3)),
                                                   ("RGBA", (1, 2, 3, 128), (1, 2, 3))])
def test_alpha_dropped_not_composited(tmp_path, mode, pixel, expected):
    Image.new(mode, (5, 4), pixel).save(tmp_path / "alpha.png")
    out = load_image(tmp_path / "alpha.png")
    assert out.shape == (4, 5, 3)
    np.testing.assert_array_equal(out[3, 4], expected)


@pytest.mark.pipeline
def test_cmyk_jpeg_converted_to_rgb(tmp_path, face, detector):
    colours = {(0, 255, 255, 0): (255, 0, 0), (255, 0, 255, 0): (0, 255, 0), (0, 0, 0, 255): (0, 0, 0)}
    for cmyk, rgb in colours.items():
        Image.new("CMYK", (16, 16), cmyk).save(tmp_path / "cmyk.jpg", quality=95)
        assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
        np.testing.assert_allclose(load_image(tmp_path / "cmyk.jpg")[8, 8], rgb, atol=3)
    Image.fromarray(face).convert("CMYK").save(tmp_path / "face.jpg", quality=95)
    assert len(detector.detect(tmp_path / "face.jpg")) == 1


# --------------------------------------------------------------------------- WebP, GIF, TIFF: frames
def test_webp_lossless_exact_and_lossy_close(tmp_path):
    a = _quadrants()
    Image.fromarray(a).save(tmp_path / "exact.webp", lossless=True)
    np.testing.assert_array_equal(_no_warning(tmp_path / "exact.webp"), a)
    Image.fromarray(a).save(tmp_path / "lossy.webp", quality=90)
    assert np.abs(_no_warning(tmp_path / "lossy.webp").astype(int) - a).mean() < 4


def _two_frames(path, **kwargs):
    first, second = Image.new("RGB", (6, 4), (255, 0, 0)), Image.new("RGB", (6, 4), (0, 0, 255))
    first.save(path, save_all=True, append_images=[second], **kwargs)


@pytest.mark.parametrize("name, kwargs", [("anim.gif", dict(duration=100, loop=0)), ("pages.tif", {}),
                                          ("anim.webp", dict(lossless=True)), ("anim.png", {})])
def test_several_frames_give_the_first_and_a_warning(tmp_path, name, kwargs):
    _two_frames(tmp_path / name, **kwargs)
    assert Image.open(tmp_path / name).n_frames == 2
    with pytest.warns(MultiFrameWarning, match=re.escape(f"{str(tmp_path / name)!r} holds 2 frames or pages; "
                                                         "only the first was read")):
        out = load_image(tmp_path / name)
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])


def test_one_frame_gif_and_tiff_give_no_warning(tmp_path):
    for name in ("one.gif", "one.tif"):
        Image.new("RGB", (6, 4), (0, 255, 0)).save(tmp_path / name)
        np.testing.assert_array_equal(_no_warning(tmp_path / name)[3, 5], [0, 255, 0])


def test_a_chosen_page_is_read_through_pillow(tmp_path):
    _two_frames(tmp_path / "pages.tif")
    with Image.open(tmp_path / "pages.tif") as img:
        img.seek(1)
        np.testing.assert_array_equal(load_image(img)[0, 0], [0, 0, 255])  # no warning: the caller chose


# --------------------------------------------------------------------------- EXIF orientation
# orientation -> what undoes it (as a viewer shows the photo): 3 turn 180, 6 turn 90 clockwise, 8 anticlockwise
UPRIGHT = {3: lambda a: np.rot90(a, 2), 6: lambda a: np.rot90(a, -1), 8: lambda a: np.rot90(a, 1)}


@pytest.mark.parametrize("orientation", [3, 6, 8])
@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_exif_orientation_applied(tmp_path, orientation, ext):
    a = _quadrants()
    img = Image.fromarray(a)
    exif = img.getexif()
    exif[ORIENTATION] = orientation
    img.save(tmp_path / f"rot.{ext}", exif=exif, **({"quality": 95} if ext == "jpg" else {}))
    out, expected = load_image(tmp_path / f"rot.{ext}"), UPRIGHT[orientation](a)
    assert out.shape == expected.shape
    if ext == "png":
        np.testing.assert_array_equal(out, expected)
    else:  # JPEG blurs the quadrants' edges only
        assert np.abs(out.astype(int) - expected).mean() < 4


@pytest.mark.pipeline
def test_rotated_photo_is_detected_upright(tmp_path, face, detector):
    img = Image.fromarray(np.rot90(face, 1))  # stored on its side, EXIF 6 says turn it back
    exif = img.getexif()
    exif[ORIENTATION] = 6
    img.save(tmp_path / "side.png", exif=exif)
    np.testing.assert_array_equal(detector.detect(tmp_path / "side.png").boxes, detector.detect(face).boxes)


# --------------------------------------------------------------------------- huge, truncated, unreadable
def test_huge_declared_png_refused_from_its_header(tmp_path):
    (tmp_path / "huge.png").write_bytes(_png(100_000, 100_000, 8, 2, [b"\0\0\0"]))  # 69 bytes
    with pytest.raises(ValueError, match=r"declares 10,000,000,000 pixels.*about 30 GB.*Pillow: Image size "
                                         r"\(10000000000 pixels\) exceeds limit") as err:
        load_image(tmp_path / "huge.png")
    assert "corrupt" not in str(err.value) and "PIL.Image.MAX_IMAGE_PIXELS = 10000000000" in str(err.value)


def test_huge_declared_gif_refused(tmp_path):
    gif = (b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0) + b"," + struct.pack("<HHHHB", 0, 0, 65535,
                                                                                        65535, 0) + b"\x02\x02D\x01\0;")
    (tmp_path / "huge.gif").write_bytes(gif)
    with pytest.raises(ValueError, match=r"huge\.gif' declares 4,294,836,225 pixels, more than Pillow's limit"):
        load_image(tmp_path / "huge.gif")


@pytest.mark.parametrize("ext, kwargs", [("png", {}), ("jpg", {"quality": 90}), ("gif", {}), ("webp", {}),
                                         ("tif", {}), ("bmp", {})])
def test_truncated_files_refused_naming_the_path(tmp_path, rng, ext, kwargs):
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / f"full.{ext}", **kwargs)
    data = (tmp_path / f"full.{ext}").read_bytes()
    (tmp_path / f"cut.{ext}").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=re.escape(repr(str(tmp_path / f"cut.{ext}")))):
        load_image(tmp_path / f"cut.{ext}")


def test_unreadable_file_says_permission_not_corruption(tmp_path, monkeypatch):
    Image.new("RGB", (4, 4)).save(tmp_path / "locked.png")

    def denied(path, *args, **kwargs):  # as open() on a file without read permission (root may read anything)
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(Image, "open", denied)
    with pytest.raises(ValueError, match=r"cannot read '.*locked\.png': Permission denied$"):
        load_image(tmp_path / "locked.png")


# --------------------------------------------------------------------------- strings that are no paths
@pytest.mark.parametrize("text, match", [
    ("https://example.com/face.jpg", r"URLs are not supported, got 'https://example.com/face.jpg': download"),
    ("s3://bucket/face.jpg", "URLs are not supported"),
    ("data:image/png;base64,iVBORw0KGgo=", "data: URIs are not supported.*base64"),
    ("", "image path is empty"),
    ("face\0.jpg", "contains a NUL character"),
    ("x" * 5000, r"'x{80}'\.\.\. \(5,000 characters\) is not a usable file path"),
])
def test_strings_that_are_no_paths(text, match):
    with pytest.raises(ValueError, match=match):
        load_image(text)


def test_bytes_get_a_hint():
    with pytest.raises(TypeError, match=r"got bytes \(for encoded image bytes use PIL.Image.open\(io.BytesIO"):
        load_image(ASTRONAUT.read_bytes())


# --------------------------------------------------------------------------- arrays
@pytest.mark.pipeline
def test_read_only_non_contiguous_big_endian_array(face, detector):
    deep = np.zeros((128, 256, 3), ">u2")
    deep[:, ::2] = face.astype(np.uint16) * 257
    view = deep[:, ::2]
    view.flags.writeable = False
    np.testing.assert_array_equal(load_image(view), face)
    assert len(detector.detect(view)) == 1


def test_float_rule_unit_range_only():
    np.testing.assert_array_equal(load_image(np.array([[0.0, 0.5, 1.0]], np.float32))[0, :, 0], [0, 128, 255])
    with pytest.raises(ValueError, match=r"floats must be in \[0, 1\]; got range 0..255.*use uint8"):
        load_image(np.array([[0.0, 255.0]]))


@pytest.mark.parametrize("array, error, match", [
    (np.zeros((8, 8, 3), np.int16), TypeError, r"dtype must be uint8.*got int16.*astype\(np.uint8\)"),
    (np.zeros((8, 8, 3), np.complex64), TypeError, "dtype must be uint8, uint16, bool or float16/32/64, got complex64"),
    (np.zeros((3, 8, 8), np.uint8), ValueError, "looks channels-first"),
    (np.zeros((8, 8, 5), np.uint8), ValueError, "1, 2, 3 or 4 channels"),
    (np.zeros((2, 8, 8, 3), np.uint8), ValueError, r"must have shape \(H, W\)"),
])
def test_wrong_dtypes_and_shapes(array, error, match):
    with pytest.raises(error, match=match):
        load_image(array)
