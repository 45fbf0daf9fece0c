"""Draw a mosaic scene of synthetic faces with its boxes and points (docs/img/mosaic_synthetic.png).

    python tools/make_mosaic_figure.py [--out docs/img/mosaic_synthetic.png]

Dev tool (never imported by the package). The scene is
:class:`tinymtcnn.train.augment.MosaicPhotos` (seed 0, scene 1, the defaults of
``tools/train_reference.py``: 2x2 or 3x3 cells of 96 px, largest face of each cell 12-40 px, half the
cells blurred) made from :class:`tinymtcnn.train.synthetic.SyntheticFaces` photos, so the picture
holds no real photo (the training data is research-use and stays out of the repository). Drawn with
:func:`tinymtcnn.viz.draw_detections` (the annotations as detections of score 1); written atomically.
"""
import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tinymtcnn.atomic import atomic_path  # noqa: E402
from tinymtcnn.detect.result import Detections  # noqa: E402
from tinymtcnn.train.augment import MosaicPhotos  # noqa: E402
from tinymtcnn.train.synthetic import SyntheticFaces  # noqa: E402
from tinymtcnn.viz import draw_detections  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "mosaic_synthetic.png")
    ap.add_argument("--scene", type=int, default=1, help="scene index (1: a 3x3 grid)")
    args = ap.parse_args(argv)
    photos = SyntheticFaces(40, seed=0, faces=(1, 3), min_face=30, max_face=90)
    scene = MosaicPhotos(photos, args.scene + 1, seed=0)[args.scene]
    n = len(scene.boxes)
    faces = Detections(scene.boxes, np.ones(n), scene.landmarks if scene.landmarks is not None
                       else np.full((n, 5, 2), np.nan))
    fig, ax = plt.subplots(figsize=(6, 6))
    draw_detections(scene.image, faces, ax=ax, show_scores=False)
    sides = np.maximum(scene.boxes[:, 2] - scene.boxes[:, 0], scene.boxes[:, 3] - scene.boxes[:, 1])
    ax.set_title(f"mosaic of synthetic faces: {n} faces, {sides.min():.0f}-{sides.max():.0f} px")
    with atomic_path(args.out) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    print(f"wrote {args.out}: {scene.image.shape[1]}x{scene.image.shape[0]} px, {n} faces")
    return 0


if __name__ == "__main__":
    sys.exit(main())
