"""tinymtcnn.eval metrics against small cases worked out by hand (numbers in the comments)."""
import math

import numpy as np
import pytest

from tinymtcnn.eval import detection as D
from tinymtcnn.eval import landmarks as L
from tinymtcnn.eval.datasets import read_split, split_faces
from tinymtcnn.train.readers import Annotation

# label_detections matches with tinymtcnn.train.samples.iou (assignment task 6.2): not graded per task
uses_task_iou = pytest.mark.pipeline


@uses_task_iou
def test_precision_recall_and_ap_by_hand():
    # photo A: faces g1 = [0,0,10,10], g2 = [20,0,30,10]
    #   d1 [0,0,10,10] 0.9 -> g1 (IoU 1): TP;  d2 [40,40,50,50] 0.8: FP;  d3 [20,0,30,10] 0.6 -> g2: TP
    la, ma = D.label_detections([[0, 0, 10, 10], [40, 40, 50, 50], [20, 0, 30, 10]], [0.9, 0.8, 0.6],
                                [[0, 0, 10, 10], [20, 0, 30, 10]])
    # photo B: face g3 = [0,0,10,10], ignored face [50,50,60,60]
    #   d4 [50,50,60,60] 0.7 -> the ignored face: dropped (-1)
    #   d5 [1,0,11,10] 0.5 -> g3, IoU 90 / 110 = 0.818: TP
    #   d6 [0,0,10,10] 0.4 -> g3 is taken, no other face: FP
    lb, mb = D.label_detections([[50, 50, 60, 60], [1, 0, 11, 10], [0, 0, 10, 10]], [0.7, 0.5, 0.4],
                                [[0, 0, 10, 10]], ignored=[[50, 50, 60, 60]])
    assert la.tolist() == [1, 0, 1] and lb.tolist() == [-1, 1, 0]
    assert ma.all() and mb.all()
    # ranked without the ignored one: .9 TP, .8 FP, .6 TP, .5 TP, .4 FP; 3 faces
    # precision 1, 1/2, 2/3, 3/4, 3/5; recall 1/3, 1/3, 2/3, 1, 1
    # envelope (max to the right) 1, 3/4, 3/4, 3/4, 3/5; recall steps 1/3, 0, 1/3, 1/3, 0
    # AP = (1 + 3/4 + 3/4) / 3 = 5/6
    p, r, ranked, ap = D.precision_recall(np.r_[la, lb], [0.9, 0.8, 0.6, 0.7, 0.5, 0.4], 3)
    np.testing.assert_allclose(p, [1, 1 / 2, 2 / 3, 3 / 4, 3 / 5])
    np.testing.assert_allclose(r, [1 / 3, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(ranked, [0.9, 0.8, 0.6, 0.5, 0.4])
    assert ap == pytest.approx(5 / 6)


def test_ap_edge_cases():
    # every detection right, all faces found: AP 1; half the faces never found: AP 1/2
    assert D.precision_recall([1, 1], [0.9, 0.8], 2)[3] == pytest.approx(1.0)
    assert D.precision_recall([1, 1], [0.9, 0.8], 4)[3] == pytest.approx(0.5)
    # no detection at all: AP 0; no face at all: undefined
    assert D.precision_recall([], [], 3)[3] == 0.0
    assert math.isnan(D.precision_recall([0], [0.5], 0)[3])


def test_ellipse_overlap_by_hand():
    # circle r = 5 in its circumscribed square: intersection 25 pi, IoU 25 pi / 100
    inter, iou = D.ellipse_box_overlap([5, 5, 0.0, 10, 10], [5, 5, 15, 15])
    assert inter == pytest.approx(25 * math.pi, rel=1e-4) and iou == pytest.approx(math.pi / 4, rel=1e-4)
    # upright ellipse (major 10 along y: angle pi/2, FDDB's usual), the lower half of its box:
    # intersection = half the ellipse = 25 pi; union = 100 + 50 pi - 25 pi; IoU 0.4399 (< 0.5)
    inter, iou = D.ellipse_box_overlap([10, 5, math.pi / 2, 0, 0], [-5, 0, 5, 10])
    assert inter == pytest.approx(25 * math.pi, rel=1e-4)
    assert iou == pytest.approx(25 * math.pi / (100 + 25 * math.pi), rel=1e-4)
    # rotated 45 degrees: the axis-aligned box of the ellipse has half-sides sqrt(100/2 + 25/2) = 7.906,
    # the ellipse lies inside it: IoU = 50 pi / (2 * 7.906)^2 = 157.08 / 250 = 0.628
    h = math.sqrt(62.5)
    assert D.ellipse_box_overlap([10, 5, math.pi / 4, 0, 0], [-h, -h, h, h])[1] == pytest.approx(50 * math.pi / 250,
                                                                                              rel=1e-4)
    # disjoint: nothing
    assert D.ellipse_box_overlap([5, 5, 0, 0, 0], [20, 20, 30, 30]) == (0.0, 0.0)


def test_fddb_match_and_discrete_roc_by_hand():
    ellipses = [[10, 5, math.pi / 2, 0, 0], [5, 5, 0, 100, 100]]
    boxes = [[-5, -10, 5, 10],      # ellipse 1, IoU 0.785: TP
             [-5, 0, 5, 10],        # ellipse 1 again, IoU 0.44 (and it is taken): FP
             [95, 95, 105, 105],    # ellipse 2, IoU 0.785: TP
             [200, 200, 210, 210]]  # nothing: FP
    labels, matched = D.label_fddb(boxes, ellipses)
    assert labels.tolist() == [1, 0, 1, 0] and matched.all()
    # scores .9 TP, .8 FP, .7 TP, .7 FP with 4 faces (2 never found):
    # distinct scores .9 -> (0 FP, 1/4), .8 -> (1 FP, 1/4), .7 -> (2 FP, 2/4)
    fp, tpr, thr = D.discrete_roc(labels, [0.9, 0.8, 0.7, 0.7], 4)
    assert fp.tolist() == [0, 1, 2] and tpr.tolist() == [0.25, 0.25, 0.5] and thr.tolist() == [0.9, 0.8, 0.7]
    assert D.tpr_at_fp(fp, tpr, 1) == 0.25 and D.tpr_at_fp(fp, tpr, 5) == 0.5


def test_recall_by_size():
    sizes = D.face_sizes([[0, 0, 10, 10], [0, 0, 30, 30], [0, 0, 30, 30], [0, 0, 200, 200]])
    assert sizes.tolist() == [10, 30, 30, 200]
    rows = D.recall_by_size(sizes, [True, True, False, True])
    assert [(r["faces"], r["recall"]) for r in rows if r["faces"]] == [(1, 1.0), (2, 0.5), (1, 1.0)]
    assert rows[-1]["bin"] == ">= 160 px"


def test_nme_by_hand():
    gt = np.array([[0, 0], [10, 0], [5, 5], [2, 8], [8, 8]], dtype=float)
    pred = gt + [[1, 0], [0, 0], [0, 2], [0, 0], [-2, 0]]  # point errors 1, 0, 2, 0, 2: mean 1
    assert L.nme(pred, gt) == pytest.approx(1 / 10)                               # inter-ocular 10
    assert L.nme(pred, gt, [0, 0, 10, 16], "box") == pytest.approx(1 / math.sqrt(160))  # sqrt(10 * 16)
    with pytest.raises(ValueError, match="norm"):
        L.nme(pred, gt, norm="diagonal")


def test_ced_auc_failure_by_hand():
    errors = [0.02, 0.06, 0.12, np.inf]  # the last face was missed
    # AUC at 8 %: mean(max(0, .08 - e)) / .08 = (.06 + .02 + 0 + 0) / 4 / .08 = 0.25
    # AUC at 10 %: (.08 + .04) / 4 / .10 = 0.3; failures above 10 %: 2 of 4
    assert L.auc(errors, 0.08) == pytest.approx(0.25)
    assert L.auc(errors, 0.10) == pytest.approx(0.30)
    assert L.failure_rate(errors, 0.10) == 0.5
    t, share = L.ced(errors, 0.10, 11)
    assert share[t.round(2).tolist().index(0.05)] == 0.25 and share[t.round(2).tolist().index(0.06)] == 0.5
    # the exact AUC agrees with integrating the step curve numerically
    t, share = L.ced(errors, 0.08, 80001)
    assert np.trapezoid(share, t) / 0.08 == pytest.approx(0.25, abs=1e-4)
    s = L.summarise(errors)
    assert (s["faces"], s["matched"]) == (4, 3) and s["mean"] == pytest.approx(0.2 / 3)
    assert s["failure_10_matched"] == pytest.approx(1 / 3)


def test_match_face_picks_the_box_around_the_points():
    gt = np.array([[40, 40], [60, 40], [50, 50], [42, 60], [58, 60]], dtype=float)
    boxes = [[0, 0, 20, 20], [30, 25, 70, 75], [35, 30, 65, 68]]
    assert L.match_face(boxes, gt) == 2  # both contain the centroid; the tighter has the larger IoU
    assert L.match_face([[0, 0, 20, 20]], gt) == -1 and L.match_face(np.zeros((0, 4)), gt) == -1


def test_wider_split_lists(tmp_path):
    listing = tmp_path / "easy.txt"
    listing.write_text("0--Parade/0_Parade_1.jpg 1 3\n\n0_Parade_2 2\n")
    split = read_split(listing)
    assert split == {"0_Parade_1": {0, 2}, "0_Parade_2": {1}}
    # a photo with faces at file positions 0, 2, 3 (1 was invalid): the setting keeps positions 0 and 2
    a = Annotation(tmp_path / "x.jpg", np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10.]]),
                   ignored=np.array([[60, 0, 70, 10.]]), face_index=np.array([0, 2, 3]), ignored_index=np.array([1]))
    scored, ignored = split_faces(a, split["0_Parade_1"])
    assert scored.tolist() == [[0, 0, 10, 10], [20, 0, 30, 10]]
    assert ignored.tolist() == [[60, 0, 70, 10], [40, 0, 50, 10]]
    bad = tmp_path / "bad.txt"
    bad.write_text("img 0\n")
    with pytest.raises(ValueError, match="start at 1"):
        read_split(bad)
    with pytest.raises(ValueError, match="does not exist"):
        read_split(tmp_path / "missing.txt")
