"""tinymtcnn.viz: figures under Agg, annotate_image pixels, net pictures, the cascade picture."""
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from PIL import Image  # noqa: E402

import tinymtcnn  # noqa: E402
from tinymtcnn import MTCNN, viz  # noqa: E402
from tinymtcnn.detect.pyramid import pyramid_scales  # noqa: E402
from tinymtcnn.detect.result import LANDMARK_NAMES, Detections  # noqa: E402
from tinymtcnn.detect.stages import propose  # noqa: E402
from tinymtcnn.io import load_image  # noqa: E402
from tinymtcnn.layers.modules import Conv2d, PReLU  # noqa: E402
from tinymtcnn.nets import LNet, ONet, PNet, RNet  # noqa: E402

ASTRONAUT = Path(tinymtcnn.__file__).parent / "assets" / "astronaut.png"


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


# ------------------------------------------------------------------------------ net pictures
def _all_blocks(layout):
    return [b for blocks in [*layout.branches, layout.trunk, *layout.heads.values()] for b in blocks]


def _block_texts(ax):
    return {t.get_gid(): t.get_text() for t in ax.texts if t.get_gid()}


@pytest.mark.parametrize("cls", [PNet, RNet, ONet, LNet])
@pytest.mark.pipeline
def test_net_layout_shapes_are_the_nets_own(cls):
    net = cls(rng=np.random.default_rng(0))
    layout = viz.net_layout(net)
    side = net.input_size or 12
    x = np.random.default_rng(1).standard_normal((1, net.in_channels, side, side)).astype(np.float32)
    out = net.forward(x)
    assert layout.input_shape == x.shape[1:]
    assert layout.trunk[-1].shape == net.forward_trunk(np.moveaxis(x, 0, -1)).shape[:-1]  # (C, H, W, N) inside
    for key, blocks in layout.heads.items():
        assert blocks[-1].shape == out[key].shape[1:]
    assert sum(b.params for b in _all_blocks(layout)) == net.num_params()
    names = sorted(n for b in _all_blocks(layout) for n in b.names if n != "concat")
    assert names == sorted(n for n, _ in net.named_modules())


@pytest.mark.parametrize("cls", [PNet, ONet, LNet])
@pytest.mark.pipeline
def test_draw_net_shows_every_layer_with_its_shape(cls):
    net = cls()
    ax = viz.draw_net(net)
    texts = _block_texts(ax)
    layout = viz.net_layout(net)
    assert len(texts) == len(_all_blocks(layout)) + 1  # and the input
    assert texts["block:input"].endswith(viz.format_shape(layout.input_shape))
    for block in _all_blocks(layout):
        text = texts["block:" + "+".join(block.names)]
        assert text.splitlines()[-1] == viz.format_shape(block.shape)
    assert f"{net.num_params():,} parameters" in ax.get_title()
    ax.figure.canvas.draw()


@pytest.mark.pipeline
def test_changing_a_net_changes_its_drawing():
    net = PNet()
    before = _block_texts(viz.draw_net(net))
    assert before["block:conv2+PReLU2"].splitlines()[1:] == ["conv 3×3 → 16", "16×3×3"]
    net.trunk[3] = ("conv2", Conv2d(10, 24, 2))
    net.trunk[4] = ("PReLU2", PReLU(24))
    net.trunk[5] = ("conv3", Conv2d(24, 32, 3))
    after = _block_texts(viz.draw_net(net))
    assert after["block:conv2+PReLU2"].splitlines()[1:] == ["conv 2×2 → 24", "24×4×4"]
    assert after["block:conv3+PReLU3"].splitlines()[1:] == ["conv 3×3 → 32", "32×2×2"]
    assert after["block:conv4-1"].splitlines()[-1] == "2×2×2"
    larger = _block_texts(viz.draw_net(PNet(), input_size=20))
    assert larger["block:conv4-1"].splitlines()[-1] == "2×5×5"  # (ceil(20/2) - 5) cells a side
    assert larger["block:input"].splitlines()[-1] == "3×20×20"


@pytest.mark.pipeline
def test_net_layout_keeps_the_training_caches():
    rng = np.random.default_rng(0)
    net = RNet(rng=rng).train()
    x = rng.standard_normal((2, 3, 24, 24)).astype(np.float32)
    out = net.forward(x)
    caches = [m.cache for _, m in net.named_modules()]
    viz.draw_net(net)
    assert all(a is b for a, b in zip(caches, [m.cache for _, m in net.named_modules()]))
    assert net.backward({"box_reg": np.ones_like(out["box_reg"])}).shape == x.shape


@pytest.mark.pipeline
def test_net_layout_refuses_bad_arguments():
    with pytest.raises(TypeError, match="tinymtcnn.nets.Net"):
        viz.net_layout("pnet")
    with pytest.raises(ValueError, match="RNet takes 24x24 inputs, not input_size=30"):
        viz.net_layout(RNet(), input_size=30)
    with pytest.raises(ValueError, match="PNet cannot take a 8x8 input"):
        viz.net_layout(PNet(), input_size=8)
    with pytest.raises(TypeError, match="input_size"):
        viz.net_layout(PNet(), input_size=12.5)


# ------------------------------------------------------------------------------ the cascade
def _counts(title):
    return [int(n.replace(",", "")) for n in re.findall(r"(\d[\d,]*) (?:level|window|candidate|face)", title)]


@pytest.mark.pipeline
def test_draw_cascade_counts_are_what_mtcnn_reports():
    detector = MTCNN()
    trace = detector.trace(ASTRONAUT)
    fig = viz.draw_cascade(trace, pnet_threshold=detector.thresholds[0])
    titles = [a.get_title() for a in fig.axes]
    assert [t.split(":")[0] for t in titles] == list(viz.CASCADE_PANELS)
    faces = detector.detect(ASTRONAUT)
    image = load_image(ASTRONAUT)
    stage1 = propose(image, detector.nets["pnet"], min_face_size=detector.min_face_size,
                     scale_factor=detector.scale_factor, threshold=detector.thresholds[0])
    maps = trace["pnet_maps"]
    assert _counts(titles[0]) == [len(pyramid_scales(*image.shape[:2], detector.min_face_size, detector.scale_factor)),
                                  sum(prob.size for _, prob in maps)]
    above = sum(int((prob >= detector.thresholds[0]).sum()) for _, prob in maps)
    assert _counts(titles[1]) == [len(stage1.boxes), above]
    assert _counts(titles[2]) == [len(trace["rnet"][0])]
    assert _counts(titles[3]) == [len(faces)] and _counts(titles[4]) == [len(faces)]
    assert len(faces) >= 1 and len(stage1.boxes) > len(trace["rnet"][0]) >= len(faces)
    assert len(fig.axes[1].collections[0].get_paths()) == len(stage1.boxes)  # every candidate drawn
    fig.canvas.draw()


@pytest.mark.pipeline
def test_draw_cascade_without_faces_or_pyramid():
    detector = MTCNN()
    for image in (np.full((100, 100, 3), 90, np.uint8), np.full((10, 10, 3), 90, np.uint8)):
        trace = detector.trace(image)
        fig = viz.draw_cascade(trace)
        titles = [a.get_title() for a in fig.axes]
        assert _counts(titles[0])[0] == len(trace["pyramid"]) and _counts(titles[3]) == [0]
        assert "before NMS" not in titles[1]
        fig.canvas.draw()
        plt.close(fig)
