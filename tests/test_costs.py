"""Costly settings are refused before any work, with the estimate and the override in the message.

Budgets (docs/pipeline.md, "Costs"): stage-1 memory (``max_memory``), stage-1 work
(``max_pyramid_pixels``), alignment memory (``align_faces(max_memory=...)``), and Pillow's
``Image.MAX_IMAGE_PIXELS`` for files. Each refusal must come from the closed-form estimate, not
from running out of memory or time: the refused settings below would take minutes or
gigabytes if they ran. No test measures time (speed goes to benchmarks/).
"""
import math
import re

import numpy as np
import pytest
from PIL import Image

from tinymtcnn import MTCNN
from tinymtcnn.align import ARCFACE_TEMPLATE_112, align_cost, align_faces
from tinymtcnn.detect.pyramid import (LEVEL_OVERHEAD_PIXELS, MAX_MEMORY, PNET_BYTES_PER_PIXEL, level_size,
                                      pyramid_cost, pyramid_scales)
from tinymtcnn.io import load_image


def _suggested(message, keyword):
    """The value the message suggests for ``keyword=...``."""
    found = re.search(rf"{keyword}=([0-9.e+]+)\)?", message.split("allow it with")[-1])
    assert found, message
    return float(found.group(1))


# --------------------------------------------------------------------------- the estimate
@pytest.mark.parametrize("height, width, min_face, factor", [(480, 640, 20, 0.709), (1024, 1024, 1, 0.709),
                                                             (13, 400, 12, 0.9), (300, 200, 7.5, 0.79),
                                                             (6000, 8000, 20, 0.709)])
def test_estimate_matches_the_pyramid(height, width, min_face, factor):
    cost = pyramid_cost(height, width, min_face, factor, threads=2)
    scales = pyramid_scales(height, width, min_face, factor)
    pixels = [math.prod(level_size(height, width, s)) for s in scales]
    assert cost.levels == len(scales)
    assert 0.8 * cost.pixels <= sum(pixels) <= cost.pixels  # an upper bound, and a close one
    assert cost.work == cost.pixels + LEVEL_OVERHEAD_PIXELS * cost.levels
    assert cost.memory == PNET_BYTES_PER_PIXEL * sum(pixels[:2])  # the two largest levels at once


def test_image_smaller_than_min_face_costs_nothing():
    assert pyramid_cost(10, 500, 20, 0.709) == (0, 0.0, 0.0, 0.0)


def test_default_settings_allow_an_8000x6000_photo():
    for threads in (1, 2, 16):
        cost = pyramid_cost(6000, 8000, 20, 0.709, threads)
        assert cost.memory < MAX_MEMORY  # measured: 0.87 GB peak RSS for the whole detection, 2 threads
    detector = MTCNN()
    detector._check_cost(np.broadcast_to(np.uint8(0), (6000, 8000, 3)))  # no error


# --------------------------------------------------------------------------- refusals and overrides
def test_tiny_min_face_size_refused_with_estimate_and_override():
    photo = np.broadcast_to(np.uint8(128), (1024, 1024, 3))  # no memory behind it: only the size counts
    with pytest.raises(ValueError, match="min_face_size=1,") as err:
        MTCNN(min_face_size=1, num_threads=1).detect(photo)
    message = str(err.value)
    assert re.search(r"about 4\.\d+ GB of memory", message)  # 12288^2 px level x 32 B
    assert "max_memory=1.5e+09" in message  # the budget it broke
    assert _suggested(message, "max_memory") >= pyramid_cost(1024, 1024, 1, 0.709).memory


def test_scale_factor_near_one_refused_at_once():
    with pytest.raises(ValueError, match=r"3,9\d\d,\d\d\d levels") as err:  # millions: never enumerated
        MTCNN(scale_factor=0.999999).detect(np.broadcast_to(np.uint8(0), (1024, 1024, 3)))
    message = str(err.value)
    assert "max_pyramid_pixels=2.5e+08" in message and "memory" not in message.split("would need")[1][:40]
    assert _suggested(message, "max_pyramid_pixels") >= pyramid_cost(1024, 1024, 20, 0.999999).work


def test_both_budgets_named_when_both_exceeded():
    with pytest.raises(ValueError) as err:
        MTCNN(min_face_size=1, scale_factor=0.9).detect(np.broadcast_to(np.uint8(0), (1024, 1024, 3)))
    assert re.search(r"max_memory=[0-9.e+]+, max_pyramid_pixels=[0-9.e+]+\)", str(err.value))


def test_trace_is_guarded_too():
    with pytest.raises(ValueError, match="max_memory"):
        MTCNN(min_face_size=1).trace(np.broadcast_to(np.uint8(0), (1024, 1024, 3)))


@pytest.mark.pipeline
def test_override_allows_the_call():
    small = np.full((60, 60, 3), 128, np.uint8)  # min_face_size=1: 720 x 720 first level, cheap
    strict = MTCNN(min_face_size=1, num_threads=1, max_memory=1e6)
    with pytest.raises(ValueError) as err:
        strict.detect(small)
    allowed = MTCNN(min_face_size=1, num_threads=1, max_memory=_suggested(str(err.value), "max_memory"))
    assert allowed.detect(small).boxes.shape[1] == 4
    assert MTCNN(min_face_size=1, num_threads=1, max_memory=math.inf).trace(small)["pyramid"][0][1] == (720, 720)


@pytest.mark.pipeline
def test_work_override_allows_the_call():
    small = np.full((40, 40, 3), 128, np.uint8)
    with pytest.raises(ValueError) as err:
        MTCNN(min_face_size=12, scale_factor=0.99, max_pyramid_pixels=10_000).detect(small)
    budget = _suggested(str(err.value), "max_pyramid_pixels")
    assert len(MTCNN(min_face_size=12, scale_factor=0.99, max_pyramid_pixels=budget).detect(small)) == 0


def test_align_size_refused_before_allocating():
    with pytest.raises(ValueError, match=r"size=20000\) on 1 face\(s\) needs about 9\d\.\d GB") as err:
        align_faces(np.zeros((64, 64, 3), np.uint8), ARCFACE_TEMPLATE_112, size=20000)
    assert _suggested(str(err.value), "max_memory") >= align_cost(1, 20000)
    crops = align_faces(np.zeros((64, 64, 3), np.uint8), ARCFACE_TEMPLATE_112, size=300, max_memory=align_cost(1, 300))
    assert crops.shape == (1, 300, 300, 3)
    with pytest.raises(ValueError, match="max_memory"):
        align_faces(np.zeros((64, 64, 3), np.uint8), ARCFACE_TEMPLATE_112, size=300, max_memory=align_cost(1, 300) - 1)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's own, at Image.open
def test_pillow_limit_refused_from_the_header(tmp_path, monkeypatch):
    Image.new("RGB", (300, 200)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50_000)  # 60,000 px: over the limit, under twice it
    with pytest.raises(ValueError, match=r"300x200 = 60,000 pixels.*MAX_IMAGE_PIXELS = 50,000") as err:
        load_image(tmp_path / "big.png")
    assert "corrupt" not in str(err.value) and "0.00018 GB" in str(err.value)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 60_000)  # the override the message names
    assert load_image(tmp_path / "big.png").shape == (200, 300, 3)


# --------------------------------------------------------------------------- types of the settings
@pytest.mark.parametrize("kwargs, match", [
    (dict(min_face_size="20"), "min_face_size must be a number, got str '20'"),
    (dict(min_face_size=True), "min_face_size must be a number, got bool"),
    (dict(min_face_size=None), "min_face_size must be a number, got NoneType"),
    (dict(min_face_size=np.array([20.0])), "min_face_size must be a number, got ndarray"),
    (dict(scale_factor="0.709"), "scale_factor must be a number"),
    (dict(scale_factor=np.bool_(True)), "scale_factor must be a number, got bool"),
    (dict(thresholds="0.6"), "thresholds must be a sequence of three numbers, got str"),
    (dict(thresholds=0.6), "thresholds must be a sequence of three numbers, got float"),
    (dict(thresholds=(0.6, "0.7", 0.7)), r"thresholds\[1\] must be a number, got str"),
    (dict(thresholds=(0.6, 0.7, False)), r"thresholds\[2\] must be a number, got bool"),
    (dict(num_threads=2.0), "num_threads must be an integer, got float"),
    (dict(num_threads=True), "num_threads must be an integer, got bool"),
    (dict(num_threads="2"), "num_threads must be an integer, got str"),
    (dict(max_memory="2GB"), "max_memory must be a number, got str"),
    (dict(max_pyramid_pixels=None), "max_pyramid_pixels must be a number, got NoneType"),
])
def test_wrong_types_are_type_errors(kwargs, match):
    with pytest.raises(TypeError, match=match):
        MTCNN(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(min_face_size=float("nan")), "min_face_size must be finite, got nan"),
    (dict(min_face_size=math.inf), "min_face_size must be finite, got inf"),
    (dict(min_face_size=0.5), "min_face_size must be >= 1, got 0.5"),
    (dict(scale_factor=float("nan")), "scale_factor must be finite"),
    (dict(scale_factor=1), r"scale_factor must be in \(0, 1\), got 1"),
    (dict(thresholds=(0.6, np.float32("nan"), 0.7)), r"thresholds\[1\] must be finite"),
    (dict(thresholds=(0.6, 0.7, -math.inf)), r"thresholds\[2\] must be finite"),
    (dict(thresholds=(0.6, 0.7)), "three numbers"),
    (dict(num_threads=0), "num_threads must be >= 1, got 0"),
    (dict(max_memory=float("nan")), "max_memory must be finite"),
    (dict(max_memory=-math.inf), "max_memory must be finite"),
    (dict(max_pyramid_pixels=0), "max_pyramid_pixels must be > 0"),
])
def test_nan_inf_and_out_of_range_are_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MTCNN(**kwargs)


def test_numpy_numbers_are_accepted():
    d = MTCNN(min_face_size=np.int64(24), scale_factor=np.float32(0.75), thresholds=np.array([0.5, 0.6, 0.7]),
              num_threads=np.int8(1), max_memory=math.inf)
    assert (d.min_face_size, d.num_threads, d.thresholds) == (24.0, 1, (0.5, 0.6, 0.7))
    assert type(d.min_face_size) is float and type(d.num_threads) is int


@pytest.mark.parametrize("size, error", [(True, TypeError), ("112", TypeError), (112.0, TypeError), (None, TypeError),
                                         (0, ValueError), (-5, ValueError)])
def test_align_size_type_checked(size, error):
    with pytest.raises(error, match="size must be"):
        align_faces(np.zeros((64, 64, 3), np.uint8), ARCFACE_TEMPLATE_112, size=size)


@pytest.mark.parametrize("kwargs", [dict(min_face_size="20"), dict(scale_factor=True)])
def test_pyramid_functions_check_types_too(kwargs):
    with pytest.raises(TypeError, match="must be a number"):
        pyramid_scales(100, 100, **kwargs)
    with pytest.raises(TypeError, match="must be a number"):
        pyramid_cost(100, 100, **kwargs)
