"""Checkers of the layer tasks: 2.1 conv forward, 2.2 conv backward, 2.3 PReLU, 2.4 max-pool.

References come from the teacher's package (its readable ``_naive`` functions),
computed in the grader; the cases are drawn from the grading seed."""
import numpy as np

from .cases import TaskCases, check_array, item

F64, F32 = np.float64, np.float32
# (name, x shape (C, H, W, N), w shape, stride, pad, dtype): stride/pad variants, a non-square kernel,
# 1x1, float32
CONV_SETTINGS = (("3x3, stride 1, pad 0", (3, 5, 6, 2), (4, 3, 3, 3), 1, 0, F64),
                 ("3x3, pad 1", (3, 6, 5, 2), (2, 3, 3, 3), 1, 1, F64),
                 ("3x3, stride 2, pad 1", (2, 7, 7, 1), (3, 2, 3, 3), 2, 1, F64),
                 ("2x4 kernel, stride 3, pad 2", (1, 8, 9, 2), (2, 1, 2, 4), 3, 2, F64),
                 ("stride 2 leaves the last row and column unread", (2, 6, 6, 1), (2, 2, 3, 3), 2, 0, F64),
                 ("1x1 kernel", (4, 4, 4, 3), (5, 4, 1, 1), 1, 0, F64),
                 ("float32 input", (3, 6, 6, 2), (2, 3, 3, 3), 1, 0, F32))


def _tol(dtype):
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == F32 else {"rtol": 1e-7, "atol": 1e-10}


def _conv_inputs(rng, xs, ws, dtype):
    return (rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype),
            rng.standard_normal(ws[0]).astype(dtype))


def conv_forward(rng):
    from tinymtcnn.layers.conv import conv2d_forward_naive

    tc = TaskCases()
    for name, xs, ws, stride, pad, dtype in CONV_SETTINGS:
        x, w, b = _conv_inputs(rng, xs, ws, dtype)
        expected = conv2d_forward_naive(x, w, b, stride=stride, pad=pad)[0]
        c = tc.case(name, f"x {xs} {np.dtype(dtype)}, w {ws}, b ({ws[0]},), stride {stride}, pad {pad}")
        c.call("conv2d_forward_naive", tc.arr(x), tc.arr(w), tc.arr(b), stride=stride, pad=pad)
        c.check = lambda r, e=expected, d=dtype: [check_array("out", item(r[0], 0, "(out, cache)"), e, dtype=d,
                                                              **_tol(d))]
    return tc


def conv_backward(rng):
    from tinymtcnn.layers.conv import conv2d_backward_naive, conv2d_forward_naive

    tc = TaskCases()
    for name, xs, ws, stride, pad, dtype in CONV_SETTINGS[:-1]:
        x, w, b = _conv_inputs(rng, xs, ws, dtype)
        out, cache = conv2d_forward_naive(x, w, b, stride=stride, pad=pad)
        dout = rng.standard_normal(out.shape)
        expected = conv2d_backward_naive(dout, cache)
        c = tc.case(name, f"x {xs}, w {ws}, dout {out.shape}, stride {stride}, pad {pad} (float64)")
        kx = tc.arr(x)
        cache_spec = {"type": "ConvCache", "fields": {"x_shape": {"shape_of": kx["array"]}, "x": kx,
                                                      "w": tc.arr(w), "stride": stride, "pad": pad}}
        c.call("conv2d_backward_naive", tc.arr(dout), cache_spec)
        c.check = lambda r, e=expected: [check_array(n, item(r[0], i, "(dx, dw, db)"), e[i])
                                         for i, n in enumerate(("dx", "dw", "db"))]
    return tc


def _prelu_inputs(rng, shape, zeros=False):
    x = rng.standard_normal(shape)
    if zeros:
        x[rng.random(shape) < 0.3] = 0.0
    return x, rng.uniform(-0.5, 0.8, shape[0])


def prelu(rng):
    from tinymtcnn.layers.prelu import PReLUCache, prelu_backward_naive, prelu_forward_naive

    tc = TaskCases()
    for name, shape, zeros, dtype in (("forward, (C, H, W, N)", (3, 4, 5, 2), False, F64),
                                      ("forward, (C, N) as after a linear layer", (4, 6), False, F64),
                                      ("forward, x exactly 0 in places", (2, 3, 3, 2), True, F64),
                                      ("forward, float32 input", (3, 4, 4, 2), False, F32)):
        x, alpha = _prelu_inputs(rng, shape, zeros)
        x = x.astype(dtype)
        expected = prelu_forward_naive(x, alpha.astype(dtype))[0]
        c = tc.case(name, f"x {shape} {np.dtype(dtype)}, alpha ({shape[0]},)")
        c.call("prelu_forward_naive", tc.arr(x), tc.arr(alpha.astype(dtype)))
        c.check = lambda r, e=expected, d=dtype: [check_array("out", item(r[0], 0, "(out, cache)"), e, dtype=d,
                                                              **_tol(d))]
    for name, shape, zeros in (("backward, (C, H, W, N)", (3, 4, 5, 2), False),
                               ("backward, (C, N)", (4, 7), False),
                               ("backward, x exactly 0 in places (there dx = alpha * dout)", (2, 3, 3, 3), True)):
        x, alpha = _prelu_inputs(rng, shape, zeros)
        dout = rng.standard_normal(shape)
        expected = prelu_backward_naive(dout, PReLUCache(x, alpha))
        c = tc.case(name, f"x {shape}, alpha ({shape[0]},), dout {shape} (float64)")
        c.call("prelu_backward_naive", tc.arr(dout), {"type": "PReLUCache", "fields": {"x": tc.arr(x),
                                                                                       "alpha": tc.arr(alpha)}})
        c.check = lambda r, e=expected: [check_array(n, item(r[0], i, "(dx, dalpha)"), e[i])
                                         for i, n in enumerate(("dx", "dalpha"))]
    return tc


def maxpool(rng):
    from tinymtcnn.kernels.maxpool import maxpool_backward_naive, maxpool_forward_naive

    tc = TaskCases()
    settings = (("3x3, stride 2, ceil mode (P-Net's pool): windows over the edge", (3, 7, 9, 2), 3, 2, True, False),
                ("2x2, stride 2, odd size, ceil mode", (2, 5, 5, 1), 2, 2, True, False),
                ("ties: the first maximum in row-major order wins", (2, 6, 6, 1), 3, 2, True, True),
                ("3x3, stride 2, floor mode (ceil_mode=False)", (1, 8, 7, 1), 3, 2, False, False),
                ("3x3, stride 1: overlapping windows", (2, 5, 6, 1), 3, 1, True, True))
    for name, shape, kernel, stride, ceil, ties in settings:
        x = rng.integers(0, 3, shape).astype(F64) if ties else rng.standard_normal(shape)
        out, arg = maxpool_forward_naive(x, kernel, stride, ceil)
        c = tc.case(f"forward, {name}", f"x {shape}, kernel {kernel}, stride {stride}, ceil_mode {ceil}")
        c.call("maxpool_forward_naive", tc.arr(x), kernel, stride, ceil)
        c.check = lambda r, o=out, a=arg: [check_array("out", item(r[0], 0, "(out, argmax)"), o),
                                           check_array("argmax", item(r[0], 1, "(out, argmax)"), a)]
        if ties or kernel == 3:
            dout = rng.standard_normal(out.shape)
            expected = maxpool_backward_naive(dout, arg, shape)
            c = tc.case(f"backward, {name}", f"dout {out.shape}, argmax {arg.shape} int64, x_shape {shape}")
            c.call("maxpool_backward_naive", tc.arr(dout), tc.arr(arg), {"tuple": list(shape)})
            c.check = lambda r, e=expected: [check_array("dx", r[0], e)]
    return tc
