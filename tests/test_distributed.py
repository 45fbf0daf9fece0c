"""tinymtcnn.distributed on a real ``distributed.LocalCluster`` (2 worker processes, 1 thread each):
the same records as the local run, a worker killed mid-run loses nothing, a bad photo is reported and
the rest finish, ``--scheduler`` with ``--json``/``--resume``, and training's sample building."""
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymtcnn import cli, distributed as tm_distributed, records

ASTRONAUT = Path(__file__).resolve().parents[1] / "tinymtcnn" / "assets" / "astronaut.png"
NEEDS_DASK = "needs the dask extra (pip install 'tinymtcnn[dask]', i.e. dask + distributed); CI installs it"


# a cluster that stops answering fails its test after this long instead of hanging CI (pytest-timeout)
pytestmark = pytest.mark.timeout(300)


def _start_cluster():
    """A LocalCluster of 2 worker processes with 1 thread each (spawned, with nannies), and its client."""
    try:
        import distributed
    except ImportError:
        pytest.skip(NEEDS_DASK)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       silence_logs=logging.ERROR)
    return cluster, distributed.Client(cluster)


@pytest.fixture(scope="module")
def client():
    """One LocalCluster for the module (the worker-killing test has a cluster of its own)."""
    cluster, client = _start_cluster()
    yield client
    for cached in tm_distributed._clients.values():  # those --scheduler connected (client_for)
        cached.close()
    tm_distributed._clients.clear()
    client.close()
    cluster.close()


@pytest.fixture
def own_client():
    """A cluster for one test that kills a worker or cancels work: the others never see its aftermath."""
    cluster, client = _start_cluster()
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    """p0..p4: a 128x128 astronaut (one face), its mirror at 160x160, three noise pictures; p5 is broken."""
    d = tmp_path_factory.mktemp("photos")
    small = Image.open(ASTRONAUT)
    small.resize((128, 128), Image.BILINEAR).save(d / "p0.png")
    small.resize((160, 160), Image.BILINEAR).transpose(Image.FLIP_LEFT_RIGHT).save(d / "p1.png")
    for i in (2, 3, 4):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(d / f"p{i}.png")
    (d / "p5.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10)
    return d


@pytest.fixture(scope="module")
def local_json(photo_dir, tmp_path_factory):
    """The in-process run's JSON text (the reference every cluster run must equal, bit for bit)."""
    out = tmp_path_factory.mktemp("local") / "local.json"
    assert cli.main(["detect", str(photo_dir), "--json", str(out), "--no-progress"]) == 1  # p5 fails
    return out.read_text()


def _paths(photo_dir):
    return sorted(str(p) for p in photo_dir.iterdir())


@pytest.mark.pipeline
def test_api_gives_the_local_records_in_order_and_reports_the_bad_photo(client, photo_dir, local_json):
    paths = _paths(photo_dir)
    got = tm_distributed.detect_paths(paths, client, progress=False)
    assert [r["path"] for r in got] == paths
    assert "error" in got[5] and "p5.jpg" in got[5]["error"] and set(got[5]) == {"path", "error"}
    assert [r for r in got if "error" not in r] == json.loads(local_json)
    assert len(json.loads(local_json)[0]["faces"]) == 1  # the comparison covers a real detection


@pytest.mark.pipeline
def test_api_shows_dasks_progress_bar(client, photo_dir, capsys):
    got = tm_distributed.detect_paths(_paths(photo_dir)[:2], client)
    assert len(got) == 2 and "100% Completed" in capsys.readouterr().out


@pytest.mark.pipeline
def test_cli_scheduler_writes_the_same_json_and_pictures(client, photo_dir, local_json, tmp_path, capsys):
    result, out = tmp_path / "r.json", tmp_path / "pictures"
    argv = ["detect", str(photo_dir), "--json", str(result), "--out", str(out), "--no-progress"]
    assert cli.main(argv + ["--scheduler", client.scheduler.address]) == 1
    err = capsys.readouterr().err
    assert "p5.jpg" in err and "1 of 6 file(s) failed" in err
    saved = json.loads(result.read_text())
    assert [r["annotated"] for r in saved] == [str(out / f"p{i}.png") for i in range(5)]
    assert all(Path(r["annotated"]).is_file() for r in saved)  # written by the workers
    assert [dict(r, annotated=None) for r in saved] == json.loads(local_json)
    assert not records.partial_path(result).exists()


@pytest.mark.pipeline
def test_a_worker_killed_mid_run_loses_nothing(own_client, photo_dir, local_json):
    client = own_client
    """SIGKILL to a worker process that holds a task: Dask reruns it elsewhere, every record arrives."""
    paths = _paths(photo_dir)[:5] * 3  # 15 tasks: the kill lands while photos are still in flight
    expected = json.loads(local_json) * 3
    pids = client.run(os.getpid)
    results, killed = {}, None
    for index, (record, error) in tm_distributed.iter_detect(paths, client):
        assert error is None, error
        results[index] = record
        if killed is None:
            busy = [addr for addr, keys in client.processing().items() if keys and addr in pids]
            killed = pids[(busy or list(pids))[0]]
            os.kill(killed, signal.SIGKILL)
    assert [results[i] for i in range(len(paths))] == expected
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # its nanny starts a new worker process in its place
        now = client.run(os.getpid, on_error="ignore")
        listed = client.scheduler_info()["workers"]  # the dead one gone from the scheduler's list too
        if len(now) == len(listed) == 2 and killed not in now.values():
            break
        time.sleep(0.5)
    assert len(now) == 2 and killed not in now.values()


@pytest.mark.pipeline
def test_resume_with_a_scheduler_finishes_only_the_rest(client, photo_dir, local_json, tmp_path, monkeypatch,
                                                        capsys):
    result = tmp_path / "r.json"
    process, calls = cli._process, []

    def interrupt_at_third(detector, path, picture):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return process(detector, path, picture)

    monkeypatch.setattr(cli, "_process", interrupt_at_third)  # this process only: the workers run the real one
    assert cli.main(["detect", str(photo_dir), "--json", str(result), "--no-progress"]) == 130
    assert "2 of 6 photo(s) done" in capsys.readouterr().err
    monkeypatch.setattr(cli, "_process", process)

    sent = []
    iter_detect = tm_distributed.iter_detect

    def counting(paths, *args, **kwargs):
        sent.extend(paths)
        return iter_detect(paths, *args, **kwargs)

    monkeypatch.setattr(tm_distributed, "iter_detect", counting)
    argv = ["detect", str(photo_dir), "--json", str(result), "--resume", "--no-progress"]
    assert cli.main(argv + ["--scheduler", client.scheduler.address]) == 1  # p5 still fails
    assert [Path(p).name for p in sent] == ["p2.png", "p3.png", "p4.png", "p5.jpg"]
    assert result.read_text() == local_json
    assert not records.partial_path(result).exists()


def _our_tasks(dask_scheduler):
    return [str(key) for key in dask_scheduler.tasks if str(key).startswith("tinymtcnn-")]


@pytest.mark.pipeline
def test_ctrl_c_with_a_scheduler_keeps_the_finished_records_and_cancels_the_rest(own_client, photo_dir, tmp_path,
                                                                                  monkeypatch, capsys):
    client = own_client  # a cluster of its own: the tests after it never see one with cancelled work
    result, add, added = tmp_path / "r.json", records.RecordWriter.add, []

    def interrupt_at_second(self, record, stamp):
        added.append(record)
        if len(added) == 2:
            raise KeyboardInterrupt
        add(self, record, stamp)

    monkeypatch.setattr(records.RecordWriter, "add", interrupt_at_second)
    argv = ["detect", str(photo_dir), "--json", str(result), "--no-progress", "--scheduler", client.scheduler.address]
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted: 1 of 6 photo(s) done" in err and "Traceback" not in err
    assert len(records.partial_path(result).read_text().splitlines()) == 2  # header + the finished record
    deadline = time.monotonic() + 30
    while client.run_on_scheduler(_our_tasks) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.run_on_scheduler(_our_tasks) == []  # the rest was cancelled, nothing left on the cluster


@pytest.mark.pipeline
def test_sample_building_on_the_cluster_equals_the_local_build(client, tmp_path):
    """Training's hard-example mining (P-Net scanning every photo) mapped over the cluster: same shards."""
    from tinymtcnn.train.dataset import build_samples
    from tinymtcnn.train.mining import HardExampleMiner
    from tinymtcnn.train.samples import SamplingConfig
    from tinymtcnn.train.synthetic import SyntheticFaces
    from tinymtcnn.weights import load_net

    photos = SyntheticFaces(4, seed=11, faces=(1, 2), min_face=24, max_face=60, size=(96, 80))
    miner = HardExampleMiner(load_net("pnet"), min_face_size=20, thresholds=(0.3, 0.1))
    cfg = SamplingConfig(random_negatives=2, near_negatives=1, face_crops=2, landmark_crops=1)
    kwargs = dict(config=cfg, miner=miner, shard_photos=1, progress=False, log=lambda m: None)
    here = build_samples(photos, 24, tmp_path / "here", workers=1, **kwargs)
    there = build_samples(photos, 24, tmp_path / "there", workers=client, **kwargs)
    assert len(here) > 0 and len(list((tmp_path / "there").glob("shard-*.npz"))) == 4
    for key in here.arrays:
        np.testing.assert_array_equal(here.arrays[key], there.arrays[key])


def test_train_scheduler_hands_the_client_to_sample_building(client, tmp_path, monkeypatch):
    from tinymtcnn.train import cascade

    seen = {}

    def stop(photos, out, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(cascade, "train_cascade", stop)
    argv = ["train", "pnet", "--synthetic", "2", "--out", str(tmp_path / "run"), "--no-progress"]
    assert cli.main(argv + ["--scheduler", client.scheduler.address]) == 130
    assert seen["workers"] is tm_distributed.client_for(client.scheduler.address)


# ------------------------------------------------------------------ without a cluster
@pytest.mark.parametrize("command", [["detect", "x.png"], ["train", "pnet", "--synthetic", "2", "--out", "o"]])
def test_scheduler_and_workers_exclude_each_other(command, capsys):
    assert cli.main(command + ["--scheduler", "tcp://127.0.0.1:1", "--workers", "3"]) == 2
    assert "not allowed with" in capsys.readouterr().err


def test_scheduler_without_dask_says_how_to_install(tmp_path, monkeypatch, capsys):
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "a.png")
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed: import fails
    monkeypatch.setattr(tm_distributed, "_clients", {})
    assert cli.main(["detect", str(tmp_path / "a.png"), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "tinymtcnn[dask]" in err and "Traceback" not in err
    assert not tm_distributed.is_client(object())


def test_unreachable_scheduler_is_a_clear_error():
    pytest.importorskip("distributed", reason=NEEDS_DASK)
    with pytest.raises(ValueError, match="no Dask scheduler answers"):
        tm_distributed.client_for("tcp://127.0.0.1:1", timeout=1)


def test_a_scheduler_without_workers_is_announced(capsys):
    distributed = pytest.importorskip("distributed", reason=NEEDS_DASK)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:
        client = tm_distributed.client_for(empty.scheduler_address)
        try:
            assert "has no workers yet" in capsys.readouterr().err
        finally:
            client.close()
            tm_distributed._clients.pop(empty.scheduler_address)


def test_each_detection_uses_one_thread_unless_told():
    assert tm_distributed.detector_options()["num_threads"] == 1
    assert tm_distributed.detector_options({"num_threads": None})["num_threads"] == 1
    assert tm_distributed.detector_options({"num_threads": 2})["num_threads"] == 2
    with pytest.raises(ValueError):
        tm_distributed.detector_options({"min_face_size": 0})


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

    pids, killed, run_on_client = client.run(os.getpid), [], tm_distributed.run_on_client

    def kill_after_the_first_photo(*args, **kwargs):
        results = run_on_client(*args, **kwargs)
        yield next(results)
        deadline = time.monotonic() + 30
        while not killed and time.monotonic() < deadline:  # after the first of 15 photos, when one is in flight
            busy = [addr for addr, keys in client.processing().items() if keys and addr in pids]
            if busy:
                killed.extend([pids[busy[0]]] if victims == "a busy worker" else pids.values())
                for pid in killed:
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        yield from results

    monkeypatch.setattr(tm_distributed, "run_on_client", kill_after_the_first_photo)
    there = evaluate(detectors, data, progress=False, client=client)
    assert len(killed) == (1 if victims == "a busy worker" else 2)
    for result in (local, there):
        result["detectors"]["onet"].pop("seconds_per_photo")
    assert json.dumps(there) == json.dumps(local)  # as text: the NaN of an empty size bin equals itself
    assert local["detectors"]["onet"]["detection"]["recall_at_0.5"] == 1.0  # p0's face found: a real detection
