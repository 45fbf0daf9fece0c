"""Write tests/fixtures/task_cases.npz: inputs and expected outputs of the assignment's layer tasks.

``python tools/make_task_fixtures.py`` (teacher's tool). The task tests of the student copy compare
the student's functions with these values instead of with the package's fast twins: in the copy
the fast twins call the student's functions (STUDENT-FAST, tools/assignment_source.py), so a
comparison with them would prove nothing, and a backward task must not need the forward task.
The expected values come from the package's fast paths (im2col convolution, Numba max-pool and
NMS), which the teacher's suite checks against the readable twins and finite differences;
tests/test_assignments.py checks that this file is what this tool writes today.

Keys are ``<group>/<case>/<name>``:

* ``conv/k/{x,w,b,stride,pad,out,dout,dx,dw,db}`` (float64; tasks 2.1 and 2.2);
* ``maxpool/k/{x,kernel,stride,out,argmax,dout,dx}`` (float64 tie-free inputs, int64 argmax; task 2.4);
* ``nms/all/{boxes,scores,start,threshold,mode,picks,pick_start}``: 48 cases one after the other
  (case ``k``: rows ``start[k]:start[k+1]``, picks ``pick_start[k]:pick_start[k+1]``; ``mode`` 0 union,
  1 min; task 4.1).
"""
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "fixtures" / "task_cases.npz"
SEED = 20260

# (C, H, W, N) (the layers' layout), (F, KH, KW), stride, pad: odd sizes, non-square kernels, stride 2,
# padding, 1x1
CONV_CASES = [((3, 7, 7, 2), (4, 3, 3), 1, 0), ((2, 9, 6, 1), (3, 2, 3), 1, 1), ((3, 11, 8, 2), (2, 3, 2), 2, 0),
              ((4, 5, 5, 1), (5, 1, 1), 1, 0), ((1, 10, 13, 2), (2, 4, 3), 2, 2), ((3, 12, 12, 1), (10, 3, 3), 1, 0)]
# (C, H, W, N), kernel, stride: windows over the bottom/right edge, 2x2 and 3x3, a P-Net-like size
POOL_CASES = [((3, 9, 9, 2), 3, 2), ((2, 11, 7, 1), 3, 2), ((2, 10, 10, 2), 2, 2), ((3, 7, 6, 1), 2, 2),
              ((1, 22, 22, 1), 3, 2), ((2, 5, 4, 1), 3, 3)]
NMS_CASES = 48


def _conv(rng, add):
    from tinymtcnn.layers.conv import conv2d_backward, conv2d_forward

    for k, (xs, (f, kh, kw), stride, pad) in enumerate(CONV_CASES):
        x, w, b = rng.standard_normal(xs), rng.standard_normal((f, xs[0], kh, kw)), rng.standard_normal(f)
        out, cache = conv2d_forward(x, w, b, stride=stride, pad=pad)
        dout = rng.standard_normal(out.shape)
        dx, dw, db = conv2d_backward(dout, cache)
        add("conv", k, x=x, w=w, b=b, stride=stride, pad=pad, out=out, dout=dout, dx=dx, dw=dw, db=db)


def _maxpool(rng, add):
    from tinymtcnn.kernels.maxpool import maxpool_backward, maxpool_forward

    for k, (shape, kernel, stride) in enumerate(POOL_CASES):
        # distinct values (no ties) so that the argmax, and so the gradient, is unique
        x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01 + rng.uniform(0, 1e-3, shape)
        out, arg = maxpool_forward(x, kernel, stride)
        dout = rng.standard_normal(out.shape)
        add("maxpool", k, x=x, kernel=kernel, stride=stride, out=out, argmax=arg.astype(np.int64), dout=dout,
            dx=maxpool_backward(dout, arg, x.shape, kernel, stride))


def _nms(rng, add):
    from tinymtcnn.kernels.nms import nms

    cases = []
    for k in range(NMS_CASES):
        n = int(rng.integers(0, 30)) if k else 0
        x1, y1 = rng.integers(-5, 30, n).astype(np.float64), rng.integers(-5, 30, n).astype(np.float64)
        w, h = rng.integers(-3, 20, n), rng.integers(-3, 20, n)  # zero and negative sizes: degenerate boxes
        boxes = np.stack([x1, y1, x1 + w, y1 + h], axis=1).reshape(-1, 4)
        if n > 3:
            boxes[1] = boxes[0]  # an exact duplicate
        if k % 3 == 0:
            boxes = boxes + rng.random(boxes.shape)  # non-integer coordinates
        scores = rng.integers(0, 5, n) / 4.0  # many ties
        threshold, mode = float(rng.choice([0.0, 0.3, 0.5, 0.7, 1.0])), int(k % 2)
        cases.append((boxes, scores, threshold, mode, nms(boxes, scores, threshold, ("union", "min")[mode])))
    # one array per field, the cases one after the other: case k is rows start[k]:start[k+1]
    add("nms", "all", boxes=np.concatenate([c[0] for c in cases]), scores=np.concatenate([c[1] for c in cases]),
        start=np.cumsum([0] + [len(c[1]) for c in cases]), threshold=[c[2] for c in cases],
        mode=[c[3] for c in cases], picks=np.concatenate([c[4] for c in cases]),
        pick_start=np.cumsum([0] + [len(c[4]) for c in cases]))


def task_cases():
    """``{key: array}`` of every case, computed now with this repository's package."""
    sys.path.insert(0, str(REPO))
    rng = np.random.default_rng(SEED)
    arrays = {}

    def add(group, k, **values):
        arrays.update({f"{group}/{k}/{name}": np.asarray(v) for name, v in values.items()})

    for make in (_conv, _maxpool, _nms):
        make(rng, add)
    return arrays


def main():
    from tinymtcnn.atomic import atomic_path

    arrays = task_cases()
    with atomic_path(OUT) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    print(f"wrote {OUT.relative_to(REPO)}: {len(arrays)} arrays, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
