"""Caffe <-> natural weight layouts (spec §2.3 Option B) and the params npz files.

The numeric checks use a plain-numpy "valid" cross-correlation written here, not the
project's layers: a Caffe-layout net on the transposed image must equal the natural-layout
net on the image itself.
"""
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from tinymtcnn.weights.layout import (FLATTEN_SHAPES, caffe_to_natural, load_params_npz, natural_to_caffe,
                                      save_params_npz)

DATA = Path(__file__).resolve().parents[1] / "tinymtcnn" / "weights" / "data"


def correlate_valid(x, w, b):
    """Caffe convolution (cross-correlation, stride 1, no pad): x (C,H,W), w (F,C,KH,KW) -> (F,H',W')."""
    windows = sliding_window_view(x, w.shape[2:], axis=(1, 2))  # (C, H', W', KH, KW)
    return np.einsum("cijkl,fckl->fij", windows, w) + b[:, None, None]


def random_params(rng):
    """Conv (non-square kernel) -> conv -> first FC over a non-square (C, X, Y) = (3, 4, 2) map -> FC."""
    return {
        "conv1.w": rng.standard_normal((5, 2, 3, 2)), "conv1.b": rng.standard_normal(5),
        "prelu1.alpha": rng.random(5),
        "conv2.w": rng.standard_normal((3, 5, 2, 3)), "conv2.b": rng.standard_normal(3),
        "fc1.w": rng.standard_normal((6, 3 * 4 * 2)), "fc1.b": rng.standard_normal(6),
        "fc2.w": rng.standard_normal((2, 6)), "fc2.b": rng.standard_normal(2),
    }


FLAT = {"fc1": (3, 4, 2)}  # Caffe map (C, X, Y) flattened by fc1


def test_round_trip_and_no_aliasing(rng):
    params = random_params(rng)
    before = {k: v.copy() for k, v in params.items()}
    natural = caffe_to_natural(params, FLAT)
    back = natural_to_caffe(natural, FLAT)
    assert list(back) == list(params)
    for key in params:
        np.testing.assert_array_equal(back[key], params[key])
        np.testing.assert_array_equal(params[key], before[key])  # inputs untouched
        assert not np.shares_memory(natural[key], params[key])
    np.testing.assert_array_equal(natural["conv1.w"], params["conv1.w"].transpose(0, 1, 3, 2))
    assert natural["conv2.w"].shape == (3, 5, 3, 2)
    for key in ("conv1.b", "prelu1.alpha", "fc2.w", "fc2.b"):
        np.testing.assert_array_equal(natural[key], params[key])
    assert not np.array_equal(natural["fc1.w"], params["fc1.w"])


def test_conv_on_transposed_image_equals_swapped_kernel_on_natural_image(rng):
    img = rng.standard_normal((2, 7, 9))           # natural (C, H=y, W=x), non-square
    wc, b = rng.standard_normal((4, 2, 3, 2)), rng.standard_normal(4)
    caffe_out = correlate_valid(img.transpose(0, 2, 1), wc, b)   # Caffe sees (C, x, y)
    wn = caffe_to_natural({"c.w": wc, "c.b": b}, {})["c.w"]
    natural_out = correlate_valid(img, wn, b)
    assert natural_out.shape == (4, 6, 7)      # kernel (3 along x, 2 along y) -> (7-2+1, 9-3+1)
    np.testing.assert_allclose(natural_out, caffe_out.transpose(0, 2, 1), rtol=1e-12, atol=1e-12)


def test_fc_reorder(rng):
    c, x, y = 3, 4, 2
    natural_map = rng.standard_normal((c, y, x))
    transposed_map = natural_map.transpose(0, 2, 1)              # what Caffe flattens: (C, X, Y)
    wc = rng.standard_normal((6, c * x * y))
    wn = caffe_to_natural({"fc.w": wc}, {"fc": (c, x, y)})["fc.w"]
    np.testing.assert_allclose(natural_map.ravel() @ wn.T, transposed_map.ravel() @ wc.T, rtol=1e-12)
    # without the re-order the result differs (spec §2.4, last row)
    assert not np.allclose(natural_map.ravel() @ wc.T, transposed_map.ravel() @ wc.T)


def test_small_net_both_layouts_agree(rng):
    """conv -> PReLU -> conv -> flatten -> FC -> FC: Caffe on the transposed image == natural on the image."""
    params = random_params(rng)
    natural = caffe_to_natural(params, FLAT)

    def run(p, image):
        h = correlate_valid(image, p["conv1.w"], p["conv1.b"])
        h = np.where(h > 0, h, p["prelu1.alpha"][:, None, None] * h)
        h = correlate_valid(h, p["conv2.w"], p["conv2.b"])
        h = p["fc1.w"] @ h.ravel() + p["fc1.b"]
        return p["fc2.w"] @ h + p["fc2.b"]

    img = rng.standard_normal((2, 5, 7))   # (C, y, x): after the two convs the map is (3, y=2, x=4)
    np.testing.assert_allclose(run(natural, img), run(params, img.transpose(0, 2, 1)), rtol=1e-10)


def test_flatten_shape_errors(rng):
    params = random_params(rng)
    with pytest.raises(ValueError, match="'fc9'"):
        caffe_to_natural(params, {"fc9": (3, 4, 2)})
    with pytest.raises(ValueError, match=r"fc1.w.*\(6, 24\)"):
        caffe_to_natural(params, {"fc1": (3, 3, 3)})


@pytest.mark.parametrize("net", list(FLATTEN_SHAPES))
def test_shipped_weights_convert_and_round_trip(net):
    params, layout = load_params_npz(DATA / f"{net}.npz")
    assert layout == "caffe"
    natural = caffe_to_natural(params, FLATTEN_SHAPES[net])
    back = natural_to_caffe(natural, FLATTEN_SHAPES[net])
    for key in params:
        assert natural[key].dtype == np.float32
        np.testing.assert_array_equal(back[key], params[key])


# --------------------------------------------------------------------------- npz files
def test_save_load_round_trip(tmp_path, rng):
    params = {k: v.astype(np.float32) for k, v in random_params(rng).items()}
    path = tmp_path / "w.npz"
    save_params_npz(path, params, "natural", source="unit test")
    loaded, layout, source = load_params_npz(path, with_source=True)
    assert (layout, source) == ("natural", "unit test")
    assert list(loaded) == list(params)
    for key in params:
        np.testing.assert_array_equal(loaded[key], params[key])
    assert os.listdir(tmp_path) == ["w.npz"]                    # no temporary file left behind
    with np.load(path) as plain:                                 # an ordinary npz
        assert str(plain["__layout__"]) == "natural"
    first = path.read_bytes()
    save_params_npz(path, params, "natural", source="unit test")
    assert path.read_bytes() == first                            # deterministic bytes


def test_save_is_atomic(tmp_path, rng, monkeypatch):
    path = tmp_path / "w.npz"
    save_params_npz(path, {"a.w": np.ones(3)}, "caffe")
    good = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", boom)
    with pytest.raises(OSError, match="disk full"):
        save_params_npz(path, {"a.w": np.zeros(3)}, "caffe")
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["w.npz"]


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="layout"):
        save_params_npz(tmp_path / "w.npz", {"a.w": np.ones(2)}, "matlab")
    with pytest.raises(ValueError, match="__x"):
        save_params_npz(tmp_path / "w.npz", {"__x": np.ones(2)}, "caffe")
    with pytest.raises(TypeError, match="a.w"):
        save_params_npz(tmp_path / "w.npz", {"a.w": np.array(["s"])}, "caffe")
    assert not (tmp_path / "w.npz").exists()


def test_load_errors(tmp_path):
    with pytest.raises(ValueError, match="not found.*missing.npz"):
        load_params_npz(tmp_path / "missing.npz")
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="text.npz.*not an .npz"):
        load_params_npz(text)
    bare = tmp_path / "bare.npz"
    np.savez(bare, w=np.ones(2))
    with pytest.raises(ValueError, match="bare.npz.*__layout__"):
        load_params_npz(bare)
    odd = tmp_path / "odd.npz"
    np.savez(odd, __layout__=np.array("upside-down"), w=np.ones(2))
    with pytest.raises(ValueError, match="odd.npz.*upside-down"):
        load_params_npz(odd)
    broken = tmp_path / "broken.npz"
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr("__layout__.npy", b"not an npy payload")
    with pytest.raises(ValueError, match="broken.npz"):
        load_params_npz(broken)
