"""Train the recommended cascade from ../shared/data, then evaluate it next to the authors' weights.

    python tools/train_reference.py /tmp/ref1 --threads 1 --workers 1     # rerun: continues

Dev tool (never imported by the package); needs ``../shared/data`` (or ``TINYMTCNN_SHARED``).
Writes ``OUT/{pnet,rnet,onet}.npz`` (plus checkpoints and sample shards), ``OUT/mtfl_fit.txt`` /
``OUT/mtfl_holdout.txt`` (``tools/split_mtfl.py``'s rule), ``OUT/timing.json`` and
``OUT/evaluation.{md,json}``. OUT must lie outside the repository (the weights are trained on
research-use data). Every run resumes: finished sample shards and epochs are reused.

Training photos (:data:`tinymtcnn.train.cascade.PLANS` ``"reference"``, seed ``--seed``):

* caltech_train's 4,953 training photos, as they are;
* ``--mosaics`` mosaic scenes made from them (:class:`tinymtcnn.train.augment.MosaicPhotos`: 2x2 or
  3x3 cells of 96 px, the largest face of each cell 12-40 px, half of the cells blurred by
  downscale-then-upscale);
* crowds_cc0's training part: every photo whose index in ``annotations.json`` is not 3 mod 4
  (masked faces are faces: positives like the others). The photos at index 3 mod 4 (198) are held
  out and are the crowd set evaluated here;
* MTFL's training list without the hold-out (landmark crops).

Ablation arms (``--arm``, issue 16 item 4; each option below overrides the arm's value):

=========  ======================================================================================
baseline   ``--plan laptop --mosaics 0 --no-crowds``: Caltech + MTFL, faces from 20 px
mosaics    ``--plan reference --mosaics 1200 --blur 0 --no-crowds``: + mosaics (faces from 12 px)
blur       ``--blur 0.5``: + downscale-then-upscale of half the mosaic cells
reference  ``--crowds``: + crowds_cc0's training part (the default: the recommended run)
longer     ``--epochs-scale 1.5``: + every stage's epochs times 1.5 (rounded)
=========  ======================================================================================

The settings are written to ``OUT/arm.json`` (and ``OUT/timing.json``); a rerun in OUT with other
settings is refused, so a resumed run never mixes two arms' checkpoints.

Evaluation (``tinymtcnn.eval``, min face 20 px, thresholds 0.6/0.7/0.7, landmarks ``auto``, the same
for both weight sets): Caltech val, faces_dev, the crowds_cc0 hold-out (all faces, ``masked`` and
``unmasked``), the MTFL hold-out (landmark NME).
"""
import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from shared_data import add_data_option  # noqa: E402
from split_mtfl import write_lists  # noqa: E402

from tinymtcnn.atomic import atomic_write_text  # noqa: E402

ARMS = {  # the ablation of issue 16, each arm adding one change to the one before it
    "baseline": {"plan": "laptop", "mosaics": 0, "blur": 0.0, "crowds": False, "epochs_scale": 1.0},
    "mosaics": {"plan": "reference", "mosaics": 1200, "blur": 0.0, "crowds": False, "epochs_scale": 1.0},
    "blur": {"plan": "reference", "mosaics": 1200, "blur": 0.5, "crowds": False, "epochs_scale": 1.0},
    "reference": {"plan": "reference", "mosaics": 1200, "blur": 0.5, "crowds": True, "epochs_scale": 1.0},
    "longer": {"plan": "reference", "mosaics": 1200, "blur": 0.5, "crowds": True, "epochs_scale": 1.5},
}
CROWD_HOLDOUT = (4, 3)  # crowds_cc0 photos with index % 4 == 3 are held out for validation


def held_out(annotations):
    """``(training part, held-out part)`` of a list of crowds_cc0 annotations (:data:`CROWD_HOLDOUT`)."""
    every, rest = CROWD_HOLDOUT
    return ([a for k, a in enumerate(annotations) if k % every != rest],
            [a for k, a in enumerate(annotations) if k % every == rest])


def crowd_parts(annotations):
    """``(training part, held-out part)`` of crowds_cc0's :class:`~tinymtcnn.train.readers.PhotoList`."""
    from tinymtcnn.train.readers import PhotoList

    every, rest = CROWD_HOLDOUT
    train, held = held_out(annotations.annotations)
    return (PhotoList(train, f"{annotations.source}[k%{every}!={rest}]"),
            PhotoList(held, f"{annotations.source}[k%{every}=={rest}]"))


def arm_settings(args):
    """The settings of one run: ``args.arm``'s (:data:`ARMS`) with every option given on the command
    line (not ``None``) in place of the arm's value, plus ``arm`` and ``seed``.

    Raises
    ------
    ValueError
        For an unknown arm or a value out of range (the message names the option).
    """
    if args.arm not in ARMS:
        raise ValueError(f"--arm must be one of {', '.join(ARMS)}, got {args.arm!r}")
    settings = dict(ARMS[args.arm])
    for key in settings:
        if getattr(args, key, None) is not None:
            settings[key] = getattr(args, key)
    settings["mosaics"], settings["blur"] = int(settings["mosaics"]), float(settings["blur"])
    settings["epochs_scale"], settings["crowds"] = float(settings["epochs_scale"]), bool(settings["crowds"])
    if settings["plan"] not in ("laptop", "reference"):
        raise ValueError(f"--plan must be laptop or reference, got {settings['plan']!r}")
    if settings["mosaics"] < 0:
        raise ValueError(f"--mosaics must be >= 0, got {settings['mosaics']}")
    if not 0 <= settings["blur"] <= 1:
        raise ValueError(f"--blur must be a probability between 0 and 1, got {settings['blur']}")
    if not 0 < settings["epochs_scale"] < float("inf"):
        raise ValueError(f"--epochs-scale must be a finite number > 0, got {settings['epochs_scale']}")
    return {"arm": args.arm, **settings, "seed": int(args.seed)}


def stage_plans(settings, threads):
    """The three :class:`~tinymtcnn.train.cascade.StagePlan` of an arm: ``PLANS[settings["plan"]]`` with
    ``threads`` training threads and every stage's epochs times ``epochs_scale`` (rounded, at least 1)."""
    from dataclasses import replace

    from tinymtcnn.train.cascade import PLANS

    scale = settings["epochs_scale"]
    return {k: replace(p, train=replace(p.train, num_threads=threads,
                                        epochs=max(1, round(p.train.epochs * scale))))
            for k, p in PLANS[settings["plan"]]().items()}


def claim_out(out, settings):
    """Write ``settings`` to ``OUT/arm.json``; ``ValueError`` if OUT already holds a run of other settings."""
    path = out / "arm.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old != settings:
            diff = ", ".join(f"{k}: {old.get(k)!r} there, {settings.get(k)!r} now"
                             for k in sorted(set(old) | set(settings)) if old.get(k) != settings.get(k))
            raise ValueError(f"{out} holds a run of other settings ({diff}); resume it with the same "
                             f"options or give another OUT")
        return
    if any(out.glob("*.npz")) or (out / "samples").is_dir():  # a run of the tool before arms existed
        timing = json.loads((out / "timing.json").read_text()) if (out / "timing.json").is_file() else {}
        legacy = {**ARMS["reference"], "mosaics": timing.get("mosaics", settings["mosaics"]),
                  "seed": timing.get("seed", settings["seed"])}
        if any(settings[k] != v for k, v in legacy.items()):
            raise ValueError(f"{out} holds a run without arm.json (the reference plan of an older version); "
                             f"resume it with --arm reference or give another OUT")
    atomic_write_text(path, json.dumps(settings, indent=1))


def training_photos(data, out, seed, mosaics, *, blur=0.5, crowds=True):
    """``(photos, landmark photos)`` of the reference run (module docstring): Caltech, ``mosaics``
    mosaic scenes (a share ``blur`` of their cells blurred) and, if ``crowds``, crowds_cc0's training part."""
    from tinymtcnn.train.augment import JoinedPhotos, MosaicPhotos
    from tinymtcnn.train.readers import read_annotations, read_json, read_landmark_list

    caltech = read_annotations(data / "caltech_train/train_bbx_gt.txt", data / "caltech_train/images")
    parts = [caltech]
    if mosaics:
        parts.append(MosaicPhotos(caltech, mosaics, seed=seed, blur=blur))
    if crowds:
        parts.append(crowd_parts(read_json(data / "crowds_cc0/annotations.json"))[0])
    photos = parts[0] if len(parts) == 1 else JoinedPhotos(*parts)  # baseline: the laptop CLI's fingerprint
    lists, _ = write_lists(data / "mtfl_train/training.txt", out)
    return photos, read_landmark_list(lists["fit"], data / "mtfl_train")


def crowd_holdout_set(data):
    """crowds_cc0's held-out photos (:data:`CROWD_HOLDOUT`) as an :class:`~tinymtcnn.eval.datasets.EvalSet`
    with its ``masked`` / ``unmasked`` settings (also used by ``tools/eval_real.py``)."""
    from tinymtcnn.eval import load_set

    every, rest = CROWD_HOLDOUT
    crowds = load_set(data / "crowds_cc0/annotations.json", name=f"crowds_cc0 hold-out (index % {every} == {rest})")
    crowds.annotations = held_out(crowds.annotations)[1]
    return crowds


def eval_sets(data, out):
    """The four validation sets as :class:`tinymtcnn.eval.datasets.EvalSet` (crowds: the held-out part)."""
    from tinymtcnn.eval import load_set

    return [load_set(data / "caltech_train/val_bbx_gt.txt", data / "caltech_train/images", name="Caltech val"),
            load_set(data / "faces_dev/annotations.json", name="faces_dev"), crowd_holdout_set(data),
            load_set(out / "mtfl_holdout.txt", data / "mtfl_train", "landmarks", name="MTFL hold-out")]


def recall_summary(detection):
    """Recall at IoU 0.5 of all faces and of faces under 40 px (from the size bins)."""
    small = [b for b in detection["by_size"] if b["bin"] in ("0-20 px", "20-40 px")]  # sqrt(w h) < 40
    n = sum(b["faces"] for b in small)
    hits = sum(b["recall"] * b["faces"] for b in small if b["faces"])
    return {"all": detection["recall_at_0.5"], "under_40": hits / n if n else float("nan"), "faces_under_40": n}


def _pct(value, digits):
    return "-" if value != value else f"{100 * value:.{digits}f}"  # NaN: no face of that kind


def summary_table(results, names):
    """Markdown: per set, recall (all, < 40 px, masked, unmasked) or landmark NME of each detector,
    and each one's ratio to the first (the authors')."""
    rows = ["| set | " + " | ".join(names) + " | " + " | ".join(f"{n} / {names[0]}" for n in names[1:]) + " |",
            "|---" * (2 * len(names)) + "|"]
    for r in results:
        dets = r["detectors"]
        metrics = []
        if "detection" in dets[names[0]]:
            metrics += [("recall", lambda d: d["detection"]["recall_at_0.5"]),
                        ("recall < 40 px", lambda d: recall_summary(d["detection"])["under_40"])]
            metrics += [(f"recall {s}", lambda d, s=s: d["settings"][s]["recall_at_0.5"])
                        for s in dets[names[0]].get("settings", {})]
        else:
            metrics += [("landmark NME (inter-ocular)", lambda d: d["landmarks"]["inter-ocular"]["mean"])]
        for label, get in metrics:
            values = [get(dets[n]) for n in names]
            ratios = [v / values[0] if values[0] else float("nan") for v in values[1:]]
            rows.append(f"| {r['set']['name']}: {label} | " + " | ".join(_pct(v, 1) for v in values)
                        + " | " + " | ".join(f"{_pct(q, 0)} %" for q in ratios) + " |")
    return "\n".join(rows) + "\n"


def evaluate_run(data, out, threads, limit=0, progress=True, compare=()):
    """Evaluate ``out``'s weights, the authors' and those in the ``compare`` folders on :func:`eval_sets`;
    writes ``OUT/evaluation.{md,json}``."""
    from tinymtcnn import MTCNN
    from tinymtcnn.eval import evaluate, markdown

    detectors = {"authors/auto": MTCNN(num_threads=threads), "reference/auto": MTCNN(weights=out, num_threads=threads)}
    for folder in compare:
        detectors[f"{Path(folder).name}/auto"] = MTCNN(weights=folder, num_threads=threads)
    results = []
    for data_set in eval_sets(data, out):
        if limit:
            data_set.annotations = data_set.annotations[:limit]
        results.append(evaluate(detectors, data_set, progress=progress))
    for r in results:  # the curves are long and plotted elsewhere; the report keeps the numbers
        for d in r["detectors"].values():
            for m in [d.get("detection", {})] + list(d.get("settings", {}).values()):
                m.pop("pr", None)
            for m in d.get("landmarks", {}).values():
                m.pop("ced", None)
    text = "## Reference cascade next to the authors' weights\n\n" + summary_table(results, list(detectors)) + \
        "\n" + "\n".join(markdown(r) for r in results)
    atomic_write_text(out / "evaluation.json", json.dumps(results, indent=1, default=float))
    atomic_write_text(out / "evaluation.md", text)
    return text


def parse_args(argv=None):
    """The command line: ``(parser, args)``; ``args.settings`` is :func:`arm_settings`' result."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output folder (outside the repository)")
    add_data_option(ap)
    ap.add_argument("--arm", default="reference", choices=list(ARMS),
                    help="ablation arm (module docstring); the options below override its values")
    ap.add_argument("--plan", choices=["laptop", "reference"], help="stage plans (faces from 20 / 12 px)")
    ap.add_argument("--mosaics", type=int, help="mosaic scenes (reference: 1200)")
    ap.add_argument("--blur", type=float, help="share of the mosaic cells blurred (reference: 0.5)")
    ap.add_argument("--crowds", action=argparse.BooleanOptionalAction,
                    help="train on crowds_cc0's training part (reference: yes)")
    ap.add_argument("--epochs-scale", type=float, help="every stage's epochs times this (reference: 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="threads while training and evaluating (1)")
    ap.add_argument("--workers", type=int, default=1, help="processes building samples (1)")
    ap.add_argument("--eval-only", action="store_true", help="evaluate the weights already in OUT")
    ap.add_argument("--eval-limit", type=int, default=0, help="only the first N photos of each set")
    ap.add_argument("--compare", action="append", default=[], type=Path, metavar="DIR",
                    help="also evaluate the weights in DIR (e.g. a laptop-plan run), repeatable")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.threads < 1 or args.workers < 1:
        ap.error("--threads and --workers must be >= 1")
    try:
        args.settings = arm_settings(args)
    except ValueError as e:
        ap.error(str(e))
    return ap, args


def main(argv=None):
    ap, args = parse_args(argv)
    out = args.out.resolve()
    if out == REPO or REPO in out.parents:
        ap.error(f"OUT {out} lies inside the repository; the weights are trained on research-use data, "
                 f"write them elsewhere (e.g. /tmp/ref1)")
    if not (args.data / "caltech_train").is_dir():
        ap.error(f"no caltech_train in {args.data}; give --data or set TINYMTCNN_SHARED")
    settings = args.settings
    out.mkdir(parents=True, exist_ok=True)
    if not args.eval_only:
        from tinymtcnn.train.cascade import cpu_seconds, train_cascade

        try:
            claim_out(out, settings)
        except ValueError as e:
            ap.error(str(e))
        print(f"arm: {json.dumps(settings)}", flush=True)
        t0, c0 = time.perf_counter(), cpu_seconds()
        photos, landmarks = training_photos(args.data, out, args.seed, settings["mosaics"],
                                            blur=settings["blur"], crowds=settings["crowds"])
        print(f"training photos: {len(photos)} ({photos.fingerprint}); landmark faces: {len(landmarks)}", flush=True)
        train_cascade(photos, out, landmark_photos=landmarks, plans=stage_plans(settings, args.threads),
                      seed=args.seed, workers=args.workers, resume=True, progress=not args.no_progress)
        timing = {"wall_seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(cpu_seconds() - c0, 1),
                  "threads": args.threads, "workers": args.workers, **settings}
        atomic_write_text(out / "timing.json", json.dumps(timing, indent=1))
        print(f"training: {timing['wall_seconds'] / 60:.1f} min wall, {timing['cpu_seconds']:.0f} s cpu "
              f"(this invocation; a resumed run counts only its own part)", flush=True)
    print(evaluate_run(args.data, out, args.threads, args.eval_limit, not args.no_progress, args.compare), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
