"""The Dask test clusters of tests/test_distributed*.py: a LocalCluster of 2 worker processes, 1 thread each."""
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


def module_cluster():
    """Fixture body: a cluster's client, then everything closed, the clients ``--scheduler`` opened too."""
    cluster, client = start_cluster()
    yield client
    for cached in distributed._clients.values():  # those --scheduler connected (client_for)
        cached.close()
    distributed._clients.clear()
    client.close()
    cluster.close()


def own_cluster():
    """Fixture body: a cluster for one test that kills workers or cancels work, closed after it."""
    cluster, client = start_cluster()
    yield client
    client.close()
    cluster.close()


def make_photos(folder):
    """p0..p4 in ``folder``: a 128x128 astronaut (one face), its mirror at 160x160, three noise pictures."""
    small = Image.open(ASTRONAUT)
    small.resize((128, 128), Image.BILINEAR).save(folder / "p0.png")
    small.resize((160, 160), Image.BILINEAR).transpose(Image.FLIP_LEFT_RIGHT).save(folder / "p1.png")
    for i in (2, 3, 4):
        noise = np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(noise).save(folder / f"p{i}.png")


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
