"""tinymtcnn.viz: figures under Agg, annotate_image pixels."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from PIL import Image  # noqa: E402

from tinymtcnn import viz  # noqa: E402
from tinymtcnn.detect.pyramid import pyramid_scales  # noqa: E402
from tinymtcnn.detect.result import LANDMARK_NAMES, Detections  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def image():
    return np.full((120, 160, 3), 90, np.uint8)


@pytest.fixture
def faces():
    boxes = np.array([[20.0, 30.0, 70.0, 90.0], [100.0, 10.0, 140.0, 50.0]])
    lm = np.array([[[35, 50], [55, 50], [45, 62], [37, 75], [53, 75]],
                   [[110, 25], [130, 25], [120, 32], [112, 40], [128, 40]]], dtype=float)
    return Detections(boxes, np.array([0.99, 0.8]), lm)


@pytest.fixture
def trace(image, faces):
    scales = pyramid_scales(*image.shape[:2])
    rng = np.random.default_rng(0)
    maps = [(s, rng.random((max(1, int(np.ceil(120 * s)) // 2 - 5), max(1, int(np.ceil(160 * s)) // 2 - 5))))
            for s in scales]
    return {"pnet_maps": maps, "pyramid": [(s, m.shape) for s, m in maps],
            "pnet": (np.array([[0, 0, 20, 20], [5, 5, 40, 40], [20, 30, 70, 90.0]]), np.ones(3)),
            "rnet": (faces.boxes, faces.scores), "onet": faces}


def test_draw_detections_boxes_and_landmarks(image, faces):
    ax = viz.draw_detections(image, faces)
    assert ax.get_title() == "2 face(s)"
    (coll,) = ax.collections[:1]
    paths = coll.get_paths()
    assert len(paths) == 2
    # boxes drawn on pixel edges: columns x1..x2-1 span x1-0.5 .. x2-0.5
    np.testing.assert_allclose(paths[0].vertices[:4], [[19.5, 29.5], [69.5, 29.5], [69.5, 89.5], [19.5, 89.5]])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [n.replace("_", " ") for n in LANDMARK_NAMES]
    scatters = ax.collections[1:]
    for sc, name in zip(scatters, LANDMARK_NAMES):
        np.testing.assert_allclose(sc.get_offsets(), faces.landmarks[:, LANDMARK_NAMES.index(name)])
        np.testing.assert_allclose(sc.get_facecolor()[0][:3], to_rgb(viz.LANDMARK_COLORS[name]))
    assert sorted(t.get_text() for t in ax.texts) == ["0.800", "0.990"]


def test_draw_detections_options_and_given_ax(image, faces):
    fig, ax = plt.subplots()
    assert viz.draw_detections(image, faces, ax=ax, show_scores=False, show_landmarks=False) is ax
    assert not ax.texts and len(ax.collections) == 1 and ax.get_legend() is None
    ax2 = viz.draw_detections(image, Detections.empty())
    assert ax2.get_title() == "0 face(s)" and ax2.get_legend() is None


def test_show_pyramid_one_panel_per_level(image):
    fig = viz.show_pyramid(image, min_face_size=20)
    n = len(pyramid_scales(120, 160))
    visible = [a for a in fig.axes if a.get_visible()]
    assert len(visible) == n
    assert visible[0].get_title().startswith("s=0.6000  72x96")
    assert visible[0].images[0].get_array().shape == (72, 96, 3)
    fig.canvas.draw()
    with pytest.raises(ValueError, match="smaller than min_face_size"):
        viz.show_pyramid(np.zeros((10, 10, 3), np.uint8))


def test_show_heatmaps(trace):
    fig = viz.show_heatmaps(trace)
    panels = [a for a in fig.axes if a.get_visible() and a.images]
    assert len(panels) == len(trace["pnet_maps"])
    np.testing.assert_array_equal(panels[0].images[0].get_array(), trace["pnet_maps"][0][1])
    fig.canvas.draw()


def test_show_stages_counts_in_titles(image, trace):
    fig = viz.show_stages(image, trace)
    titles = [a.get_title() for a in fig.axes if a.get_visible()]
    assert titles == ["after P-Net: 3 candidate(s)", "after R-Net: 2 candidate(s)", "after O-Net: 2 face(s)"]
    fig.canvas.draw()


def test_multi_panel_functions_accept_axes(image, trace):
    fig, axes = plt.subplots(1, 3)
    assert viz.show_stages(image, trace, ax=axes) is fig
    with pytest.raises(ValueError, match="need"):
        viz.show_heatmaps(trace, ax=axes[:1])


def test_annotate_image_pixels(image, faces):
    out = viz.annotate_image(image, faces)
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == (160, 120)
    a = np.asarray(out)
    box_rgb = np.round(np.array(to_rgb(viz.BOX_COLOR)) * 255)
    np.testing.assert_array_equal(a[60, 20], box_rgb)   # left edge, column x1
    np.testing.assert_array_equal(a[60, 69], box_rgb)   # right edge, column x2 - 1
    np.testing.assert_array_equal(a[60, 70], [90, 90, 90])  # outside the box
    for k, name in enumerate(LANDMARK_NAMES):
        x, y = faces.landmarks[0, k].astype(int)
        np.testing.assert_array_equal(a[y, x], np.round(np.array(to_rgb(viz.LANDMARK_COLORS[name])) * 255))
    np.testing.assert_array_equal(image, 90)  # input untouched
    np.testing.assert_array_equal(np.asarray(viz.annotate_image(image, Detections.empty())), image)
    with pytest.raises(TypeError, match="Detections"):
        viz.annotate_image(image, faces.boxes)


def test_annotate_image_boxes_outside_image(image):
    d = Detections(np.array([[-30.0, -20.0, 300.0, 200.0]]), np.array([0.9]), np.zeros((1, 5, 2)))
    assert viz.annotate_image(image, d).size == (160, 120)
