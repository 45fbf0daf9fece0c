"""tinymtcnn.distributed on a real ``distributed.LocalCluster`` (2 worker processes, 1 thread each):
the same records as the local run, a worker killed mid-run loses nothing, a bad photo is reported and
the rest finish, ``--scheduler`` with ``--json``/``--resume``, and training's sample building."""
import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _dask_cluster import (  # noqa: F401 - the fixtures pytest finds here by name
    NEEDS_DASK, client, kill_after_the_first_result, own_client, photo_dir)
from tinymtcnn import cli, distributed as tm_distributed, records

# a cluster that stops answering fails its test after this long instead of hanging CI (pytest-timeout)
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def local_json(photo_dir, tmp_path_factory):
    """The in-process run's JSON text (the reference every cluster run must equal, bit for bit).

    Computed again for every test (6 small photos, well under a second): the cluster runs the package
    in worker processes, so in a student copy with stubbed tasks only this in-process run shows that a
    failing test went through a stub (tools/assignment_pytest.py); a module-wide copy would credit the
    stub to the first test alone, and the others' failures read as real ones."""
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
def test_api_takes_a_dask_bag_of_paths(client, photo_dir, local_json):
    import dask.bag

    paths = _paths(photo_dir)[:2]
    got = tm_distributed.detect_paths(dask.bag.from_sequence(paths, npartitions=2), client, progress=False)
    assert got == json.loads(local_json)[:2]


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


@pytest.mark.pipeline
def test_sample_building_survives_a_worker_killed_mid_run(own_client, tmp_path, monkeypatch):
    """Hard-example mining on the cluster, the worker busy with a shard killed after the first shard: same shards."""
    from tinymtcnn.train.dataset import build_samples
    from tinymtcnn.train.mining import HardExampleMiner
    from tinymtcnn.train.samples import SamplingConfig
    from tinymtcnn.train.synthetic import SyntheticFaces
    from tinymtcnn.weights import load_net

    photos = SyntheticFaces(8, seed=12, faces=(1, 2), min_face=24, max_face=60, size=(96, 80))
    miner = HardExampleMiner(load_net("pnet"), min_face_size=20, thresholds=(0.3, 0.1))
    cfg = SamplingConfig(random_negatives=2, near_negatives=1, face_crops=2, landmark_crops=1)
    kwargs = dict(config=cfg, miner=miner, shard_photos=1, progress=False, log=lambda m: None)
    here = build_samples(photos, 24, tmp_path / "here", workers=1, **kwargs)
    killed = kill_after_the_first_result(own_client, monkeypatch, "a busy worker")
    there = build_samples(photos, 24, tmp_path / "there", workers=own_client, **kwargs)
    assert len(killed) == 1 and len(here) > 0
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
