"""Split MTFL's ``training.txt`` into a training list and a held-out list for the real-photo run.

    python tools/split_mtfl.py ../shared/data/mtfl_train/training.txt --out runs/real
    # -> runs/real/mtfl_fit.txt (6,885 faces), runs/real/mtfl_holdout.txt (765 faces)

Dev tool (never imported by the package). Rules:

* the 2,350 pose-binned web faces ``net_7876/_<angle>_*.jpg`` go in neither list: their y labels are
  28 px too small (see ``tools/eval_landmarks.py``), so they would teach O-Net a shifted mouth and eyes;
  ``--keep-shifted`` keeps them in the training list;
* of the other faces, in file order, every ``--every``-th (default 10th: indices 9, 19, ...) is held
  out, so LFW and web faces are in both lists.

The lists keep the original relative paths: train with ``--landmarks runs/real/mtfl_fit.txt
--landmark-images ../shared/data/mtfl_train``. The lists are derived from research-only data: keep
them out of the repository (``runs/`` is ignored).
"""
import argparse
import re
import sys
from pathlib import Path

SHIFTED_LABELS = re.compile(r"^net_7876/_-?\d+_")  # same rule as tools/eval_landmarks.py


def split_lines(lines, every=10, keep_shifted=False):
    """``(fit, holdout, shifted)`` lists of non-empty lines; see the module docstring."""
    if every < 2:
        raise ValueError(f"--every must be at least 2, got {every}")
    fit, holdout, shifted = [], [], []
    usable = 0
    for line in lines:
        if not line.strip():
            continue
        if SHIFTED_LABELS.match(line.split()[0]):
            shifted.append(line)
            if keep_shifted:
                fit.append(line)
            continue
        (holdout if usable % every == every - 1 else fit).append(line)
        usable += 1
    return fit, holdout, shifted


def write_lists(training_txt, out, every=10, keep_shifted=False):
    """Split ``training_txt`` (:func:`split_lines`) into ``out/mtfl_fit.txt`` and ``out/mtfl_holdout.txt``,
    each written atomically; returns ``({"fit": path, "holdout": path}, number of shifted-label faces)``."""
    from tinymtcnn.atomic import atomic_write_text

    lines = [ln.rstrip("\n") for ln in Path(training_txt).read_text().splitlines()]
    fit, holdout, shifted = split_lines(lines, every, keep_shifted)
    Path(out).mkdir(parents=True, exist_ok=True)
    paths = {"fit": Path(out) / "mtfl_fit.txt", "holdout": Path(out) / "mtfl_holdout.txt"}
    for name, kept in (("fit", fit), ("holdout", holdout)):
        atomic_write_text(paths[name], "".join(ln + "\n" for ln in kept))
    return paths, len(shifted)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("training_txt", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="folder for mtfl_fit.txt and mtfl_holdout.txt")
    ap.add_argument("--every", type=int, default=10, help="hold out every N-th usable face (10)")
    ap.add_argument("--keep-shifted", action="store_true", help="train on the net_7876/_<angle>_* faces too")
    args = ap.parse_args(argv)
    if not args.training_txt.is_file():
        ap.error(f"no such file: {args.training_txt}")
    paths, shifted = write_lists(args.training_txt, args.out, args.every, args.keep_shifted)
    count = {k: len(p.read_text().splitlines()) for k, p in paths.items()}
    print(f"{count['fit']} training faces -> {paths['fit']}, {count['holdout']} held out -> "
          f"{paths['holdout']} ({shifted} shifted-label faces {'kept for training' if args.keep_shifted else 'left out'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
