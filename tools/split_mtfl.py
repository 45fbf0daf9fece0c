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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("training_txt", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="folder for mtfl_fit.txt and mtfl_holdout.txt")
    ap.add_argument("--every", type=int, default=10, help="hold out every N-th usable face (10)")
    ap.add_argument("--keep-shifted", action="store_true", help="train on the net_7876/_<angle>_* faces too")
    args = ap.parse_args(argv)
    if not args.training_txt.is_file():
        ap.error(f"no such file: {args.training_txt}")
    lines = [ln.rstrip("\n") for ln in args.training_txt.read_text().splitlines()]
    fit, holdout, shifted = split_lines(lines, args.every, args.keep_shifted)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mtfl_fit.txt").write_text("".join(ln + "\n" for ln in fit))
    (args.out / "mtfl_holdout.txt").write_text("".join(ln + "\n" for ln in holdout))
    print(f"{len(fit)} training faces -> {args.out / 'mtfl_fit.txt'}, {len(holdout)} held out -> "
          f"{args.out / 'mtfl_holdout.txt'} ({len(shifted)} shifted-label faces "
          f"{'kept for training' if args.keep_shifted else 'left out'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
