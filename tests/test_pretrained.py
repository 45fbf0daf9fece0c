"""The shipped nets compute what the authors' Caffe nets compute.

Reference: ``tests/fixtures/nets_reference.npz``, made by ``tools/make_net_fixtures.py``
with OpenCV's ``cv2.dnn`` running the original det1-det4 prototxt + caffemodel on
transposed input (fusion and Winograd off), on inputs the repo may hold (the NASA
astronaut photo, synthetic patches). Every head must agree within 1e-4 absolute.
"""
import numpy as np
import pytest

from tinymtcnn.weights import load_net

TOL = 1e-4


@pytest.fixture(scope="module")
def ref(fixtures_dir):
    with np.load(fixtures_dir / "nets_reference.npz") as z:
        return {k: z[k] for k in z.files}


def _nchw(u8):
    """uint8 (N, H, W, C) natural image -> normalised float32 (N, C, H, W), as the detector feeds the nets."""
    return ((u8.astype(np.float32) - 127.5) * 0.0078125).transpose(0, 3, 1, 2)


def _max_diffs(ref):
    """Largest |ours - reference| per net and head (also used for the closing note)."""
    nets = {k: load_net(k) for k in ("pnet", "rnet", "onet", "lnet")}
    diffs = {}
    for level in sorted({k.split("/")[1] for k in ref if k.startswith("pnet/")}):
        out = nets["pnet"].forward(_nchw(ref[f"pnet/{level}/input"]))
        prob = np.stack([1 - out["face_prob"], out["face_prob"]], axis=1)
        diffs[f"pnet/{level}/prob1"] = np.abs(prob - ref[f"pnet/{level}/prob1"]).max()
        diffs[f"pnet/{level}/conv4-2"] = np.abs(out["box_reg"] - ref[f"pnet/{level}/conv4-2"]).max()
    r = nets["rnet"].forward(_nchw(ref["rnet/input"]))
    diffs["rnet/prob1"] = np.abs(r["face_prob"] - ref["rnet/prob1"][:, 1]).max()
    diffs["rnet/conv5-2"] = np.abs(r["box_reg"] - ref["rnet/conv5-2"]).max()
    o = nets["onet"].forward(_nchw(ref["onet/input"]))
    diffs["onet/prob1"] = np.abs(o["face_prob"] - ref["onet/prob1"][:, 1]).max()
    diffs["onet/conv6-2"] = np.abs(o["box_reg"] - ref["onet/conv6-2"]).max()
    diffs["onet/conv6-3"] = np.abs(o["landmarks"] - ref["onet/conv6-3"]).max()
    lo = nets["lnet"].forward(_nchw(ref["lnet/input"]))["landmark_offsets"]
    for k in range(5):
        diffs[f"lnet/fc5_{k + 1}"] = np.abs(lo[:, k] - ref[f"lnet/fc5_{k + 1}"]).max()
    return diffs


@pytest.mark.pipeline
def test_every_head_matches_the_caffe_reference(ref):
    diffs = _max_diffs(ref)
    assert len(diffs) >= 12 + 3 + 2 + 5
    bad = {k: v for k, v in diffs.items() if not v <= TOL}
    assert not bad, bad


@pytest.mark.pipeline
def test_rnet_undeclared_landmark_head_matches_when_present(ref):
    if "rnet/conv5-3" not in ref:
        pytest.skip("the reference did not expose det2's conv5-3")
    r = load_net("rnet", landmark_head=True).forward(_nchw(ref["rnet/input"]))
    assert np.abs(r["landmarks"] - ref["rnet/conv5-3"]).max() <= TOL


def test_reference_inputs_contain_faces_and_non_faces(ref):
    # the check is only meaningful if the reference itself separates faces from the rest
    for net in ("rnet", "onet"):
        kinds, p = ref[f"{net}/kind"], ref[f"{net}/prob1"][:, 1]
        assert p[np.char.startswith(kinds, "face")].max() > 0.9
        assert p[~np.char.startswith(kinds, "face")].min() < 0.1


@pytest.mark.pipeline
def test_without_the_transposition_the_nets_go_wrong(ref):
    """What breaks if the Caffe weights are used on natural images as they are (spec §2.4)."""
    x = _nchw(ref["onet/input"])
    faces = np.char.startswith(ref["onet/kind"], "face")
    good = load_net("onet").forward(x)
    raw = load_net("onet", transpose=False).forward(x)
    assert np.abs(good["face_prob"] - ref["onet/prob1"][:, 1]).max() <= TOL
    # the faces' scores and landmarks move far from the authors' answers
    assert np.abs(raw["face_prob"][faces] - ref["onet/prob1"][faces, 1]).max() > 0.1
    assert np.abs(raw["landmarks"][faces] - ref["onet/conv6-3"][faces]).max() > 0.05
