"""The caffemodel reader/writer, the conversion to params, and the shipped npz files.

The reader is tested on caffemodels the tests write themselves (so a fresh clone without
``../shared`` covers it), on hand-assembled protobuf bytes (independent of the writer), and,
when ``../shared`` is present, on the authors' det1-det4. Expected parameter totals and blob
shapes come from the spec (``MTCNN_SPEC.md`` §1.2-1.7), expected layer names from the
authors' prototxt files.
"""
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from tinymtcnn.weights.caffemodel import read_caffemodel, read_caffemodel_layers, write_caffemodel
from tinymtcnn.weights.convert import caffemodel_to_params, convert_caffemodel, sha256_of
from tinymtcnn.weights.layout import load_params_npz

DATA = Path(__file__).resolve().parents[1] / "tinymtcnn" / "weights" / "data"
NETS = {"det1": "pnet", "det2": "rnet", "det3": "onet", "det4": "lnet"}
# spec §1.6 "Parameter counts (checked against the parsed weight files)"
TOTALS = {"det1": 6632, "det2": 101468, "det3": 389040, "det4": 948102}


def small_layers(rng):
    """A tiny net: non-square conv kernel, PReLU, a blob-less layer, an InnerProduct."""
    return [
        ("conv1", "Convolution", [rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)]),
        ("prelu1", "PReLU", [rng.random(4)]),
        ("pool1", "Pooling", []),
        ("fc", "InnerProduct", [rng.standard_normal((5, 24)), rng.standard_normal(5)]),
    ]


def assert_layers_equal(got, want):
    assert [(l.name, l.type) for l in got] == [(n, t) for n, t, _ in want]
    for layer, (_, _, blobs) in zip(got, want):
        assert len(layer.blobs) == len(blobs)
        for a, b in zip(layer.blobs, blobs):
            assert a.dtype == np.float32
            np.testing.assert_array_equal(a, np.asarray(b, np.float32).reshape(a.shape))


# --------------------------------------------------------------------------- self-written files
@pytest.mark.parametrize("packed", [True, False])
def test_new_format_round_trip(tmp_path, rng, packed):
    layers = small_layers(rng)
    path = tmp_path / "net.caffemodel"
    write_caffemodel(path, layers, net_name="tiny", packed=packed)
    got = read_caffemodel_layers(path)
    assert_layers_equal(got, layers)
    assert [b.shape for b in got[0].blobs] == [(4, 3, 3, 2), (4,)]
    assert read_caffemodel(path)["pool1"] == []
    assert list(read_caffemodel(path)) == ["conv1", "prelu1", "pool1", "fc"]


def test_legacy_dims_and_params_normalisation(tmp_path, rng):
    layers = small_layers(rng)
    path = tmp_path / "legacy.caffemodel"
    write_caffemodel(path, layers, legacy_dims=True, packed=False)
    got = read_caffemodel(path)
    # legacy blobs are always 4-D (num, channels, height, width)
    assert [b.shape for b in got["fc"]] == [(1, 1, 5, 24), (1, 1, 1, 5)]
    assert got["prelu1"][0].shape == (1, 1, 1, 4)
    params = caffemodel_to_params(path)
    assert {k: v.shape for k, v in params.items()} == {
        "conv1.w": (4, 3, 3, 2), "conv1.b": (4,), "prelu1.alpha": (4,), "fc.w": (5, 24), "fc.b": (5,)}
    np.testing.assert_array_equal(params["fc.w"], layers[3][2][0].astype(np.float32))


def test_v1_layers(tmp_path, rng):
    layers = [l for l in small_layers(rng) if l[1] != "PReLU"]  # V1 has no PReLU type
    path = tmp_path / "v1.caffemodel"
    write_caffemodel(path, layers, v1=True)
    assert_layers_equal(read_caffemodel_layers(path), layers)
    with pytest.raises(ValueError, match="PReLU"):
        write_caffemodel(tmp_path / "bad.caffemodel", small_layers(rng), v1=True)


def hand_assembled_ip():
    """A one-layer caffemodel worked out by hand from the wire format, independent of this code."""
    shape = b"\x0a\x02\x01\x02"                                   # BlobShape.dim packed [1, 2]
    data = b"\x2a\x08" + struct.pack("<2f", 1.0, -2.0)            # BlobProto.data packed
    blob = b"\x3a\x04" + shape + data                             # BlobProto.shape (7) + data (5)
    layer = b"\x0a\x02ip" + b"\x12\x0cInnerProduct" + b"\x3a\x10" + blob
    net = b"\xa2\x06\x24" + layer                                 # key (100 << 3 | 2) = 802 -> a2 06
    return net


def test_reader_on_hand_assembled_bytes(tmp_path):
    path = tmp_path / "hand.caffemodel"
    path.write_bytes(hand_assembled_ip())
    (layer,) = read_caffemodel_layers(path)
    assert (layer.name, layer.type) == ("ip", "InnerProduct")
    np.testing.assert_array_equal(layer.blobs[0], np.array([[1.0, -2.0]], np.float32))


def test_writer_matches_hand_assembled_bytes(tmp_path):
    path = tmp_path / "ip.caffemodel"
    write_caffemodel(path, [("ip", "InnerProduct", [np.array([[1.0, -2.0]])])])
    assert path.read_bytes() == hand_assembled_ip()


def test_reader_skips_unknown_fields_of_every_wire_type(tmp_path):
    junk = (b"\x0a\x04test"                  # NetParameter.name
            b"\x20\x18"                      # varint field 4
            b"\x39" + bytes(8) +             # fixed64 field 7
            b"\x45" + bytes(4) +             # fixed32 field 8
            b"\x1a\x01x")                    # string field 3 (input)
    # a blob with legacy dims 1x1x1x2 and double_data (field 8, packed) plus an unknown diff (field 6)
    blob = (b"\x08\x01\x10\x01\x18\x01\x20\x02" + b"\x42\x10" + struct.pack("<2d", 0.5, 3.0)
            + b"\x32\x04" + struct.pack("<f", 9.0))
    layer = b"\x0a\x01p\x12\x05PReLU\x22\x03top\x3a" + bytes([len(blob)]) + blob
    path = tmp_path / "junk.caffemodel"
    path.write_bytes(junk + b"\xa2\x06" + bytes([len(layer)]) + layer + junk)
    (got,) = read_caffemodel_layers(path)
    assert (got.name, got.type) == ("p", "PReLU")
    np.testing.assert_array_equal(got.blobs[0], np.array([[[[0.5, 3.0]]]], np.float32))


# --------------------------------------------------------------------------- errors
def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="not found.*nope.caffemodel"):
        read_caffemodel(tmp_path / "nope.caffemodel")


@pytest.mark.parametrize("cut", [1, 7, 0.5])
def test_truncated_file(tmp_path, rng, cut):
    path = tmp_path / "net.caffemodel"
    write_caffemodel(path, small_layers(rng))
    raw = path.read_bytes()
    n = int(len(raw) * cut) if isinstance(cut, float) else len(raw) - cut
    path.write_bytes(raw[:n])
    with pytest.raises(ValueError, match=re.escape(str(path))):
        read_caffemodel(path)


@pytest.mark.parametrize("content", [
    b"",                                                     # empty
    b'name: "RNet"\ninput: "data"\ninput_dim: 1\n',         # a prototxt (text)
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(40),         # a JPEG header
    b"\x0a\x03abc",                                          # valid protobuf, no layers
    b"\xa2\x06\x05\x0a\x03ab",                               # layer longer than the file
    b"\xa2\x06\x03\x0f\x01\x02",                             # wire type 7 inside a layer
    b"\xa2\x06\x09\x3a\x07\x3a\x02\x0a\x00\x2a\x01\x00",     # packed floats of odd length
    b"\xa2\x06\x0a\x3a\x08\x3a\x02\x0a\x01\x03\x2a\x04" + bytes(4),  # dim 3 but 1 value
])
def test_corrupt_or_foreign_files(tmp_path, content):
    path = tmp_path / "bad.caffemodel"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        read_caffemodel_layers(path)


def test_unsupported_weighted_layer(tmp_path, rng):
    path = tmp_path / "bn.caffemodel"
    write_caffemodel(path, [("bn", "BatchNorm", [rng.random(3), rng.random(3), rng.random(1)])])
    with pytest.raises(ValueError, match="'bn'.*BatchNorm"):
        caffemodel_to_params(path)


def test_convert_writes_npz(tmp_path, rng):
    layers = small_layers(rng)
    src = tmp_path / "net.caffemodel"
    write_caffemodel(src, layers)
    params = convert_caffemodel(src, tmp_path / "net.npz")
    loaded, layout, source = load_params_npz(tmp_path / "net.npz", with_source=True)
    assert layout == "caffe"
    assert source == f"net.caffemodel sha256={sha256_of(src)}"
    assert list(loaded) == ["conv1.w", "conv1.b", "prelu1.alpha", "fc.w", "fc.b"] == list(params)
    for key in params:
        assert loaded[key].dtype == np.float32
        np.testing.assert_array_equal(loaded[key], params[key])


# --------------------------------------------------------------------------- shipped npz files
@pytest.mark.parametrize("det", list(NETS))
def test_shipped_npz(det):
    params, layout, source = load_params_npz(DATA / f"{NETS[det]}.npz", with_source=True)
    assert layout == "caffe" and source.startswith(f"{det}.caffemodel sha256=")
    assert sum(v.size for v in params.values()) == TOTALS[det]
    assert all(v.dtype == np.float32 for v in params.values())
    provenance = (DATA / "PROVENANCE.md").read_text()
    assert sha256_of(DATA / f"{NETS[det]}.npz") in provenance
    assert source.split("sha256=")[1] in provenance
    licence = (DATA / "LICENSE-mtcnn-weights.txt").read_text()
    assert "MIT License" in licence and "Kaipeng Zhang" in licence


# --------------------------------------------------------------------------- the authors' files
def prototxt_weighted_layers(path):
    """(name, type) of the Convolution / InnerProduct / PReLU layers declared in a prototxt."""
    found = re.findall(r'name:\s*"([^"]+)"\s*type:\s*"([^"]+)"', path.read_text())
    return [(n, t) for n, t in found if t in ("Convolution", "InnerProduct", "PReLU")]


@pytest.mark.shared
@pytest.mark.parametrize("det", list(NETS))
def test_authors_caffemodels(shared_dir, det):
    folder = shared_dir / "reference" / "mtcnn_caffe"
    layers = read_caffemodel_layers(folder / f"{det}.caffemodel")
    weighted = [(l.name, l.type) for l in layers if l.blobs]
    declared = prototxt_weighted_layers(folder / f"{det}.prototxt")
    extra = [("conv5-3", "InnerProduct")] if det == "det2" else []  # spec §1.3 finding
    assert [x for x in weighted if x not in extra] == declared
    assert [x for x in weighted if x in extra] == extra
    params = caffemodel_to_params(folder / f"{det}.caffemodel")
    assert sum(v.size for v in params.values()) == TOTALS[det]
    assert all(v.dtype == np.float32 for v in params.values())


@pytest.mark.shared
def test_authors_blob_shapes(shared_dir):
    """Shapes from the spec tables §1.2-1.7."""
    folder = shared_dir / "reference" / "mtcnn_caffe"
    p = {det: caffemodel_to_params(folder / f"{det}.caffemodel") for det in NETS}
    assert p["det1"]["conv1.w"].shape == (10, 3, 3, 3)
    assert p["det1"]["PReLU3.alpha"].shape == (32,)
    assert p["det1"]["conv4-1.w"].shape == (2, 32, 1, 1)
    assert p["det1"]["conv4-2.w"].shape == (4, 32, 1, 1)
    assert p["det2"]["conv3.w"].shape == (64, 48, 2, 2)
    assert p["det2"]["conv4.w"].shape == (128, 576)
    assert p["det2"]["conv5-3.w"].shape == (10, 128)
    assert p["det2"]["conv5-3.w"].size + p["det2"]["conv5-3.b"].size == 1290
    deploy = sum(v.size for k, v in p["det2"].items() if not k.startswith("conv5-3."))
    assert deploy == 100178
    assert p["det3"]["conv4.w"].shape == (128, 64, 2, 2)
    assert p["det3"]["conv5.w"].shape == (256, 1152)
    assert p["det3"]["conv6-3.w"].shape == (10, 256)
    assert p["det4"]["conv1_5.w"].shape == (28, 3, 3, 3)
    assert p["det4"]["fc4.w"].shape == (256, 2880)
    assert p["det4"]["fc5_5.w"].shape == (2, 64)


@pytest.mark.shared
@pytest.mark.parametrize("det", list(NETS))
def test_shipped_npz_equals_fresh_conversion(shared_dir, tmp_path, det):
    caffemodel = shared_dir / "reference" / "mtcnn_caffe" / f"{det}.caffemodel"
    convert_caffemodel(caffemodel, tmp_path / "fresh.npz")
    fresh, fresh_layout, fresh_source = load_params_npz(tmp_path / "fresh.npz", with_source=True)
    shipped, layout, source = load_params_npz(DATA / f"{NETS[det]}.npz", with_source=True)
    assert (layout, source) == (fresh_layout, fresh_source)
    assert list(shipped) == list(fresh)
    for key in fresh:
        assert shipped[key].dtype == fresh[key].dtype
        np.testing.assert_array_equal(shipped[key], fresh[key])
