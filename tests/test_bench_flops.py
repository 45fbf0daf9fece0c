"""The multiply-add count of benchmarks/_flops.py (bench_detect.py's GFLOP column), against counts by hand.

Only the arithmetic of the count is tested; no time is measured (speed goes to benchmarks/).
"""
import sys
import types
from pathlib import Path

import pytest

from tinymtcnn.layers.modules import Conv2d, Flatten, Linear, MaxPool2d, PReLU
from tinymtcnn.nets.cascade import ONet, PNet, RNet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _flops  # noqa: E402


def test_a_tiny_net_by_hand():
    net = types.SimpleNamespace(in_channels=3, trunk=[
        ("c", Conv2d(3, 4, 3)), ("p", PReLU(4)), ("pool", MaxPool2d(2, 2)), ("f", Flatten()), ("fc", Linear(36, 5))],
        heads={"a": [("h", Linear(5, 2))]})
    # conv 7x7 -> 5x5: 4 * 25 * 3*3*3 = 2700; ceil-mode pool 5 -> 3: 4*3*3 = 36 values; 36*5 = 180; 5*2 = 10
    assert _flops.net_macs(net, 7, 7) == 2700 + 180 + 10


def test_pnet_on_a_12x12_window_and_on_a_level():
    pnet = PNet()
    # conv1 10x10: 10*100*27, pool 5x5, conv2 3x3: 16*9*90, conv3 1x1: 32*144, heads (2 + 4) * 32
    assert _flops.net_macs(pnet, 12, 12) == 27000 + 12960 + 4608 + 192
    # 13x15: conv1 11x13, pool 6x7, conv2 4x5, conv3 2x3, heads on 2x3 cells
    assert _flops.net_macs(pnet, 13, 15) == 10 * 143 * 27 + 16 * 20 * 90 + 32 * 6 * 144 + 6 * 32 * 6


def test_the_cascade_adds_levels_and_crops():
    nets = {"pnet": PNet(), "rnet": RNet(), "onet": ONet()}
    r = 28 * 22 * 22 * 27 + 48 * 9 * 9 * 28 * 9 + 64 * 3 * 3 * 48 * 4 + 576 * 128 + 128 * 6
    assert _flops.net_macs(nets["rnet"], 24, 24) == r
    macs = _flops.cascade_macs([(12, 12), (13, 15)], {"rnet": 3, "onet": 0}, nets)
    assert macs == {"pnet": 44760 + 96210, "rnet": 3 * r, "onet": 0, "lnet": 0}


def test_a_layer_that_does_not_fit_its_input_is_a_value_error():
    with pytest.raises(ValueError, match="input channels"):
        _flops.layers_macs([("c", Conv2d(4, 2, 3))], (3, 8, 8))
    with pytest.raises(ValueError, match="fully connected"):
        _flops.layers_macs([("fc", Linear(10, 2))], (3,))
