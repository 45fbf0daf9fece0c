"""Training throughput: samples/second of forward + joint loss + backward (+ SGD step) per net.

    python benchmarks/bench_train.py [--batch-sizes 64 128] [--seconds 3] [--threads N] [--json FILE]

For P-Net (12x12, with landmark head), R-Net (24x24, with landmark head) and O-Net (48x48) it
times full training steps on random inputs and mixed labels (3:1:1:2) in float32. If PyTorch is
importable it times the same architectures in PyTorch (eager, CPU, float32, same thread count) for
comparison; without PyTorch that column says so. Neither computes the gradient of the input images
(PyTorch's input does not require grad; tinymtcnn's step calls ``backward(grads, input_grad=False)``,
as ``Trainer.train_step`` does).
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinymtcnn.threads import limit_threads  # noqa: E402
from tinymtcnn.train.losses import TASK_WEIGHTS, joint_loss  # noqa: E402
from tinymtcnn.train.optim import SGD  # noqa: E402
from tinymtcnn.train.trainer import INPUT_SIZE, make_net  # noqa: E402


def _batch(rng, n, size):
    labels = rng.choice(np.array([0, 0, 0, 1, -1, -2, -2]), n)
    return {"images": rng.normal(size=(n, 3, size, size)).astype(np.float32), "labels": labels,
            "boxes": rng.normal(size=(n, 4)).astype(np.float32) * 0.1,
            "landmarks": rng.uniform(size=(n, 10)).astype(np.float32)}


def _time(step, seconds):
    step()  # warm-up (Numba compilation, allocation)
    n, start = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and n >= 3:
            return elapsed / n


def bench_numpy(kind, batch_size, seconds, rng):
    net = make_net(kind, 0).train()
    opt = SGD(net.params, lr=1e-3, momentum=0.9)
    batch = _batch(rng, batch_size, INPUT_SIZE[kind])

    def step():
        out = net.forward(batch["images"])
        _, _, grads = joint_loss(out, batch, weights=TASK_WEIGHTS[kind])
        net.zero_grad()
        net.backward(grads, input_grad=False)
        opt.step(net.grads)

    return batch_size / _time(step, seconds)


def _torch_net(torch, kind):
    nn = torch.nn
    if kind == "pnet":
        trunk = nn.Sequential(nn.Conv2d(3, 10, 3), nn.PReLU(10), nn.MaxPool2d(2, 2, ceil_mode=True),
                              nn.Conv2d(10, 16, 3), nn.PReLU(16), nn.Conv2d(16, 32, 3), nn.PReLU(32), nn.Flatten())
        width = 32
    elif kind == "rnet":
        trunk = nn.Sequential(nn.Conv2d(3, 28, 3), nn.PReLU(28), nn.MaxPool2d(3, 2, ceil_mode=True),
                              nn.Conv2d(28, 48, 3), nn.PReLU(48), nn.MaxPool2d(3, 2, ceil_mode=True),
                              nn.Conv2d(48, 64, 2), nn.PReLU(64), nn.Flatten(), nn.Linear(576, 128), nn.PReLU(128))
        width = 128
    else:
        trunk = nn.Sequential(nn.Conv2d(3, 32, 3), nn.PReLU(32), nn.MaxPool2d(3, 2, ceil_mode=True),
                              nn.Conv2d(32, 64, 3), nn.PReLU(64), nn.MaxPool2d(3, 2, ceil_mode=True),
                              nn.Conv2d(64, 64, 3), nn.PReLU(64), nn.MaxPool2d(2, 2, ceil_mode=True),
                              nn.Conv2d(64, 128, 2), nn.PReLU(128), nn.Flatten(), nn.Linear(1152, 256),
                              nn.Dropout(0.25), nn.PReLU(256))
        width = 256
    return trunk, nn.Linear(width, 2), nn.Linear(width, 4), nn.Linear(width, 10)


def bench_torch(torch, kind, batch_size, seconds, rng):
    trunk, cls, box, lmk = _torch_net(torch, kind)
    params = [p for m in (trunk, cls, box, lmk) for p in m.parameters()]
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    b = _batch(rng, batch_size, INPUT_SIZE[kind])
    x = torch.from_numpy(b["images"])
    labels = torch.from_numpy(b["labels"])
    cls_mask = labels >= 0

    def step():
        f = trunk(x)
        ce = torch.nn.functional.cross_entropy(cls(f)[cls_mask], labels[cls_mask], reduction="none")
        k = max(1, int(0.7 * ce.numel()))
        loss = torch.topk(ce, k).values.mean() + 0.5 * box(f).pow(2).sum(1).mean() + 0.5 * lmk(f).pow(2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return batch_size / _time(step, seconds)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--seconds", type=float, default=3.0, help="minimum timing per case")
    ap.add_argument("--nets", nargs="+", default=["pnet", "rnet", "onet"])
    ap.add_argument("--threads", type=int, help="threads of both (torch.set_num_threads; tinymtcnn runs inside "
                    "limit_threads(n, blas=1) as Trainer.fit does; default: all cores)")
    ap.add_argument("--json", help="also write the results as JSON")
    args = ap.parse_args(argv)
    try:
        import torch
        if args.threads:
            torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    rows = []
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"torch {'%s' % torch.__version__ if torch else 'not installed'}")
    print(f"{'net':6} {'batch':>5} {'tinymtcnn samples/s':>20} {'torch samples/s':>16}")
    for kind in args.nets:
        for bs in args.batch_sizes:
            with limit_threads(args.threads, blas=1):  # as Trainer.fit
                ours = bench_numpy(kind, bs, args.seconds, rng)
            theirs = bench_torch(torch, kind, bs, args.seconds, rng) if torch else None
            rows.append({"net": kind, "batch": bs, "tinymtcnn": ours, "torch": theirs})
            print(f"{kind:6} {bs:5d} {ours:20.0f} {'%16.0f' % theirs if theirs else '   (no torch)':>16}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
