"""Hard-example mining: labelling of detections, caps, targets; the miner survives pickling."""
import pickle

import numpy as np
import pytest
from _grading_asserts import assert_close

from tinymtcnn.detect.stages import Candidates
from tinymtcnn.nets import PNet
from tinymtcnn.train import mining
from tinymtcnn.train.readers import Photo
from tinymtcnn.train.samples import box_targets


@pytest.mark.task_6_2
def test_detections_are_labelled_by_iou(monkeypatch):
    gt = np.array([[20.0, 20, 60, 60]])
    photo = Photo(np.zeros((100, 100, 3), np.uint8), gt)
    # M's 1-based boxes: (x1+1, y1+1, x2, y2) is the 0-based half-open crop (x1, y1, x2, y2)
    zero_based = np.array([[20, 20, 60, 60],   # IoU 1 -> positive
                           [26, 26, 66, 66],   # IoU ~0.53 -> part
                           [70, 0, 100, 30],   # IoU 0 -> negative
                           [0, 0, 30, 30],     # IoU ~0.06 -> negative
                           [1, 1, 11, 11],     # too small -> skipped
                           [80, 80, 110, 110],  # crosses the border -> skipped
                           [30, 30, 70, 70]])  # IoU ~0.39, in the gap -> skipped
    boxes = (zero_based + [1, 1, 0, 0]).astype(float)
    monkeypatch.setattr(mining, "propose", lambda image, pnet, **kw: Candidates(boxes, np.ones(len(boxes))))
    miner = mining.HardExampleMiner(PNet(rng=np.random.default_rng(0)), max_negatives=1, min_side=20)
    out = miner.photo_crops(photo, np.random.default_rng(0))
    labels = [int(v) for v in out["labels"]]
    assert labels == [1, -1, 0], (f"labels of the mined crops are wrong: expected [1, -1, 0] (IoU 1, ~0.53, 0; the "
                                  f"second negative is over max_negatives, the rest skipped), got {labels}")
    # the crops are the detections themselves (1-based, cut as they are); targets use their 0-based form
    assert_close("crops", np.asarray(out["crops"][:2]).astype(np.int64), boxes[:2].astype(np.int64), rtol=0,
                 atol=0)
    np.testing.assert_allclose(out["boxes"][:2], box_targets(zero_based[:2], np.repeat(gt, 2, 0)), rtol=1e-6)
    assert np.all(out["boxes"][2] == 0)


@pytest.mark.pipeline
def test_miner_pickles_without_caches_and_keeps_its_fingerprint():
    net = PNet(landmark_head=True, rng=np.random.default_rng(1))
    net.forward(np.zeros((2, 3, 12, 12), np.float32))
    miner = mining.HardExampleMiner(net, thresholds=(0.5, 0.2))
    copy = pickle.loads(pickle.dumps(miner))
    assert copy.fingerprint == miner.fingerprint and copy.rnet is None
    for k, v in net.params.items():
        np.testing.assert_array_equal(copy.pnet.params[k], v)


@pytest.mark.pipeline
def test_parallel_build_with_a_miner_equals_the_serial_one(tmp_path):
    """Worker processes (spawned, one thread each) give the shards of a single process, also after
    this process has started its thread pools (a fork there once deadlocked O-Net mining)."""
    from tinymtcnn.threads import limit_threads, parallel_map
    from tinymtcnn.train.dataset import build_samples
    from tinymtcnn.train.samples import SamplingConfig
    from tinymtcnn.train.synthetic import SyntheticFaces
    from tinymtcnn.weights import load_net

    with limit_threads(2):
        parallel_map(np.sum, [np.ones(4)] * 4, n=2)  # pool threads exist (if the machine has 2 cores)
    photos = SyntheticFaces(4, seed=11, faces=(1, 2), min_face=24, max_face=60, size=(96, 80))
    miner = mining.HardExampleMiner(load_net("pnet"), load_net("rnet"), min_face_size=20, thresholds=(0.3, 0.1))
    cfg = SamplingConfig(random_negatives=2, near_negatives=1, face_crops=2, landmark_crops=1)
    one = build_samples(photos, 48, tmp_path / "one", config=cfg, miner=miner, shard_photos=2, workers=1,
                        progress=False, log=lambda m: None)
    two = build_samples(photos, 48, tmp_path / "two", config=cfg, miner=miner, shard_photos=2, workers=2,
                        progress=False, log=lambda m: None)
    assert len(one) > 0 and set(one.arrays) == set(two.arrays)
    for key in one.arrays:
        np.testing.assert_array_equal(one.arrays[key], two.arrays[key])
