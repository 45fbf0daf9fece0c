"""Layer and training-step speed: naive twins vs fast layers vs PyTorch, at 1 and 2 threads.

    python benchmarks/bench_layers.py                  # tinymtcnn only (no PyTorch)
    /work/torchenv/bin/python benchmarks/bench_layers.py   # with the PyTorch columns

Shapes are MTCNN's (given batch-first here; our layers run them batch-innermost, ``(C, H, W, N)``,
their layout): P-Net layers on a 300x300 pyramid level, R-Net layers on a batch of
128 crops, O-Net layers on 32; then whole-net training steps (forward + backward of every
head) at the training batch sizes, and inference. In the training steps neither library computes
the gradient of the input images (PyTorch's input does not require grad; ours calls
``backward(grads, input_grad=False)`` as ``Trainer.train_step`` does), so the comparison is fair.
``--nets-only`` runs just the whole-net table. Training steps are also given in CPU time
(``CPU``: the process's CPU ms per step, all threads; steadier than wall time on a busy
machine, and at 2 threads it shows the threads' overhead: busy-waiting counts). Times are medians of wall-clock ms; the
naive twins run once (they take seconds). ``fast/naive``: speed-up of the fast layer over
its readable twin (forward + backward); ``torch/fast``: PyTorch's time over ours (> 1: we
are faster). tinymtcnn and PyTorch each run in their own fresh process (``_common.py``),
twice in turn; the better median is kept.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment, have, load, print_table, ratio, run_worker, set_threads, thread_counts, timed  # noqa

import numpy as np  # noqa: E402

torch = None  # imported by the PyTorch worker only

RNG = np.random.default_rng(0)

# name, kind, input shape, params
LAYERS = [
    ("P conv1 3-10 300x300", "conv", (1, 3, 300, 300), (10, 3)),
    ("P prelu1 10 298x298", "prelu", (1, 10, 298, 298), None),
    ("P pool1 2/2 298x298", "pool", (1, 10, 298, 298), (2, 2)),
    ("P conv2 10-16 149x149", "conv", (1, 10, 149, 149), (16, 3)),
    ("P conv3 16-32 147x147", "conv", (1, 16, 147, 147), (32, 3)),
    ("R conv1 3-28 x128", "conv", (128, 3, 24, 24), (28, 3)),
    ("R pool1 3/2 x128", "pool", (128, 28, 22, 22), (3, 2)),
    ("R conv2 28-48 x128", "conv", (128, 28, 11, 11), (48, 3)),
    ("R conv3 48-64 k2 x128", "conv", (128, 48, 4, 4), (64, 2)),
    ("R fc 576-128 x128", "linear", (128, 576), 128),
    ("O conv1 3-32 x32", "conv", (32, 3, 48, 48), (32, 3)),
    ("O conv2 32-64 x32", "conv", (32, 32, 23, 23), (64, 3)),
    ("O conv3 64-64 x32", "conv", (32, 64, 10, 10), (64, 3)),
    ("O prelu2 64 x32", "prelu", (32, 64, 21, 21), None),
    ("O fc 1152-256 x32", "linear", (32, 1152), 256),
]


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def ours(kind, shape, p, naive):
    """``(forward(), backward())`` closures for one of our layers."""
    from tinymtcnn.layers import conv, linear, pool, prelu

    c = shape[1]
    x = _f32(*shape[1:], shape[0])  # the layers' layout: (C, H, W, N), or (I, N) for a linear layer
    if kind == "conv":
        f, k = p
        w, b = _f32(f, c, k, k) * 0.1, _f32(f)
        fwd, bwd = ((conv.conv2d_forward_naive, conv.conv2d_backward_naive) if naive
                    else (conv.conv2d_forward, conv.conv2d_backward))
        run = lambda: fwd(x, w, b)  # noqa: E731
    elif kind == "prelu":
        a = np.full(c, 0.25, np.float32)
        fwd, bwd = ((prelu.prelu_forward_naive, prelu.prelu_backward_naive) if naive
                    else (prelu.prelu_forward, prelu.prelu_backward))
        run = lambda: fwd(x, a)  # noqa: E731
    elif kind == "pool":
        k, s = p
        fwd, bwd = ((pool.maxpool2d_forward_naive, pool.maxpool2d_backward_naive) if naive
                    else (pool.maxpool2d_forward, pool.maxpool2d_backward))
        run = lambda: fwd(x, kernel=k, stride=s)  # noqa: E731
    else:
        w, b = _f32(p, c) * 0.1, _f32(p)
        fwd, bwd = ((linear.linear_forward_naive, linear.linear_backward_naive) if naive
                    else (linear.linear_forward, linear.linear_backward))
        run = lambda: fwd(x, w, b)  # noqa: E731
    out, cache = run()
    g = _f32(*out.shape)
    return run, lambda: bwd(g, cache)


def theirs(kind, shape, p):
    """``(forward(), forward_and_backward())`` closures for the same layer in PyTorch."""
    F = torch.nn.functional
    x = torch.from_numpy(_f32(*shape)).requires_grad_(True)
    if kind == "conv":
        f, k = p
        w = torch.from_numpy(_f32(f, shape[1], k, k) * 0.1).requires_grad_(True)
        b = torch.from_numpy(_f32(f)).requires_grad_(True)
        op = lambda: F.conv2d(x, w, b)  # noqa: E731
    elif kind == "prelu":
        a = torch.full((shape[1],), 0.25).requires_grad_(True)
        op = lambda: F.prelu(x, a)  # noqa: E731
    elif kind == "pool":
        k, s = p
        op = lambda: F.max_pool2d(x, k, s, ceil_mode=True)  # noqa: E731
    else:
        w = torch.from_numpy(_f32(p, shape[1]) * 0.1).requires_grad_(True)
        b = torch.from_numpy(_f32(p)).requires_grad_(True)
        op = lambda: F.linear(x, w, b)  # noqa: E731
    g = torch.from_numpy(_f32(*op().shape))

    def forward():
        with torch.no_grad():
            op()

    def both():
        op().backward(g)
    return forward, both


def _train_step(net, x, head_grads):
    def step():
        net.forward(x)
        net.backward(head_grads, input_grad=False)  # as Trainer.train_step; PyTorch's input needs no grad either
    return step


NETS = (("pnet", 256, 12), ("rnet", 128, 24), ("onet", 32, 48), ("onet", 64, 48))


def worker_ours(naive, nets_only=False):
    from tinymtcnn.nets import ONet, PNet, RNet

    layers = []
    for name, kind, shape, p in ([] if nets_only else LAYERS):
        f, b = ours(kind, shape, p, naive=False)
        row = {"fwd": timed(f), "bwd": timed(b)}
        if naive:
            nf, nb = ours(kind, shape, p, naive=True)
            row["naive"] = timed(nf, repeat=1, warmup=0, min_time=0) + timed(nb, repeat=1, warmup=0, min_time=0)
        layers.append(row)
    nets = []
    for kind, batch, side in NETS:
        net = {"pnet": PNet, "rnet": RNet, "onet": ONet}[kind](rng=RNG).train()
        x = _f32(batch, 3, side, side)
        out = net.forward(x)
        grads = {k: _f32(*out[k].shape) for k in net.heads}
        train, train_cpu = timed(_train_step(net, x, grads), cpu=True)
        net.eval()
        nets.append({"train": train, "train_cpu": train_cpu, "infer": timed(lambda: net.infer(x))})
    return {"layers": layers, "nets": nets}


def worker_torch(nets_only=False):
    from facenet_pytorch.models.mtcnn import ONet as TO, PNet as TP, RNet as TR

    layers = []
    for name, kind, shape, p in ([] if nets_only else LAYERS):
        f, both = theirs(kind, shape, p)
        layers.append({"fwd": timed(f), "both": timed(both)})
    nets = []
    for kind, batch, side in NETS:
        tnet = {"pnet": TP, "rnet": TR, "onet": TO}[kind](pretrained=False)
        tx = torch.from_numpy(_f32(batch, 3, side, side))

        def tstep():
            tnet.zero_grad()
            sum(o.sum() for o in tnet(tx)).backward()

        def tinfer():
            with torch.no_grad():
                tnet(tx)
        train, train_cpu = timed(tstep, cpu=True)
        nets.append({"train": train, "train_cpu": train_cpu, "infer": timed(tinfer)})
    return {"layers": layers, "nets": nets}


def tables(n, rounds, nets_only=False):
    names = ["ours"] + (["torch"] if have("torch") and have("facenet_pytorch") else [])
    runs = {k: [] for k in names}
    for r in range(rounds):
        for k in names:
            extra = ["--naive"] if k == "ours" and r == 0 and not nets_only else []
            extra += ["--nets-only"] if nets_only else []
            runs[k].append(run_worker(__file__, k, n, *extra))

    def best(k, part, i, key):
        vals = [run[part][i][key] for run in runs[k] if key in run[part][i]]
        return min(vals) if vals else None

    rows = []
    for i, (name, *_) in enumerate([] if nets_only else LAYERS):
        f, b, naive = best("ours", "layers", i, "fwd"), best("ours", "layers", i, "bwd"), best("ours", "layers", i, "naive")
        tf = best("torch", "layers", i, "fwd") if "torch" in runs else None
        tb = best("torch", "layers", i, "both") if "torch" in runs else None
        rows.append([name, naive, f, b, tf, tb, ratio(naive, f + b), ratio(tf, f), ratio(tb, f + b)])
    if not nets_only:
        print(f"\n## layers, {n} thread(s) (ms); {load()}")
        print_table(["layer", "naive f+b", "fast fwd", "fast bwd", "torch fwd", "torch f+b", "fast/naive",
                     "torch/fast fwd", "torch/fast f+b"], rows)
    rows = []
    for i, (kind, batch, side) in enumerate(NETS):
        tr, inf = best("ours", "nets", i, "train"), best("ours", "nets", i, "infer")
        ttr = best("torch", "nets", i, "train") if "torch" in runs else None
        tinf = best("torch", "nets", i, "infer") if "torch" in runs else None
        cpu = best("ours", "nets", i, "train_cpu")
        tcpu = best("torch", "nets", i, "train_cpu") if "torch" in runs else None
        rows.append([f"{kind} x{batch} {side}x{side}", tr, ttr, ratio(ttr, tr), cpu, tcpu, ratio(tcpu, cpu),
                     batch / tr * 1e3, inf, tinf, ratio(tinf, inf)])
    print(f"\n## whole nets, {n} thread(s): training step (forward + backward) and inference (ms); {load()}")
    print_table(["net, batch", "train ours", "train torch", "torch/ours", "CPU ours", "CPU torch", "torch/ours CPU",
                 "ours samples/s", "infer ours", "infer torch", "torch/ours"], rows)


def main(argv=None):
    global torch
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=2, help="runs of every library; the best median is kept")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--naive", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--nets-only", action="store_true", help="only the whole-net table (training steps, inference)")
    args = ap.parse_args(argv)
    if args.worker:
        n = args.threads[0]
        if args.worker == "torch":
            import torch as _torch

            torch = _torch
            set_threads(n, "torch")
            result = worker_torch(args.nets_only)
        else:
            set_threads(n, "ours")
            result = worker_ours(args.naive, args.nets_only)
        print(json.dumps(result))
        return
    print(environment())
    for n in thread_counts(args.threads):
        tables(n, args.rounds, args.nets_only)
    print("\n" + load())


if __name__ == "__main__":
    main()
