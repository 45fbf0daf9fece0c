"""Image input: anything reasonable -> ``(H, W, 3)`` uint8 RGB, or a clear error.

:func:`load_image` is what :meth:`tinymtcnn.MTCNN.detect` calls first, so every entry
point of the package accepts the same inputs and rejects the same mistakes.
:func:`iter_image_files` expands command-line style path lists into image files.
"""
import os
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})

_UINT16_MAX = 65535
_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]+://|data:[^,]*,)")


class ImageNotFoundError(FileNotFoundError, ValueError):
    """A path given as an image does not exist (both a ``FileNotFoundError`` and a ``ValueError``)."""


class MultiFrameWarning(UserWarning):
    """A file holds several frames or pages (animated GIF/WebP/PNG, multi-page TIFF); only the
    first was read. Filter it with ``warnings.simplefilter("ignore", MultiFrameWarning)``."""


def load_image(source):
    """Load an image as a C-contiguous ``(H, W, 3)`` uint8 RGB array.

    Parameters
    ----------
    source : str, os.PathLike, PIL.Image.Image or numpy.ndarray
        * **path** (``str`` / ``Path``): decoded with Pillow; the EXIF orientation tag is
          applied (``ImageOps.exif_transpose``), so the array is upright as a photo viewer
          shows it. A file of several frames or pages (animated GIF/WebP/PNG, multi-page
          TIFF) gives its **first** frame and a :class:`MultiFrameWarning` naming the file
          and the count (to read another, open it with Pillow, ``seek(i)``, pass the image).
          A file declaring more pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` is refused from
          its header, before decoding (raise that limit, or set it to None, to allow it).
          URLs are not paths: download the file first.
        * **PIL image**: EXIF orientation applied as for paths (the current frame; no pixel
          limit: you opened it), then converted by mode:
          ``1, L, P, LA, PA, RGB, RGBA, RGBX, RGBa, La, CMYK, YCbCr, HSV, LAB`` -> RGB (alpha
          dropped, palette expanded); ``I;16*`` as 16-bit (see uint16 below); ``I`` (int32)
          as 16-bit, which is how Pillow decodes 16-bit PNG/TIFF, so values must lie in
          ``0..65535``; ``F`` (float32) with the float rule below.
        * **numpy array** of shape ``(H, W)`` (gray), ``(H, W, 1)`` (gray), ``(H, W, 2)``
          (gray + alpha), ``(H, W, 3)`` (RGB) or ``(H, W, 4)`` (RGBA), any strides (read-only,
          non-contiguous, negative strides, big-endian: read, never modified). **The alpha
          channel is dropped** (not composited): transparent pixels keep their colour values.
          Gray is repeated into the three channels. Accepted dtypes:

          - ``uint8``: used as is;
          - ``uint16``: ``round(x * 255 / 65535)`` (full 16-bit range, i.e. ``round(x / 257)``);
          - ``bool``: ``False -> 0``, ``True -> 255``;
          - ``float16/32/64``: values must be finite and in ``[0, 1]``;
            ``round(x * 255)``.

          Signed integers (``int8 .. int64``), ``uint32``/``uint64``, complex and object
          arrays are rejected with ``TypeError``: their range is ambiguous (an ``int64``
          array usually holds 0..255 values, but a silent guess would be wrong for the
          others). Convert explicitly, e.g. ``a.astype(np.uint8)``.

    Returns
    -------
    ndarray (H, W, 3) uint8
        RGB, C-contiguous. The input is never modified; a uint8 ``(H, W, 3)`` C-contiguous
        array is returned as is (no copy). Tiny images (smaller than the 12 px P-Net
        window) are accepted: the detector simply finds no face in them.

    Raises
    ------
    TypeError
        Unsupported source type (``bytes`` included: wrap encoded bytes in
        ``PIL.Image.open(io.BytesIO(data))``) or array dtype.
    ValueError
        Empty array, wrong rank or channel count, NaN/inf or out-of-range floats,
        a directory, a URL or other string that is no usable path, a file over Pillow's
        pixel limit, a corrupt/truncated/non-image/unreadable file (the message names the
        path). A missing file raises :class:`ImageNotFoundError`, which is both a
        ``ValueError`` and a ``FileNotFoundError``.
    """
    if isinstance(source, (str, os.PathLike)):
        return _from_pil(_open_path(source))
    if isinstance(source, Image.Image):
        try:
            source.load()  # a lazily opened file is decoded here
        except (OSError, SyntaxError, ValueError) as exc:
            raise ValueError(f"cannot decode PIL image (corrupt or truncated file?): {exc}") from exc
        return _from_pil(ImageOps.exif_transpose(source))
    if isinstance(source, np.ndarray):
        return _from_array(source, what="image array")
    hint = " (for encoded image bytes use PIL.Image.open(io.BytesIO(data)))" if isinstance(source, bytes) else ""
    raise TypeError(f"image must be a path (str/Path), a PIL image or a numpy array, "
                    f"got {type(source).__name__}{hint}")


def _short(text, limit=80):
    """``repr`` of ``text``, cut to about ``limit`` characters for a message."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text):,} characters)"


def _check_path(source):
    """``source`` as a Path of an existing file, or the reason why it is none."""
    text = os.fspath(source)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text == "":
        raise ValueError("image path is empty")
    if "\0" in text:
        raise ValueError(f"{_short(text)} is not a file path (it contains a NUL character)")
    path = Path(text)
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as exc:  # e.g. a name too long: a string that was never meant as a path
        raise ValueError(f"{_short(text)} is not a usable file path: {exc.strerror or exc}") from None
    if not exists and isinstance(source, str) and _URL.match(text):
        if text.startswith("data:"):
            raise ValueError(f"data: URIs are not supported, got {_short(text)}: decode it first, e.g. "
                             f"PIL.Image.open(io.BytesIO(base64.b64decode(uri.split(',', 1)[1])))")
        raise ValueError(f"URLs are not supported, got {_short(text)}: download the file first "
                         f"(e.g. urllib.request.urlretrieve(url, 'photo.jpg')) and pass its path")
    if not exists:
        raise ImageNotFoundError(2, "image file not found", text)
    if is_dir:
        raise ValueError(f"{text!r} is a directory, not an image file "
                         f"(use tinymtcnn.io.iter_image_files to list the images in it)")
    return path


def _pixel_limit_error(path, pixels, size="", reason=""):
    """The refusal of a file over ``PIL.Image.MAX_IMAGE_PIXELS`` (found from its header)."""
    reason = f" (Pillow: {reason})" if reason else ""
    return ValueError(f"{str(path)!r} declares {size}{pixels:,} pixels, more than Pillow's limit "
                      f"PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS:,}; decoding would need about "
                      f"{pixels * 3 / 1e9:.2g} GB{reason}. If you trust the file, raise the limit first: "
                      f"PIL.Image.MAX_IMAGE_PIXELS = {pixels} (None: no limit)")


def _open_path(source):
    path = _check_path(source)
    try:
        img = Image.open(path)  # reads the header only
    except UnidentifiedImageError:
        raise ValueError(f"{str(path)!r} is not an image file Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # Pillow's own check
        declared = re.search(r"\((\d+) pixels\)", str(exc))
        raise _pixel_limit_error(path, int(declared.group(1)) if declared else 0, reason=str(exc)) from None
    except OSError as exc:
        raise _read_error(path, exc) from exc
    with img:
        limit, pixels = Image.MAX_IMAGE_PIXELS, img.width * img.height
        if limit is not None and pixels > limit:
            raise _pixel_limit_error(path, pixels, size=f"{img.width}x{img.height} = ")
        frames = getattr(img, "n_frames", 1)
        try:
            img.load()  # decode now: truncated files fail here
            upright = ImageOps.exif_transpose(img)
        except (OSError, SyntaxError, ValueError) as exc:
            raise _read_error(path, exc) from exc
    if frames > 1:
        warnings.warn(f"{str(path)!r} holds {frames} frames or pages; only the first was read",
                      MultiFrameWarning, stacklevel=3)
    return upright


def _read_error(path, exc):
    """A file that opened but cannot be read: the file system's reason, or a decoding error."""
    if getattr(exc, "errno", None) is not None:  # permission denied, I/O error, ...: not the content
        return ValueError(f"cannot read {str(path)!r}: {exc.strerror or exc}")
    return ValueError(f"cannot decode image {str(path)!r} (corrupt or truncated?): {exc}")


def _from_pil(img):
    mode = img.mode
    if mode.startswith("I;16"):
        return _from_array(np.asarray(img), what=f"PIL image (mode {mode})")
    if mode == "I":
        a = np.asarray(img)
        if a.size and (a.min() < 0 or a.max() > _UINT16_MAX):
            raise ValueError(f"PIL image of mode 'I' is read as 16-bit, values must be in 0..65535; "
                             f"got range {a.min()}..{a.max()}")
        return _from_array(a.astype(np.uint16), what="PIL image (mode I)")
    if mode == "F":
        return _from_array(np.asarray(img), what="PIL image (mode F)")
    if mode in ("P", "PA"):
        img = img.convert("RGBA")  # palette transparency handled by Pillow, then dropped below
    elif mode == "La":
        img = img.convert("LA")
    try:
        rgb = img.convert("RGB")
    except ValueError as exc:
        raise TypeError(f"unsupported PIL image mode {mode!r}: {exc}") from exc
    return _from_array(np.asarray(rgb), what=f"PIL image (mode {mode})")


def _from_array(a, what):
    if a.dtype.kind == "c" or a.dtype.kind in "iOSUVMm" or (a.dtype.kind == "u" and a.itemsize > 2):
        hint = " (convert explicitly, e.g. a.astype(np.uint8) for 0..255 values)" if a.dtype.kind in "iu" else ""
        raise TypeError(f"{what} dtype must be uint8, uint16, bool or float16/32/64, got {a.dtype}{hint}")
    if a.ndim not in (2, 3):
        raise ValueError(f"{what} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {a.shape}")
    if a.ndim == 3 and a.shape[2] not in (1, 2, 3, 4):
        hint = ""
        if a.shape[0] in (1, 3, 4):
            hint = "; it looks channels-first, use np.transpose(a, (1, 2, 0))"
        raise ValueError(f"{what} must have 1, 2, 3 or 4 channels in the last axis, got shape {a.shape}{hint}")
    if a.size == 0:
        raise ValueError(f"{what} is empty: shape {a.shape}")
    a = _to_uint8(a, what)
    if a.ndim == 2:
        a = a[:, :, None]
    channels = a.shape[2]
    if channels in (1, 2):  # gray (+ alpha, dropped)
        a = np.repeat(a[:, :, :1], 3, axis=2)
    elif channels == 4:  # RGBA: alpha dropped
        a = a[:, :, :3]
    return np.ascontiguousarray(a)


def _to_uint8(a, what):
    kind = a.dtype.kind
    if a.dtype == np.uint8:
        return a
    if kind == "b":
        return a.astype(np.uint8) * np.uint8(255)
    if kind == "u":  # uint16 (wider ones rejected above); round(x/257) exactly in integers
        return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    # floating
    x = a.astype(np.float64) if a.dtype.itemsize < 4 else a
    finite = np.isfinite(x)
    if not finite.all():
        n_bad = int(x.size - finite.sum())
        raise ValueError(f"{what} contains {n_bad} NaN/inf value(s); floats must be finite and in [0, 1]")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"{what}: floats must be in [0, 1]; got range {lo:g}..{hi:g} - "
                         f"did you pass 0..255 values as float? use uint8")
    return np.rint(x * 255.0).astype(np.uint8)


def iter_image_files(paths, recursive=True):
    """Expand paths into image files, directories walked in sorted order.

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        Files and directories. A path that is not a directory (a file, or a path that does
        not exist) is yielded as given, whatever its extension, so that the caller can
        report it (e.g. :func:`load_image` raises a clear error for it).
    recursive : bool
        Walk sub-directories too.

    Yields
    ------
    pathlib.Path
        For each directory, the files under it whose extension (case-insensitive) is one
        of ``jpg jpeg png bmp gif tif tiff webp ppm pgm``, sorted by their path relative to
        the directory; names starting with ``.`` (hidden files and folders, macOS ``._*``
        resource forks) are skipped. Arguments keep their order; a file reached twice is
        yielded once.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    seen = set()
    for p in paths:
        p = Path(p)
        found = _image_files_in(p, recursive) if p.is_dir() else [p]
        for f in found:
            key = os.path.normcase(os.path.abspath(f))
            if key not in seen:
                seen.add(key)
                yield f


def _image_files_in(directory, recursive):
    candidates = directory.rglob("*") if recursive else directory.iterdir()
    files = []
    for f in candidates:
        rel = f.relative_to(directory)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file():
            files.append((rel.parts, f))
    return [f for _, f in sorted(files)]
