"""The numbers of ``tools/train_reference.py`` runs, compact, for the docs and notebook 08.

    python tools/reference_summary.py reference=/tmp/ref1 /tmp/abl_blur_s0 --out docs/data/reference_runs.json

Dev tool (never imported by the package). Reads each run folder's ``evaluation.json`` (written by
``train_reference.py``, with ``--compare`` folders' weights beside it when it was run so) and its
``arm.json`` / ``timing.json`` when they are there, and writes one small JSON (numbers only: no
weights, no photos) that notebook 08 reads without ``../shared``::

    {"sets": [set names], "size_bins": [bin names],
     "runs": {label: {"settings": {...}, "minutes": float or null,
                      "sets": {set: {"faces": n, "recall": r, "under_40": r, "by_size": [r or null, ...],
                                     "masked": r, "unmasked": r}},      # masked/unmasked: crowd sets only
                      "nme": mean inter-ocular NME or null}}}

Recalls are at IoU 0.5, fractions in [0, 1]; ``under_40`` pools the 0-20 and 20-40 px bins. The
label of a run's own weights is its arm (``arm.json``), else the folder's name; the authors' weights
and the ``--compare`` weights keep the labels of the evaluation (``authors``, ``laptop``...). When
several runs evaluated the same weights (the authors'), the first run's numbers are kept.
"""
import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from train_reference import recall_summary  # noqa: E402

from tinymtcnn.atomic import atomic_write_text  # noqa: E402


def _set_numbers(result):
    det = result["detection"]
    under_40 = recall_summary(det)["under_40"]  # NaN when there is no face under 40 px: None in JSON
    out = {"faces": det["faces"], "recall": det["recall_at_0.5"],
           "under_40": None if under_40 != under_40 else under_40,
           "by_size": [b["recall"] if b["faces"] else None for b in det["by_size"]]}
    for name, part in result.get("settings", {}).items():
        out[name] = part["recall_at_0.5"]
    return out


def summarize(run_dirs):
    """The summary dict (module docstring) of the runs in ``run_dirs`` (folders, or ``"LABEL=DIR"``)."""
    sets, bins, runs = [], [], {}
    for given in map(str, run_dirs):
        given_label, _, rest = given.partition("=")
        folder = Path(rest if rest else given_label)
        evaluation = folder / "evaluation.json"
        if not evaluation.is_file():
            raise ValueError(f"{folder}: no evaluation.json (run tools/train_reference.py {folder} first)")
        arm = json.loads((folder / "arm.json").read_text()) if (folder / "arm.json").is_file() else {}
        timing = json.loads((folder / "timing.json").read_text()) if (folder / "timing.json").is_file() else {}
        own = given_label if rest else arm.get("arm", folder.name)
        earlier = set(runs)  # weights already summarised from an earlier run (the authors') are kept as they are
        for entry in json.loads(evaluation.read_text()):
            name = entry["set"]["name"]
            if name not in sets:
                sets.append(name)
            for detector, result in entry["detectors"].items():
                weights = detector.split("/")[0]
                label = own if weights == "reference" else weights
                if label in earlier:
                    continue
                run = runs.setdefault(label, {"sets": {}, "nme": None, "minutes": None,
                                              "settings": arm if label == own else {}})
                if label == own and timing.get("wall_seconds"):
                    run["minutes"] = round(timing["wall_seconds"] / 60, 1)
                if "detection" in result:
                    run["sets"][name] = _set_numbers(result)
                    bins = bins or [b["bin"] for b in result["detection"]["by_size"]]
                if "landmarks" in result:
                    run["nme"] = result["landmarks"]["inter-ocular"]["mean"]
    return {"sets": sets, "size_bins": bins, "runs": runs}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="train_reference.py output folders, each DIR or LABEL=DIR")
    ap.add_argument("--out", type=Path, required=True, help="the JSON to write (atomically)")
    args = ap.parse_args(argv)
    try:
        summary = summarize(args.runs)
    except ValueError as exc:
        ap.error(str(exc))
    atomic_write_text(args.out, json.dumps(summary, indent=1) + "\n")
    print(f"{args.out}: {len(summary['runs'])} weight sets on {len(summary['sets'])} sets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
