"""Sample shards on disk: build once, reuse on the next run.

``build_samples(photos, size, out_dir, ...)`` turns a photo sequence (:class:`~.readers.PhotoList`,
:class:`~.synthetic.SyntheticFaces`) into :class:`~.samples.SampleSet` shards
``out_dir/shard-00000.npz`` ... of ``shard_photos`` photos each, plus ``manifest.json`` recording
everything the samples depend on (source fingerprint, crop size, seed, sampling config, miner).
A rerun with the same manifest loads the existing shards and builds only the missing ones (an
interrupted build resumes); a different manifest clears the old shards first.

Determinism: photo ``i`` is sampled with ``numpy.random.default_rng([seed, i])``, so the samples do
not depend on the shard size or on the number of worker processes.
"""
import json
import zipfile
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .samples import SamplingConfig, make_samples, photo_crops
from .sampleset import SampleSet
from ..atomic import atomic_savez, atomic_write_text
from ..distributed import is_client
from ..process_pool import WorkerPool

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class SampleBuildError(RuntimeError):
    """A sample shard could not be built in a worker process (the message says why)."""


def _shard_path(out_dir, k):
    return Path(out_dir) / f"shard-{k:05d}.npz"


def _photo_samples(photos, i, size, seed, config, miner):
    photo = photos[i]
    rng = np.random.default_rng([seed, i])
    crops = photo_crops(photo, rng, config)
    if miner is not None:
        from .mining import concat_crops

        crops = concat_crops([crops, miner.photo_crops(photo, rng)])
    return SampleSet(make_samples(photo, i, size, crops), size)


def _build_shard(args):
    """The sample arrays of one shard (saved by the caller: workers on a cluster may not see ``out_dir``)."""
    from ..threads import limit_threads

    photos, k, lo, hi, size, seed, config, miner, threads = args
    with limit_threads(threads, blas=1):  # a worker among several: one thread each
        parts = [_photo_samples(photos, i, size, seed, config, miner) for i in range(lo, hi)]
    return SampleSet.concat(parts, size).arrays


def _shard_results(jobs, workers, on_death):
    """Yield ``(job index, arrays, error)`` as shards finish: on a Dask client, in processes, or here."""
    if is_client(workers):
        from ..distributed import run_on_client

        yield from run_on_client(workers, _build_shard, enumerate(jobs), name="tinymtcnn-samples")
    elif workers > 1 and len(jobs) > 1:
        # spawned workers (a fork of a process whose thread pools, Numba's or tinymtcnn.threads', have
        # run can deadlock in the child, as seen in O-Net mining); a killed worker is replaced and its
        # shard retried once, Ctrl-C ends them without tracebacks; finished shards are on disk already
        with WorkerPool(_build_shard, workers, on_death=on_death) as pool:
            yield from pool.run(enumerate(jobs))
    else:
        for j, job in enumerate(jobs):
            yield j, _build_shard(job), None


def build_samples(photos, size, out_dir, *, seed=0, config=SamplingConfig(), miner=None, shard_photos=250,
                  workers=1, progress=True, log=print):
    """Build (or reuse) the sample shards of ``photos`` at crop ``size``; returns the whole SampleSet.

    Parameters
    ----------
    photos : sequence of Photo with a ``fingerprint`` attribute
    size : 12, 24 or 48
    out_dir : directory for ``manifest.json`` and the shards
    seed : int
    config : SamplingConfig for the random crops (A's P-Net rules)
    miner : optional :class:`~.mining.HardExampleMiner`; its detections add hard samples
    shard_photos : photos per shard
    workers : processes building shards in parallel (1: in this process), or a ``distributed.Client``
        whose cluster builds them (:mod:`tinymtcnn.distributed`; the shards come back and are saved here)
    progress : tqdm bar on stderr
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT_VERSION, "source": getattr(photos, "fingerprint", repr(photos)),
                "n_photos": len(photos), "size": int(size), "seed": int(seed), "config": asdict(config),
                "miner": miner.fingerprint if miner is not None else None, "shard_photos": int(shard_photos)}
    man_path = out_dir / MANIFEST
    old = _read_manifest(man_path)
    if old != manifest:
        stale = sorted(out_dir.glob("shard-*.npz"))
        if stale:
            log(f"samples in {out_dir} were built with other settings: rebuilding {len(stale)} shards")
        for p in stale:
            p.unlink()
        atomic_write_text(man_path, json.dumps(manifest, indent=1))
    n_shards = (len(photos) + shard_photos - 1) // shard_photos
    todo = [k for k in range(n_shards) if not _shard_path(out_dir, k).is_file()]
    if todo:
        parallel = is_client(workers) or (workers > 1 and len(todo) > 1)
        jobs = [(photos, k, k * shard_photos, min(len(photos), (k + 1) * shard_photos), size, seed, config, miner,
                 1 if parallel else None) for k in todo]
        bar = tqdm(total=sum(j[3] - j[2] for j in jobs), desc=f"samples {size}x{size}", unit="photo",
                   disable=not progress, leave=False)

        def on_death(job, how, retrying):
            log(f"a worker building {_shard_path(out_dir, job[1])} died ({how})"
                + ("; retrying it on a new worker" if retrying else ""))

        for j, arrays, error in _shard_results(jobs, workers, on_death):
            for kind in (ValueError, NotImplementedError):  # bad data, a stub: as without workers
                if error is not None and error.startswith(f"{kind.__name__}: "):
                    raise kind(error[len(kind.__name__) + 2:])
            if error is not None:
                raise SampleBuildError(f"building {_shard_path(out_dir, jobs[j][1])} failed: {error}; "
                                       f"the finished shards are kept, run again to build the rest")
            atomic_savez(_shard_path(out_dir, jobs[j][1]), arrays)
            bar.update(jobs[j][3] - jobs[j][2])
        bar.close()
    else:
        log(f"reusing {n_shards} sample shards in {out_dir}")
    return load_samples(out_dir, size)


def _read_manifest(path):
    """The manifest as written, or None when absent or unreadable (the shards are then rebuilt)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def load_samples(out_dir, size):
    """Concatenate every shard of ``out_dir`` (in shard order); a damaged shard is a ``ValueError``
    naming it (delete it: the next run rebuilds it)."""
    parts = []
    for p in sorted(Path(out_dir).glob("shard-*.npz")):
        if p.name.endswith(".tmp.npz"):
            continue
        try:
            with np.load(p, allow_pickle=False) as z:
                parts.append(SampleSet({k: z[k] for k in z.files}, size))
        except (ValueError, TypeError, KeyError, EOFError, OSError, zipfile.BadZipFile, zlib.error) as err:
            reason = "not plain arrays" if "pickle" in str(err) else f"{type(err).__name__}: {err}"
            raise ValueError(f"damaged sample shard {p} ({reason}); delete it and run again, "
                             f"it is rebuilt") from None
    return SampleSet.concat(parts, size)
