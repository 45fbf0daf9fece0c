"""Evaluation on a real Dask ``LocalCluster`` (tests/_dask_cluster.py): the metrics of the local run, also
when workers are killed mid-run; what a task carries to rebuild the detector on any worker."""
import json

import numpy as np
import pytest
from PIL import Image

from _dask_cluster import (  # noqa: F401 - the fixtures pytest finds here by name
    ASTRONAUT, client, kill_after_the_first_result, own_client, photo_dir)
from tinymtcnn import cli, distributed as tm_distributed

# a cluster that stops answering fails its test after this long instead of hanging CI (pytest-timeout)
pytestmark = pytest.mark.timeout(300)


def test_tasks_carry_weights_by_absolute_path_never_nets_in_memory(tmp_path, monkeypatch):
    """What a task carries rebuilds the detector on any worker: paths made absolute, nets in memory refused."""
    import shutil

    from tinymtcnn import MTCNN
    from tinymtcnn.eval.run import detector_settings
    from tinymtcnn.weights import load_net, pretrained_path

    (tmp_path / "w").mkdir()
    for kind in ("pnet", "rnet", "onet"):
        shutil.copy(pretrained_path(kind), tmp_path / "w" / f"{kind}.npz")
    monkeypatch.chdir(tmp_path)
    assert tm_distributed.detector_options({"weights": "w"})["weights"] == str(tmp_path / "w")
    assert tm_distributed.detector_options({"weights": {"onet": "w/onet.npz"}})["weights"] == \
        {"onet": str(tmp_path / "w" / "onet.npz")}
    with pytest.raises(TypeError, match=r"\['pnet'\] are nets in memory"):
        tm_distributed.detector_options({"weights": {"pnet": load_net("pnet")}})

    detector = MTCNN(min_face_size=30, thresholds=(0.5, 0.6, 0.65), landmarks="onet", weights="w", max_memory=2e9)
    settings = tm_distributed.detector_options(detector_settings(detector))
    rebuilt = tm_distributed.worker_detector(json.loads(json.dumps(settings)))  # as a worker gets them
    assert repr(rebuilt) == repr(detector) and rebuilt.max_memory == 2e9 and rebuilt.num_threads == 1
    for kind, net in detector.nets.items():
        for key, value in net.params.items():
            np.testing.assert_array_equal(rebuilt.nets[kind].params[key], value)
    with pytest.raises(TypeError, match="needs MTCNN detectors"):
        detector_settings(object())


@pytest.mark.pipeline
def test_evaluate_on_the_cluster_equals_the_local_run(client, tmp_path, capsys):
    """``tinymtcnn evaluate --scheduler``: the same metrics as in one process (timings aside), the same
    progress bar on stderr, nothing but the results on stdout."""
    truth = cli._make_detector({"landmarks": "onet", "num_threads": 1}).detect(str(ASTRONAUT))
    Image.open(ASTRONAUT).save(tmp_path / "a.png")
    Image.open(ASTRONAUT).resize((300, 300)).save(tmp_path / "b.png")
    records = [{"image": "a.png", "boxes": truth.boxes.tolist(), "landmarks5": truth.landmarks.tolist()},
               {"image": "b.png", "boxes": (truth.boxes * 300 / 512).tolist()}]
    (tmp_path / "set.json").write_text(json.dumps(records))
    address = client.scheduler.address
    outputs = {}
    for name, extra in (("local", []), ("cluster", ["--scheduler", address])):
        status = cli.main(["evaluate", str(tmp_path / "set.json"), "--landmarks", "onet", "mirror",
                           "--out", str(tmp_path / name)] + extra)
        shown = capsys.readouterr()
        assert status == 0, shown.err
        assert shown.out == (tmp_path / name / "results.md").read_text() + "\n"
        assert "evaluate authors/mirror" in shown.err
        outputs[name] = json.loads((tmp_path / name / "results.json").read_text())
    for result in outputs.values():
        for entry in result[0]["detectors"].values():
            entry.pop("seconds_per_photo")
            entry.pop("detector")
    assert outputs["cluster"] == outputs["local"]
    assert outputs["local"][0]["detectors"]["authors/onet"]["detection"]["recall_at_0.5"] == 1.0


@pytest.mark.pipeline
@pytest.mark.parametrize("victims", ["a busy worker", "every worker"])
def test_evaluation_survives_workers_killed_mid_run(victims, own_client, photo_dir, monkeypatch):
    """SIGKILL mid-run to the worker busy with a photo, or to both at once (their nannies start new ones):
    Dask reruns the photos in flight, each new worker builds its own detector, the metrics equal the local run."""
    from tinymtcnn import MTCNN
    from tinymtcnn.eval import load_set
    from tinymtcnn.eval.run import evaluate

    client = own_client
    truth = cli._make_detector({"landmarks": "onet", "num_threads": 1}).detect(str(photo_dir / "p0.png"))
    faces = {"boxes": truth.boxes.tolist(), "landmarks5": truth.landmarks.tolist()}
    entries = [dict(faces, image=f"p{i % 5}.png") if i % 5 == 0 else {"image": f"p{i % 5}.png", "boxes": []}
               for i in range(15)]  # 15 photos (p0..p4 three times): the kill lands while photos are in flight
    (photo_dir / "set.json").write_text(json.dumps(entries))
    data = load_set(photo_dir / "set.json")
    detectors = {"onet": MTCNN(landmarks="onet", num_threads=1)}
    local = evaluate(detectors, data, progress=False)

    killed = kill_after_the_first_result(client, monkeypatch, victims)
    there = evaluate(detectors, data, progress=False, client=client)
    assert len(killed) == (1 if victims == "a busy worker" else 2)
    for result in (local, there):
        result["detectors"]["onet"].pop("seconds_per_photo")
    assert json.dumps(there) == json.dumps(local)  # as text: the NaN of an empty size bin equals itself
    assert local["detectors"]["onet"]["detection"]["recall_at_0.5"] == 1.0  # p0's face found: a real detection
