"""Parsing helpers of the annotation readers (:mod:`.readers`): decoding a file, numbers, face blocks,
boxes and the records of a JSON list, each error naming the file and the line.
"""
import codecs
import json
import math
import re
from pathlib import Path

import numpy as np


def numbers(parts, path, lineno, count=None):
    """The fields ``parts`` of line ``lineno`` as floats: at least ``count``, all finite (file:line errors)."""
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"{path}:{lineno}: expected numbers, got {' '.join(parts)!r}") from None
    if count is not None and len(vals) < count:
        raise ValueError(f"{path}:{lineno}: expected at least {count} numbers, got {len(vals)}")
    if not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{path}:{lineno}: NaN or infinity in {' '.join(parts)!r}")
    return vals


def read_text(path):
    """``(path, text)`` of an annotation file: UTF-8, a byte-order mark removed.

    Raises ``ValueError`` naming the file when it is missing or unreadable, and the file and line
    when it is not UTF-8 (the choice is explained in :mod:`.readers`).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"annotation file not found: {path}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read annotation file {path}: {err.strerror or err}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValueError(f"{path}: UTF-16 text (byte-order mark {data[:2].hex()}); save the file as UTF-8")
    try:
        return path, data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}); save the file as UTF-8, "
                         f"e.g. iconv -f latin1 -t utf-8") from None


def text_lines(path):
    """``(path, lines)``: the lines of :func:`read_text` (``\\n``, ``\\r\\n`` or ``\\r`` ends)."""
    path, text = read_text(path)
    lines = re.split(r"\r\n|\r|\n", text)
    return path, lines[:-1] if lines and lines[-1] == "" else lines


def check_box(box, where):
    """``ValueError`` naming ``where`` unless ``box`` (x1, y1, x2, y2) has ``x2 > x1`` and ``y2 > y1``."""
    x1, y1, x2, y2 = box
    if not (x2 > x1 and y2 > y1):
        kind = "inverted" if (x2 < x1 or y2 < y1) else "empty"
        raise ValueError(f"{where}: {kind} box x1, y1, x2, y2 = {x1:g}, {y1:g}, {x2:g}, {y2:g} "
                         f"(needs x2 > x1 and y2 > y1)")


def fields(parts, path, lineno, low, high):
    """The numbers of a face line with ``low`` to ``high`` fields (file:line errors otherwise)."""
    if len(parts) > high:
        raise ValueError(f"{path}:{lineno}: expected at most {high} numbers, got {len(parts)}")
    return numbers(parts, path, lineno, low)


def _count(line, path, lineno):
    try:
        n = int(line.strip())
    except ValueError:
        raise ValueError(f"{path}:{lineno}: expected a face count, got {line.strip()!r}") from None
    if n < 0:
        raise ValueError(f"{path}:{lineno}: negative face count {n}")
    return n


def blocks(path, lines, what, rows=lambda n, next_line: n):
    """The ``name / face count / one line per face`` blocks of WIDER and FDDB files.

    Yields ``(name, n, [(lineno, line), ...])``; ``rows(n, next_line)`` says how many lines follow
    the count (WIDER writes a dummy line after a count of 0). Errors name the file and line.
    """
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        name = lines[i].strip()
        if i + 1 >= len(lines):
            raise ValueError(f"{path}:{i + 2}: missing face count after {name!r}")
        n = _count(lines[i + 1], path, i + 2)
        k = rows(n, lines[i + 2] if i + 2 < len(lines) else None)
        if i + 2 + k > len(lines):
            raise ValueError(f"{path}:{len(lines) + 1}: expected {n} {what} for {name!r}, file ended")
        yield name, n, [(i + 3 + j, lines[i + 2 + j]) for j in range(k)]
        i += 2 + k


def json_records(path, text):
    """``[(line, record), ...]``: the elements of the top-level JSON list in ``text`` with the line each
    starts on (for error messages); ``ValueError`` naming file and line for invalid JSON or no list."""
    decoder, space = json.JSONDecoder(), re.compile(r"\s*")

    def fail(i, msg):
        raise ValueError(f"{path}:{text.count(chr(10), 0, i) + 1}: invalid JSON: {msg}")

    i = space.match(text).end()
    if not text.startswith("[", i):
        try:
            json.loads(text)
        except json.JSONDecodeError as err:
            fail(err.pos, err.msg)
        raise ValueError(f"{path}: expected a JSON list of image records")
    records, i = [], space.match(text, i + 1).end()
    while not text.startswith("]", i):
        if records:
            if not text.startswith(",", i):
                fail(i, "expected ',' or ']'")
            i = space.match(text, i + 1).end()
        try:
            rec, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as err:
            fail(err.pos, err.msg)
        records.append((text.count("\n", 0, i) + 1, rec))
        i = space.match(text, end).end()
    end = space.match(text, i + 1).end()
    if end < len(text):
        fail(end, "extra data after the list")
    return records


def json_array(value, shape, where, what):
    """``value`` as a float64 array of exactly ``shape`` (None entries: any length), never reshaped."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):  # strings, ragged lists, objects
        raise ValueError(f"{where}: {what} must be numbers") from None
    if arr.ndim != len(shape) or any(want is not None and got != want for got, want in zip(arr.shape, shape)):
        raise ValueError(f"{where}: {what} must have shape ({', '.join('K' if d is None else str(d) for d in shape)}), "
                         f"got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: {what} hold NaN or infinity")
    return arr
