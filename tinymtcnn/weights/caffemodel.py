"""Read (and, for tests, write) Caffe ``.caffemodel`` files without Caffe or protobuf.

A ``.caffemodel`` is a serialised protobuf ``NetParameter``. Only the few fields
that carry weights are needed (field numbers from Caffe's ``caffe.proto``)::

    NetParameter        name = 1, layer = 100 (LayerParameter), layers = 2 (legacy V1LayerParameter)
    LayerParameter      name = 1, type = 2 (string), blobs = 7 (BlobProto)
    V1LayerParameter    name = 4, type = 5 (enum LayerType), blobs = 6 (BlobProto)
    BlobProto           shape = 7 (BlobShape), data = 5 (float), double_data = 8 (double),
                        legacy num/channels/height/width = 1/2/3/4 (int32)
    BlobShape           dim = 1 (int64)

Protobuf wire format: every field starts with a varint key ``(field_number << 3) | wire_type``;
wire type 0 = varint, 1 = fixed 64-bit, 2 = length-delimited (bytes, strings, sub-messages and
*packed* repeated numbers), 5 = fixed 32-bit. A repeated number may arrive packed (one
length-delimited field) or unpacked (one field per element); a reader must accept both.
Fields this module does not need are skipped.

A blob's shape is ``BlobShape.dim`` when present, else the legacy 4-D
``(num, channels, height, width)`` (a missing legacy dim counts as 1), else ``(len(data),)``.
Arrays come back as float32 in Caffe's own layout (see :mod:`tinymtcnn.weights.layout`).
V0 layers (``V1LayerParameter.layer = 1``, pre-2014 files) are not supported.
"""
import struct
from collections import namedtuple
from pathlib import Path

import numpy as np
from ..atomic import atomic_write_bytes

CaffeLayer = namedtuple("CaffeLayer", ["name", "type", "blobs"])
CaffeLayer.__doc__ = "One layer of a caffemodel: ``name`` (str), ``type`` (str), ``blobs`` (list of float32 arrays)."

WIRE_VARINT, WIRE_FIXED64, WIRE_BYTES, WIRE_FIXED32 = 0, 1, 2, 5

# V1LayerParameter.LayerType values -> new-style type strings (subset of Caffe's upgrade table).
V1_LAYER_TYPES = {
    3: "Concat", 4: "Convolution", 5: "Data", 6: "Dropout", 8: "Flatten", 14: "InnerProduct",
    15: "LRN", 17: "Pooling", 18: "ReLU", 19: "Sigmoid", 20: "Softmax", 21: "SoftmaxWithLoss",
    22: "Split", 23: "TanH", 25: "Eltwise", 33: "Slice", 39: "Deconvolution",
}
_V1_TYPE_CODES = {name: code for code, name in V1_LAYER_TYPES.items()}


class _WireError(Exception):
    """Malformed protobuf bytes (turned into a ValueError that names the file)."""


# --------------------------------------------------------------------------- decoding
def _read_varint(buf, pos, end):
    """Decode one base-128 varint at ``buf[pos]``; return ``(value, new_pos)``."""
    value, shift = 0, 0
    while True:
        if pos >= end:
            raise _WireError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise _WireError("varint longer than 10 bytes")


def _iter_fields(buf, start, end):
    """Yield ``(field_number, wire_type, value)`` for the message in ``buf[start:end]``.

    ``value`` is an int for varints, a memoryview of the payload for the other wire types.
    """
    pos = start
    while pos < end:
        key, pos = _read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _WireError("field number 0")
        if wire == WIRE_VARINT:
            value, pos = _read_varint(buf, pos, end)
        elif wire in (WIRE_FIXED64, WIRE_FIXED32):
            size = 8 if wire == WIRE_FIXED64 else 4
            if pos + size > end:
                raise _WireError("truncated fixed-width field")
            value, pos = buf[pos:pos + size], pos + size
        elif wire == WIRE_BYTES:
            size, pos = _read_varint(buf, pos, end)
            if pos + size > end:
                raise _WireError(f"field {number} runs past the end of its message")
            value, pos = buf[pos:pos + size], pos + size
        else:
            raise _WireError(f"unsupported wire type {wire} (field {number})")
        yield number, wire, value


def _signed64(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def _varints(payload):
    """All varints of a packed repeated field."""
    out, pos, end = [], 0, len(payload)
    while pos < end:
        value, pos = _read_varint(payload, pos, end)
        out.append(_signed64(value))
    return out


def _text(payload, what):
    try:
        return bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        raise _WireError(f"{what} is not UTF-8 text") from None


def _parse_blob(payload):
    """BlobProto bytes -> float32 array shaped as the blob says."""
    chunks, dims, legacy = [], None, {}
    for number, wire, value in _iter_fields(payload, 0, len(payload)):
        if number in (5, 8):  # data (float) / double_data (double)
            size, code = (4, "<f4") if number == 5 else (8, "<f8")
            if wire == WIRE_BYTES:
                if len(value) % size:
                    raise _WireError("packed float data of odd length")
                chunks.append(np.frombuffer(value, dtype=code).astype(np.float32))
            elif wire == (WIRE_FIXED32 if number == 5 else WIRE_FIXED64):
                chunks.append(np.frombuffer(value, dtype=code).astype(np.float32))
            else:
                raise _WireError("blob data with a wrong wire type")
        elif number == 7 and wire == WIRE_BYTES:  # BlobShape
            dims = []
            for sub_number, sub_wire, sub_value in _iter_fields(value, 0, len(value)):
                if sub_number == 1 and sub_wire == WIRE_BYTES:
                    dims.extend(_varints(sub_value))
                elif sub_number == 1 and sub_wire == WIRE_VARINT:
                    dims.append(_signed64(sub_value))
        elif number in (1, 2, 3, 4) and wire == WIRE_VARINT:
            legacy[number] = _signed64(value)
    data = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if dims is None and legacy:
        dims = [legacy.get(k, 1) for k in (1, 2, 3, 4)]
    if dims is None:
        dims = [data.size]
    if any(d < 0 for d in dims) or int(np.prod(dims, dtype=np.int64)) != data.size:
        raise _WireError(f"blob shape {tuple(dims)} does not match its {data.size} values")
    return data.reshape(dims)


def _parse_layer(payload, v1):
    """LayerParameter (or V1LayerParameter) bytes -> CaffeLayer."""
    name_field, type_field, blob_field = (4, 5, 6) if v1 else (1, 2, 7)
    name, kind, blobs = "", "", []
    for number, wire, value in _iter_fields(payload, 0, len(payload)):
        if number == name_field and wire == WIRE_BYTES:
            name = _text(value, "layer name")
        elif number == type_field and v1 and wire == WIRE_VARINT:
            kind = V1_LAYER_TYPES.get(value, f"V1:{value}")
        elif number == type_field and not v1 and wire == WIRE_BYTES:
            kind = _text(value, "layer type")
        elif number == blob_field and wire == WIRE_BYTES:
            blobs.append(_parse_blob(value))
    return CaffeLayer(name, kind, blobs)


def read_caffemodel_layers(path):
    """Read every layer of a ``.caffemodel``, in file order.

    Parameters
    ----------
    path : str or os.PathLike
        A binary Caffe ``NetParameter`` file (new ``layer`` = 100 or legacy V1 ``layers`` = 2).

    Returns
    -------
    list of CaffeLayer
        ``(name, type, blobs)``; ``blobs`` are float32 arrays in Caffe layout, e.g. a
        convolution gives ``[w (F, C, KH, KW), b (F,)]``, PReLU ``[alpha (C,)]``, a pooling layer ``[]``.

    Raises
    ------
    ValueError
        The file is missing, truncated or corrupt, or holds no layers (not a caffemodel).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"caffemodel not found: {path}")
    buf = memoryview(path.read_bytes())
    layers = []
    try:
        for number, wire, value in _iter_fields(buf, 0, len(buf)):
            if number in (100, 2) and wire == WIRE_BYTES:
                layers.append(_parse_layer(value, v1=(number == 2)))
    except _WireError as err:
        raise ValueError(f"{path} is not a valid caffemodel (truncated or corrupt: {err})") from None
    if not layers:
        raise ValueError(f"{path} is not a caffemodel: no layers found")
    return layers


def read_caffemodel(path):
    """Map layer name -> list of blobs (float32, Caffe layout), in file order.

    Every layer appears, blob-less ones (pooling, softmax, ...) with an empty list.
    See :func:`read_caffemodel_layers` for parameters and errors; also raises ValueError
    when two layers with the same name both carry blobs.
    """
    out = {}
    for layer in read_caffemodel_layers(path):
        if layer.name in out and out[layer.name] and layer.blobs:
            raise ValueError(f"{path}: two layers named {layer.name!r} both carry weights")
        if layer.name not in out or layer.blobs:
            out[layer.name] = layer.blobs
    return out


# --------------------------------------------------------------------------- encoding
def _varint_bytes(value):
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number, wire):
    return _varint_bytes((number << 3) | wire)


def _bytes_field(number, payload):
    return _key(number, WIRE_BYTES) + _varint_bytes(len(payload)) + payload


def _encode_blob(array, packed, legacy_dims):
    array = np.asarray(array, dtype="<f4")
    if legacy_dims:
        if array.ndim > 4:
            raise ValueError(f"legacy blob dims hold at most 4 axes, got shape {array.shape}")
        dims = (1,) * (4 - array.ndim) + array.shape
        out = b"".join(_key(k, WIRE_VARINT) + _varint_bytes(d) for k, d in zip((1, 2, 3, 4), dims))
    else:
        out = _bytes_field(7, _bytes_field(1, b"".join(_varint_bytes(d) for d in array.shape)))
    flat = array.ravel()
    if packed:
        out += _bytes_field(5, flat.tobytes())
    else:
        out += b"".join(_key(5, WIRE_FIXED32) + struct.pack("<f", v) for v in flat.tolist())
    return out


def write_caffemodel(path, layers, *, net_name="", packed=True, legacy_dims=False, v1=False):
    """Write a minimal ``.caffemodel`` (used by the tests; Caffe itself can read it).

    Parameters
    ----------
    path : str or os.PathLike
        Output file, written atomically (temporary file + ``os.replace``).
    layers : iterable of (name, type, blobs)
        ``type`` a Caffe type string ("Convolution", "InnerProduct", "PReLU", ...);
        ``blobs`` arrays, stored as float32.
    net_name : str
        ``NetParameter.name``.
    packed : bool
        Store blob data as one packed field (True, what Caffe writes) or one fixed32 field per value.
    legacy_dims : bool
        Store shapes as the deprecated 4-D num/channels/height/width (left-padded with 1s)
        instead of ``BlobShape``.
    v1 : bool
        Write deprecated ``V1LayerParameter`` layers (field 2); ``type`` must then be one of
        :data:`V1_LAYER_TYPES` (V1 has no PReLU).
    """
    parts = [_bytes_field(1, net_name.encode("utf-8"))] if net_name else []
    for name, kind, blobs in layers:
        blob_bytes = [_encode_blob(b, packed, legacy_dims) for b in blobs]
        if v1:
            if kind not in _V1_TYPE_CODES:
                raise ValueError(f"layer {name!r}: type {kind!r} has no V1 LayerType code")
            body = _bytes_field(4, name.encode("utf-8")) + _key(5, WIRE_VARINT) + _varint_bytes(_V1_TYPE_CODES[kind])
            body += b"".join(_bytes_field(6, b) for b in blob_bytes)
            parts.append(_bytes_field(2, body))
        else:
            body = _bytes_field(1, name.encode("utf-8")) + _bytes_field(2, kind.encode("utf-8"))
            body += b"".join(_bytes_field(7, b) for b in blob_bytes)
            parts.append(_bytes_field(100, body))
    atomic_write_bytes(path, b"".join(parts))
