"""The checker of each task, and the fast twins trapped while it runs.

A task's twins are the package's own fast implementations of the same computation (the functions a
one-line "solution" would call) plus every Numba kernel of ``tinymtcnn/kernels`` (found in the
teacher's source: ``@jit...`` definitions and ``jit(...)`` assignments).
No task function has a reason to call a compiled kernel."""
import ast
from pathlib import Path

from . import tasks_boxes as boxes
from . import tasks_layers as layers
from .cases import TaskChecker

CONV = "tinymtcnn.layers.conv"
PRELU_K, PRELU_L = "tinymtcnn.kernels.prelu", "tinymtcnn.layers.prelu"
POOL_K, POOL_L = "tinymtcnn.kernels.maxpool", "tinymtcnn.layers.pool"
DIRECT = "tinymtcnn.kernels.conv_direct"


def _twins(*pairs):
    return tuple((m, n) for m, names in pairs for n in names.split())


CHECKERS = (
    TaskChecker("2.1", CONV, layers.conv_forward, _twins(
        (CONV, "conv2d_forward conv2d_prelu_forward _forward"),
        (DIRECT, "conv3x3_prelu conv3x3_prelu_naive pnet_trunk pnet_trunk_naive"))),
    TaskChecker("2.2", CONV, layers.conv_backward, _twins((CONV, "conv2d_backward conv2d_prelu_backward _backward"))),
    TaskChecker("2.3", PRELU_L, layers.prelu, _twins(
        (PRELU_K, "bias_prelu bias_prelu_backward bias_prelu_naive bias_prelu_backward_naive"),
        (PRELU_L, "prelu_forward prelu_backward"))),
    TaskChecker("2.4", POOL_K, layers.maxpool, _twins(
        (POOL_K, "maxpool_forward maxpool_backward"),
        (POOL_L, "maxpool2d_forward maxpool2d_values maxpool2d_backward"))),
    TaskChecker("3.1", "tinymtcnn.detect.boxes", boxes.heatmap),
    TaskChecker("4.1", "tinymtcnn.kernels.nms", boxes.nms, _twins(("tinymtcnn.kernels.nms", "nms"))),
    TaskChecker("4.2", "tinymtcnn.detect.boxes", boxes.box_regression),
    TaskChecker("4.3", "tinymtcnn.detect.boxes", boxes.square),
    TaskChecker("6.1", "tinymtcnn.train.losses", boxes.joint_loss),
    TaskChecker("6.2", "tinymtcnn.train.samples", boxes.iou_labels),
)


def numba_kernels(package_dir):
    """``[(module, name)]`` of the compiled kernels defined in ``package_dir/kernels/*.py``."""
    found = []
    for path in sorted(Path(package_dir, "kernels").glob("*.py")):
        module = f"tinymtcnn.kernels.{path.stem}"
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and any("jit" in ast.unparse(d) for d in node.decorator_list):
                found.append((module, node.name))
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                    "jit" in ast.unparse(node.value.func):
                found += [(module, t.id) for t in node.targets if isinstance(t, ast.Name)]
    return found


def checkers(package_dir):
    """``{task id: TaskChecker}`` with the Numba kernels of the teacher's ``package_dir`` added to the twins."""
    kernels = tuple(numba_kernels(package_dir))
    return {c.task: TaskChecker(c.task, c.module, c.make, c.twins + kernels) for c in CHECKERS}
