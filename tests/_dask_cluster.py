"""What tests/test_distributed*.py share: their Dask clusters (a LocalCluster of 2 worker processes, 1 thread
each), their photos, and a hook that kills workers mid-run. Test modules import the fixtures by name."""
import logging
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymtcnn import distributed

ASTRONAUT = Path(__file__).resolve().parents[1] / "tinymtcnn" / "assets" / "astronaut.png"
NEEDS_DASK = "needs the dask extra (pip install 'tinymtcnn[dask]', i.e. dask + distributed); CI installs it"


def start_cluster():
    """A LocalCluster of 2 worker processes with 1 thread each (spawned, with nannies), and its client."""
    try:
        import distributed as dask_distributed
    except ImportError:
        pytest.skip(NEEDS_DASK)
    cluster = dask_distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                            dashboard_address=":0", silence_logs=logging.ERROR)
    return cluster, dask_distributed.Client(cluster)


@pytest.fixture(scope="module")
def client():
    """One LocalCluster per test module (tests that kill workers or cancel work take ``own_client``)."""
    cluster, client = start_cluster()
    yield client
    for cached in distributed._clients.values():  # those --scheduler connected (client_for)
        cached.close()
    distributed._clients.clear()
    client.close()
    cluster.close()


@pytest.fixture
def own_client():
    """A cluster for one test that kills workers or cancels work: the others never see its aftermath."""
    cluster, client = start_cluster()
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


def kill_after_the_first_result(client, monkeypatch, victims):
    """Make ``run_on_client`` SIGKILL, once its first result is in and while a task runs, the worker process
    running it (``victims="a busy worker"``) or every worker (``"every worker"``); the pids killed go
    into the list returned."""
    pids, killed, run_on_client = client.run(os.getpid), [], distributed.run_on_client

    def kill_after_the_first_result(*args, **kwargs):
        results = run_on_client(*args, **kwargs)
        yield next(results)
        deadline = time.monotonic() + 30
        while not killed and time.monotonic() < deadline:
            busy = [addr for addr, keys in client.processing().items() if keys and addr in pids]
            if busy:
                killed.extend([pids[busy[0]]] if victims == "a busy worker" else pids.values())
                for pid in killed:
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        yield from results

    monkeypatch.setattr(distributed, "run_on_client", kill_after_the_first_result)
    return killed
