"""One photo of ``tinymtcnn align``: detect, align each face, write its crops, give its index record.

The crops of a photo whose stem is ``a/b`` are ``<out>/a/b_0.png``, ``b_1.png``... (faces in score
order, highest first), written atomically as PNGs carrying ``Software: tinymtcnn``
(:func:`tinymtcnn.outputs.save_picture`): a file of that name that tinymtcnn did not write is never
replaced, and crops ``b_<k>.png`` an earlier run wrote beyond this run's faces are removed, so that
the folder holds what the index says.
"""
import os
import re
from pathlib import Path, PurePosixPath

import numpy as np

#: A crop's file name: ``<stem>_<face number>.png``.
CROP_NAME = re.compile(r"(?P<stem>.+)_(?P<face>[0-9]+)\.png", re.IGNORECASE)


def largest_face(faces):
    """The face with the largest box area (facenet-pytorch's ``select_largest``): Detections of 0 or 1 face."""
    from .detect.result import Detections

    if len(faces) < 2:
        return faces
    boxes = faces.boxes
    i = int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
    return Detections(boxes[i:i + 1], faces.scores[i:i + 1], faces.landmarks[i:i + 1])


def align_photo(detector, path, out, stem, size, margin, largest_only):
    """Detect on ``path``, write one aligned crop per face, -> the photo's index record (never raises
    for a fault of the photo: an unreadable file, a failed detection or an unwritable crop is recorded).

    Parameters
    ----------
    detector : MTCNN (or anything with ``detect(image) -> Detections``)
    path : path of the photo
    out : pathlib.Path
        The ``--out`` folder.
    stem : PurePosixPath
        The crops' name under ``out`` without ``_<k>.png`` (:func:`tinymtcnn.align_command.crop_stems`).
    size, margin, largest_only
        As :func:`tinymtcnn.align.align_faces` and :func:`largest_face`.

    Returns
    -------
    dict
        ``{"path", "status", "width", "height", "faces": [{"face", "crop", "box", "score", "landmarks"}]}``,
        ``status`` one of ``"ok"``, ``"no face"``, ``"unreadable"``, ``"failed"`` (the last two with
        ``"error"``, a message naming the file); ``crop`` is relative to ``out``, with ``/``.
    """
    from .align import align_faces
    from .cli import task_not_done
    from .io import load_image

    record = {"path": str(path), "status": "ok", "faces": []}
    try:
        image = load_image(path)
    except (ValueError, TypeError, OSError) as exc:
        return dict(record, status="unreadable", error=f"skipped: {exc}")  # load_image's messages name the path
    record.update(width=int(image.shape[1]), height=int(image.shape[0]))
    try:
        faces = detector.detect(image)
        if largest_only:
            faces = largest_face(faces)
        crops = align_faces(image, faces, size, margin=margin)
    except Exception as exc:  # one bad photo must not abort a dataset: recorded, exit status 1
        reason = task_not_done(exc) or f"{type(exc).__name__}: {exc}"
        return dict(record, status="failed", error=f"failed on {str(path)!r}: {reason}")
    for k, (face, crop) in enumerate(zip(faces.to_dicts(), crops)):
        name = PurePosixPath(f"{stem}_{k}.png")
        try:
            _save_crop(crop, out / name)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return dict(record, status="failed", error=f"cannot write {str(out / name)!r}: {reason}")
        record["faces"].append({"face": k, "crop": name.as_posix(), **face})
    _remove_stale_crops(out / stem, len(crops))
    if not crops.shape[0]:
        record["status"] = "no face"
    return record


def _save_crop(crop, target):
    """Write the crop (H, W, 3) uint8 to ``target`` atomically, refusing a file tinymtcnn did not write."""
    from PIL import Image

    from .outputs import save_picture, written_by_tinymtcnn

    if os.path.lexists(target) and not written_by_tinymtcnn(target):
        raise ValueError("a file tinymtcnn did not write is there (left as it is)")
    target.parent.mkdir(parents=True, exist_ok=True)
    save_picture(Image.fromarray(crop), target)


def _remove_stale_crops(stem_path, n_faces):
    """Remove ``<stem>_<k>.png`` for ``k >= n_faces`` while tinymtcnn wrote them (an earlier run found more faces)."""
    from .outputs import written_by_tinymtcnn

    k = n_faces
    while written_by_tinymtcnn(stale := Path(f"{stem_path}_{k}.png")):
        os.unlink(stale)
        k += 1
