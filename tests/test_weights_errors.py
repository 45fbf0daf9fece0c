"""Bad weights input gives a clear ValueError/TypeError naming the file, key or shape - never a crash.

Covers :func:`tinymtcnn.weights.load_net` (missing, mis-shaped, non-finite, non-numeric arrays,
files that are not ``.npz``, missing files, directories) and ``MTCNN(weights=...)`` (directories
lacking a net, dicts with bad paths, keys or values), plus the ``save_net`` -> ``load_net``
round trip in both layouts.
"""
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinymtcnn import MTCNN
from tinymtcnn.weights import (
    FLATTEN_SHAPES,
    NET_KINDS,
    load_net,
    natural_to_caffe,
    pretrained_path,
    save_net,
    save_params_npz,
)

ASTRONAUT = Path(__file__).resolve().parents[1] / "tinymtcnn" / "assets" / "astronaut.png"


def test_net_kinds_are_the_kinds_of_the_net_classes():
    # weights.NET_KINDS stays in tinymtcnn.weights so that importing it does not import the nets (and
    # Numba); it must name exactly the classes of tinymtcnn.nets, in the same order
    from tinymtcnn.nets import NET_CLASSES

    assert NET_KINDS == tuple(NET_CLASSES)


@pytest.fixture(scope="module")
def nets():
    return {k: load_net(k) for k in NET_KINDS}


def _params(net):
    return {k: np.array(v) for k, v in net.params.items()}


def _write(path, params, layout="natural"):
    save_params_npz(path, params, layout)
    return path


def _inputs(kind, rng, n=3):
    size = {"pnet": 17, "rnet": 24, "onet": 48, "lnet": 24}[kind]
    channels = 15 if kind == "lnet" else 3
    return rng.uniform(-1, 1, size=(n, channels, size, size)).astype(np.float32)


# --------------------------------------------------------------------------- load_net: arrays
def test_missing_array_is_named_with_the_path(nets, tmp_path):
    params = _params(nets["pnet"])
    del params["conv2.w"]
    path = _write(tmp_path / "missing.npz", params)
    with pytest.raises(ValueError, match=r"missing \['conv2.w'\]") as err:
        load_net("pnet", path)
    assert str(path) in str(err.value)


def test_misshaped_array_names_key_and_both_shapes(nets, tmp_path):
    params = _params(nets["onet"])
    params["conv3.w"] = params["conv3.w"][:, :, :2]  # (64, 64, 3, 3) -> (64, 64, 2, 3)
    path = _write(tmp_path / "shape.npz", params)
    with pytest.raises(ValueError) as err:
        load_net("onet", path)
    msg = str(err.value)
    assert "conv3.w" in msg and "(64, 64, 3, 3)" in msg and "(64, 64, 2, 3)" in msg and str(path) in msg


def test_wrong_rank_array_is_named(nets, tmp_path):
    params = _params(nets["rnet"])
    params["conv5-2.b"] = params["conv5-2.b"][None]
    with pytest.raises(ValueError, match=re.escape("conv5-2.b: expected (4,), got (1, 4)")):
        load_net("rnet", _write(tmp_path / "rank.npz", params))


def test_file_of_another_net_lists_what_is_wrong(tmp_path, nets):
    path = _write(tmp_path / "onet_as_rnet.npz", _params(nets["onet"]))
    with pytest.raises(ValueError, match=r"cannot load weights into RNet: missing .*mis-shaped conv1.w"):
        load_net("rnet", path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_array_is_named(nets, tmp_path, bad):
    params = _params(nets["pnet"])
    params["conv3.b"][5] = bad
    path = _write(tmp_path / "nan.npz", params)
    with pytest.raises(ValueError, match=r"conv3\.b contain NaN or inf") as err:
        load_net("pnet", path)
    assert str(path) in str(err.value)


def test_caffe_layout_file_missing_or_misshaped_flatten_layer(nets, tmp_path):
    """The Caffe re-ordering of the first InnerProduct must not hide the file or the key."""
    caffe = natural_to_caffe(_params(nets["onet"]), FLATTEN_SHAPES["onet"])
    missing = dict(caffe)
    del missing["conv5.w"]
    path = _write(tmp_path / "caffe_missing.npz", missing, "caffe")
    with pytest.raises(ValueError, match=r"cannot load weights into ONet: missing \['conv5.w'\]") as err:
        load_net("onet", path)
    assert str(path) in str(err.value)
    bad = dict(caffe, **{"conv5.w": caffe["conv5.w"][:, :100]})
    path = _write(tmp_path / "caffe_shape.npz", bad, "caffe")
    with pytest.raises(ValueError, match=re.escape("conv5.w has shape (256, 100)")) as err:
        load_net("onet", path)
    assert str(path) in str(err.value)


def test_non_numeric_entry_is_named(tmp_path):
    path = tmp_path / "strings.npz"
    np.savez(path, __layout__=np.array("natural"), **{"conv1.w": np.array(["a", "b"])})
    with pytest.raises(ValueError, match=r"'conv1.w' has dtype <U1; expected numbers"):
        load_net("pnet", path)


def test_object_array_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "object.npz"
    np.savez(path, __layout__=np.array("natural"), **{"conv1.w": np.array([1, "a"], dtype=object)})
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_net("pnet", path)


# --------------------------------------------------------------------------- load_net: files
def test_text_file_is_not_an_npz(tmp_path):
    path = tmp_path / "weights.npz"
    path.write_text("not weights")
    with pytest.raises(ValueError, match=re.escape(f"{path} is not an .npz file")):
        load_net("onet", path)


def test_plain_npz_without_layout_is_not_a_weights_file(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, x=np.ones(3))
    with pytest.raises(ValueError, match="no '__layout__' entry; not a tinymtcnn weights file"):
        load_net("onet", path)


def test_truncated_npz(tmp_path):
    data = pretrained_path("onet").read_bytes()
    path = tmp_path / "truncated.npz"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_net("onet", path)


def test_corrupt_member_fails_its_crc(tmp_path):
    data = bytearray(pretrained_path("onet").read_bytes())
    with zipfile.ZipFile(pretrained_path("onet")) as zf:
        info = zf.getinfo("conv5.w.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
    data[start:start + 64] = bytes(64)  # inside the deflate stream of conv5.w
    path = tmp_path / "corrupt.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_net("onet", path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(ValueError, match=re.escape(f"weights file not found: {path}")):
        load_net("onet", path)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path} is a directory, not a weights .npz file")):
        load_net("onet", tmp_path)


def test_unknown_kind_with_a_path(tmp_path, nets):
    path = _write(tmp_path / "pnet.npz", _params(nets["pnet"]))
    with pytest.raises(ValueError, match="unknown net 'qnet'"):
        load_net("qnet", path)


# --------------------------------------------------------------------------- MTCNN(weights=...)
@pytest.fixture
def partial_dir(tmp_path, nets):
    """A directory with pnet.npz and rnet.npz only."""
    for k in ("pnet", "rnet"):
        save_net(nets[k], tmp_path / f"{k}.npz")
    return tmp_path


def test_mtcnn_directory_without_onet_names_the_file(partial_dir):
    with pytest.raises(ValueError, match=r"has no onet\.npz") as err:
        MTCNN(weights=partial_dir)
    assert str(partial_dir) in str(err.value) and "pnet.npz" in str(err.value)


def test_mtcnn_directory_as_str_too(partial_dir):
    with pytest.raises(ValueError, match=r"has no onet\.npz"):
        MTCNN(weights=str(partial_dir))


def test_mtcnn_missing_directory(tmp_path):
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'absent'} does not exist")):
        MTCNN(weights=tmp_path / "absent")


def test_mtcnn_file_instead_of_directory_suggests_a_dict(partial_dir):
    with pytest.raises(ValueError, match=r"is a file \(for one net pass a dict"):
        MTCNN(weights=partial_dir / "pnet.npz")


def test_mtcnn_dict_with_a_bad_path_names_it(tmp_path):
    with pytest.raises(ValueError, match=re.escape(f"weights file not found: {tmp_path / 'onet.npz'}")):
        MTCNN(weights={"onet": tmp_path / "onet.npz"})


def test_mtcnn_dict_bad_lnet_path_only_matters_for_refine(tmp_path):
    bad = {"lnet": tmp_path / "lnet.npz"}
    assert MTCNN(landmarks="onet", weights=bad).landmarks == "onet"  # LNet is not loaded for "onet"
    for mode in ("refine", "auto"):  # "auto" (the default) refines large faces with LNet
        with pytest.raises(ValueError, match="lnet.npz"):
            MTCNN(landmarks=mode, weights=bad)


def test_mtcnn_dict_with_a_bad_weights_file(tmp_path, nets):
    params = _params(nets["rnet"])
    params["conv4.w"] = params["conv4.w"][:, :500]
    path = _write(tmp_path / "rnet.npz", params)
    with pytest.raises(ValueError, match=re.escape("conv4.w: expected (128, 576), got (128, 500)")):
        MTCNN(weights={"rnet": path})


def test_mtcnn_dict_unknown_key():
    with pytest.raises(ValueError, match=r"unknown keys 'onett' in weights"):
        MTCNN(weights={"onett": "onet.npz"})


def test_mtcnn_dict_value_of_a_wrong_type():
    with pytest.raises(TypeError, match=r"weights\['pnet'\] must be a path to a .npz file or PNet, got int"):
        MTCNN(weights={"pnet": 3})


def test_mtcnn_dict_net_of_the_wrong_class(nets):
    with pytest.raises(TypeError, match=r"weights\['onet'\] is RNet, expected ONet"):
        MTCNN(weights={"onet": nets["rnet"]})


def test_mtcnn_weights_of_a_wrong_type():
    with pytest.raises(TypeError, match="weights must be None, a directory or a dict, got list"):
        MTCNN(weights=["pnet.npz"])


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("kind", NET_KINDS)
@pytest.mark.pipeline
def test_save_net_load_net_round_trip_is_exact(kind, nets, tmp_path, rng):
    net = nets[kind]
    path = tmp_path / f"{kind}.npz"
    save_net(net, path, source="test")
    back = load_net(kind, path)
    assert list(back.params) == list(net.params)
    for k, v in net.params.items():
        np.testing.assert_array_equal(back.params[k], v, err_msg=k)
    x = _inputs(kind, rng)
    out, out_back = net.forward(x), back.forward(x)
    for k in out:
        np.testing.assert_array_equal(out_back[k], out[k], err_msg=k)
    save_net(back, tmp_path / "again.npz", source="test")
    assert (tmp_path / "again.npz").read_bytes() == path.read_bytes()  # deterministic bytes


@pytest.mark.parametrize("kind", ["rnet", "onet"])
@pytest.mark.pipeline
def test_caffe_layout_export_loads_back_exactly(kind, nets, tmp_path, rng):
    path = _write(tmp_path / f"{kind}.npz", natural_to_caffe(_params(nets[kind]), FLATTEN_SHAPES[kind]), "caffe")
    back = load_net(kind, path)
    x = _inputs(kind, rng)
    np.testing.assert_array_equal(back.forward(x)["box_reg"], nets[kind].forward(x)["box_reg"])


@pytest.mark.pipeline
def test_mtcnn_from_saved_directory_equals_the_shipped_weights(nets, tmp_path):
    for k in ("pnet", "rnet", "onet"):
        save_net(nets[k], tmp_path / f"{k}.npz")
    from PIL import Image
    image = np.asarray(Image.open(ASTRONAUT).convert("RGB"))[::2, ::2]  # 256 x 256, one face
    ours, shipped = MTCNN(weights=tmp_path).detect(image), MTCNN().detect(image)
    assert len(shipped) >= 1
    np.testing.assert_array_equal(ours.boxes, shipped.boxes)
    np.testing.assert_array_equal(ours.landmarks, shipped.landmarks)
