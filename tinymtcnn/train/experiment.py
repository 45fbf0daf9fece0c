"""Ablations of MTCNN's two training claims (paper §II-C, Fig. 3): joint learning and OHEM.

    >>> result = run_experiments(["joint", "ohem"], photos, "runs/ablations",          # doctest: +SKIP
    ...                          preset=PRESETS["classroom"](), seeds=(0, 1, 2))

Each stage's samples are built **once** (same crops, same photo-level train/validation split, same
3:1:1:2 mix for every arm and seed; R-Net and O-Net mine their hard examples with the package's
shipped, authors' nets, so the samples do not depend on an arm). Then every arm x seed trains a fresh
net with :class:`~.trainer.Trainer`, the seed setting the initial weights, the batch order and the
flips. Arms (:data:`ARMS`): ``cls`` (task weights 1, 0, 0), ``cls+box`` (1, 0.5, 0), ``joint`` (the
paper's :data:`~.losses.TASK_WEIGHTS`), ``landmarks-only`` (0, 0, 1), all with OHEM 70 %, and
``no-ohem`` (joint weights, every sample). The ``ohem`` experiment compares ``joint`` with
``no-ohem``: the ``joint`` runs are shared by both experiments.

Every finished run (stage, arm, seed, per-epoch history) is appended to ``OUT/runs.jsonl`` (one
fsync'd line each); ``resume=True`` skips the runs found there and continues an interrupted run from
its checkpoint. At the end :mod:`.ablation_summary` writes ``summary.json``, ``summary.md`` and the
curves (``curves-<experiment>-<stage>.png``).
"""
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..records import append_line, open_stream, read_stream
from .cascade import FirstPhotos, StagePlan, cpu_seconds, load_stage_samples, split_and_mix
from .samples import SamplingConfig
from .trainer import TrainConfig, Trainer

RUNS_FILE = "runs.jsonl"
FORMAT = "tinymtcnn experiment runs"
STAGES = ("pnet", "rnet", "onet")


@dataclass(frozen=True)
class Arm:
    """One training variant: task weights (None: the paper's for the stage) and the OHEM fraction."""

    task_weights: tuple = None
    ohem: float = 0.7


ARMS = {"cls": Arm((1.0, 0.0, 0.0)), "cls+box": Arm((1.0, 0.5, 0.0)), "joint": Arm(),
        "landmarks-only": Arm((0.0, 0.0, 1.0)), "no-ohem": Arm(ohem=None)}
EXPERIMENTS = {"joint": ("joint", "cls", "cls+box", "landmarks-only"), "ohem": ("joint", "no-ohem")}
REFERENCE = "joint"  # the arm every other arm of an experiment is compared with


@dataclass
class ExperimentPreset:
    """Stage plans (sampling, optimiser, epochs), seeds and the validation fraction of an ablation."""

    plans: dict
    seeds: tuple = (0, 1, 2)
    val_fraction: float = 0.15
    description: str = ""
    extra: dict = field(default_factory=dict)


def _small_sampling(**counts):
    return SamplingConfig(min_face=12.0, min_landmark_aug_face=20.0, **counts)


def classroom_preset():
    """Synthetic faces, P-Net and R-Net, 3 epochs, 3 seeds: the ten-minute run of ``--synthetic 500``."""
    pnet = StagePlan(TrainConfig(epochs=3, batch_size=128, lr=0.05), _small_sampling(random_negatives=20), 1.5)
    rnet = StagePlan(TrainConfig(epochs=3, batch_size=128, lr=0.03, warmup=0.2),
                     _small_sampling(random_negatives=4, near_negatives=2, face_crops=5, landmark_crops=5), 1.5,
                     mine_thresholds=(0.4, 0.1), max_negatives=15, min_side=12)
    return ExperimentPreset({"pnet": pnet, "rnet": rnet, "onet": replace(rnet, min_side=12)},
                            description="classroom: synthetic faces, 3 epochs per run")


def fast_preset():
    """The classroom preset cut down for CI (``TINYMTCNN_FAST=1``, ``--fast``): 2 epochs, fewer crops."""
    pnet = StagePlan(TrainConfig(epochs=2, batch_size=64, lr=0.05), _small_sampling(random_negatives=8,
                                                                                    face_crops=8), 1.5)
    rnet = StagePlan(TrainConfig(epochs=2, batch_size=64, lr=0.03, warmup=0.2),
                     _small_sampling(random_negatives=3, near_negatives=2, face_crops=5, landmark_crops=5), 1.5,
                     mine_thresholds=(0.4, 0.1), max_negatives=10, min_side=12)
    return ExperimentPreset({"pnet": pnet, "rnet": rnet, "onet": rnet}, description="fast: CI size, 2 epochs (a smoke test: its verdict means little)")


def real_preset():
    """Real photos (Caltech + MTFL): the laptop plan's sampling and learning rates, fewer epochs."""
    pnet = StagePlan(TrainConfig(epochs=5, batch_size=128, lr=0.05))
    rnet = StagePlan(TrainConfig(epochs=5, batch_size=128, lr=0.03, warmup=0.1),
                     SamplingConfig(random_negatives=10, near_negatives=5, face_crops=10, landmark_crops=5),
                     mine_thresholds=(0.4, 0.1), max_negatives=30)
    onet = StagePlan(TrainConfig(epochs=4, batch_size=64, lr=0.03, warmup=0.1, dropout=0.0),
                     SamplingConfig(random_negatives=5, near_negatives=3, face_crops=8, landmark_crops=5),
                     mine_thresholds=(0.4, 0.3), max_negatives=15)
    return ExperimentPreset({"pnet": pnet, "rnet": rnet, "onet": onet},
                            description="real: laptop-plan sampling, 5 epochs per run")


PRESETS = {"classroom": classroom_preset, "fast": fast_preset, "real": real_preset}


def arms_of(experiments):
    """The arms the ``experiments`` need, each once, in a stable order (``joint`` first)."""
    unknown = [e for e in experiments if e not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"unknown experiment {unknown[0]!r}; use one of {', '.join(EXPERIMENTS)}")
    return tuple(a for a in ARMS if any(a in EXPERIMENTS[e] for e in experiments))


def samples_fingerprint(*sets):
    """SHA-256 (16 hex digits) of every array of the sample sets: equal fingerprints, identical samples."""
    h = hashlib.sha256()
    for s in sets:
        for key in sorted(s.arrays):
            a = s.arrays[key]
            h.update(f"{key}{a.dtype}{a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()[:16]


def arm_config(kind, arm, seed, plan, *, threads=None, epochs=None):
    """The :class:`TrainConfig` of one run: the stage plan's with the arm's weights and OHEM, the seed."""
    spec = ARMS[arm]
    over = {"epochs": epochs} if epochs is not None else {}
    return replace(plan.train, task_weights=spec.task_weights, ohem=spec.ohem, seed=int(seed), num_threads=threads,
                   **over)


def shipped_miner(kind, plan, min_face_size):
    """Hard-example miner of ``kind`` with the authors' shipped nets (None for P-Net)."""
    if kind == "pnet":
        return None
    from ..weights import load_net
    from .mining import HardExampleMiner

    rnet = load_net("rnet") if kind == "onet" else None
    return HardExampleMiner(load_net("pnet"), rnet, min_face_size=min_face_size, thresholds=plan.mine_thresholds,
                            max_negatives=plan.max_negatives, min_side=plan.min_side)


def stage_data(kind, photos, out_dir, plan, *, landmark_photos=None, val_fraction=0.15, min_face_size=20.0,
               workers=1, progress=True, log=print):
    """``(train, val)`` of one stage, built once (sample seed 0) and shared by every arm and seed."""
    if plan.max_photos is not None:
        photos = FirstPhotos(photos, plan.max_photos)
        if landmark_photos is not None:
            landmark_photos = FirstPhotos(landmark_photos, plan.max_photos)
    samples = load_stage_samples(kind, photos, out_dir, plan, landmark_photos=landmark_photos,
                                 miner=shipped_miner(kind, plan, min_face_size), workers=workers,
                                 progress=progress, log=log)
    train, val = split_and_mix(samples, plan, val_fraction=val_fraction)
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"{kind}: too few photos for a training and a validation set "
                         f"({len(samples)} samples); give more photos")
    return train, val


OPEN_SETTINGS = ("seeds", "arms")  # a resumed experiment may add seeds or arms


def _closed(settings):
    """The settings a resumed experiment must share with the one that wrote ``runs.jsonl``."""
    return {k: v for k, v in (settings or {}).items() if k not in OPEN_SETTINGS}


class RunLog:
    """``OUT/runs.jsonl``: a header with the settings, then one line per finished run, each fsync'd.

    ``resume=False`` refuses an existing file (its runs would be lost); ``resume=True`` reads its runs
    back (a last line cut short by a crash is dropped) and refuses one made with other settings; other
    seeds or arms (:data:`OPEN_SETTINGS`) are allowed: a resumed run with more seeds adds their runs.
    """

    def __init__(self, out_dir, settings, *, resume=False):
        self.path = Path(out_dir) / RUNS_FILE
        self.settings = json.loads(json.dumps(settings))
        self.runs = {}
        good = None
        if self.path.exists():
            if not resume:
                raise ValueError(f"{self.path} holds the runs of an earlier experiment: add --resume to continue "
                                 f"it, or choose another --out")
            header, runs, good = read_stream(self.path, FORMAT, "a tinymtcnn experiment file")
            if _closed(header.get("settings")) != _closed(self.settings):
                raise ValueError(f"{self.path} was made with other settings; resume with the same options, or "
                                 f"choose another --out")
            self.runs = {(r["stage"], r["arm"], r["seed"]): r for r in runs}
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        self._file = open_stream(self.path, {"format": FORMAT, "version": 1, "settings": self.settings}, good)

    def add(self, record):
        append_line(self._file, record)
        self.runs[(record["stage"], record["arm"], record["seed"])] = record

    def close(self):
        self._file.close()


def train_run(kind, arm, seed, train, val, plan, out_dir, *, threads=None, epochs=None, resume=False,
              progress=True, log=print):
    """Train one fresh net of ``kind`` for one arm and seed; returns its record (JSON-ready)."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    folder = Path(out_dir) / "runs" / kind / arm / f"seed{seed}"
    trainer = Trainer(kind, folder, arm_config(kind, arm, seed, plan, threads=threads, epochs=epochs),
                      log=lambda line: log(f"[{arm} seed {seed}] {line}"), progress=progress)
    history = trainer.fit(train, val, resume=resume)
    return {"stage": kind, "arm": arm, "seed": int(seed), "samples": samples_fingerprint(train, val),
            "task_weights": list(trainer.task_weights), "ohem": trainer.config.ohem,
            "history": [{"epoch": r["epoch"], "train": r["train"], "val": r["val"]} for r in history],
            "seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(cpu_seconds() - c0, 1)}


def run_experiments(experiments, photos, out_dir, *, preset, landmark_photos=None, stages=("pnet", "rnet"),
                    seeds=None, epochs=None, threads=None, workers=1, min_face_size=20.0, resume=False,
                    progress=True, log=print):
    """Train every arm x seed of ``experiments`` on each stage; returns the summary dict (also written).

    Parameters
    ----------
    experiments : names from :data:`EXPERIMENTS` (``"joint"``, ``"ohem"``)
    photos, landmark_photos : photo sequences (:func:`~.readers.read_annotations`, ``SyntheticFaces``)
    out_dir : folder for ``runs.jsonl``, the summary, the curves, samples and per-run checkpoints
    preset : :class:`ExperimentPreset`; ``seeds`` and ``epochs`` override its own
    stages : subset of ``("pnet", "rnet", "onet")``; R/O-Net samples are mined with the shipped nets
    threads : training threads per run (None: all cores)
    """
    from .ablation_summary import write_summary

    bad = [s for s in stages if s not in STAGES]
    if bad or not stages:
        raise ValueError(f"unknown stage {bad[0] if bad else None!r}; use pnet, rnet, onet")
    arms = arms_of(experiments)
    seeds = tuple(int(s) for s in (preset.seeds if seeds is None else seeds))
    if len(seeds) < 1:
        raise ValueError("at least one seed is needed (three or more to see the seed spread)")
    out_dir = Path(out_dir)
    settings = {"source": getattr(photos, "fingerprint", repr(photos)), "n_photos": len(photos),
                "landmark_source": getattr(landmark_photos, "fingerprint", None), "seeds": list(seeds),
                "stages": list(stages), "arms": list(arms), "epochs": epochs, "val_fraction": preset.val_fraction,
                "plans": {k: asdict(preset.plans[k]) for k in stages}, "min_face_size": min_face_size}
    runs = RunLog(out_dir, settings, resume=resume)
    t0, c0 = time.perf_counter(), cpu_seconds()
    try:
        for kind in stages:
            todo = [(a, s) for a in arms for s in seeds if (kind, a, s) not in runs.runs]
            if not todo:
                log(f"{kind}: all {len(arms) * len(seeds)} runs already done")
                continue
            plan = preset.plans[kind]
            train, val = stage_data(kind, photos, out_dir, plan, landmark_photos=landmark_photos,
                                    val_fraction=preset.val_fraction, min_face_size=min_face_size,
                                    workers=workers, progress=progress, log=log)
            log(f"{kind}: train {len(train)} {train.counts()}, val {len(val)} {val.counts()}, samples "
                f"{samples_fingerprint(train, val)}; {len(todo)} runs to do")
            for arm, seed in todo:
                record = train_run(kind, arm, seed, train, val, plan, out_dir, threads=threads, epochs=epochs,
                                   resume=resume, progress=progress, log=log)
                runs.add(record)
                log(f"{kind} {arm} seed {seed}: done in {record['seconds']:.0f}s")
    finally:
        runs.close()
    total = {"seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(cpu_seconds() - c0, 1)}
    wanted = [r for r in runs.runs.values() if r["stage"] in stages and r["arm"] in arms and r["seed"] in seeds]
    summary = write_summary(out_dir, wanted, experiments, stages=stages, seeds=seeds,
                            settings=dict(settings, description=preset.description), timing=total)
    for line in summary["headline"] + summary["verdict"]:
        log(line)
    return summary
