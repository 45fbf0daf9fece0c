"""Draw the docs' pictures with tinymtcnn.viz: the four nets and the cascade on the astronaut photo.

    python tools/make_doc_figures.py [--out docs/img]

Writes ``pnet.png``, ``rnet.png``, ``onet.png``, ``lnet.png`` (:func:`tinymtcnn.viz.draw_net` of a
freshly built net: the shapes do not depend on the weights) and ``cascade_astronaut.png``
(:func:`tinymtcnn.viz.draw_cascade` of ``MTCNN().trace`` on ``tinymtcnn/assets/astronaut.png``,
the authors' weights and the default settings), each atomically. Prints the counts per stage,
which docs/pipeline.md quotes. Rerun it after changing a net or the pipeline; the PNGs are
committed so the docs build without running the detector.
"""
import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from tinymtcnn import MTCNN, viz  # noqa: E402
from tinymtcnn.atomic import atomic_path  # noqa: E402
from tinymtcnn.nets import LNet, ONet, PNet, RNet  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "tinymtcnn" / "assets" / "astronaut.png"


def save(fig, path, dpi):
    """Save ``fig`` as the PNG ``path`` atomically and close it; returns ``path``."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img", help="folder of the PNGs")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file, not a folder")
    args.out.mkdir(parents=True, exist_ok=True)
    for cls in (PNet, RNet, ONet, LNet):
        path = save(viz.draw_net(cls()).figure, args.out / f"{cls.__name__.lower()}.png", dpi=110)
        print(f"{path}: {path.stat().st_size:,} bytes")
    detector = MTCNN()
    trace = detector.trace(ASTRONAUT)
    fig = viz.draw_cascade(trace, pnet_threshold=detector.thresholds[0])
    for ax in fig.axes:
        print("  " + ax.get_title().replace("\n", " "))
    path = save(fig, args.out / "cascade_astronaut.png", dpi=90)
    print(f"{path}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
