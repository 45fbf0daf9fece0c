"""Where the CLI writes, checked before any work: never over an input, never into a searched input folder.

The annotated pictures of ``detect --out DIR`` are flat: ``DIR/<stem>.png``, with ``<stem>-1.png``,
``<stem>-2.png``... when names collide (``a.jpg``, ``a.png``, ``sub/a.jpg``); each JSON record names
its picture (``"annotated"``). Every picture is written atomically and carries the PNG text
``Software: tinymtcnn``, so a rerun may replace the pictures tinymtcnn wrote but refuses to replace
any other file.
"""
import os
import tempfile
from pathlib import Path

from .atomic import atomic_path

SOFTWARE = "tinymtcnn"


def save_picture(image, path):
    """Save the PIL ``image`` to ``path`` atomically, in the format its extension names.

    PNGs carry the text ``Software: tinymtcnn`` (see :func:`written_by_tinymtcnn`).

    Raises
    ------
    ValueError
        The extension names no picture format Pillow writes.
    OSError
        The file cannot be written (the old one, if any, is left as it was).
    """
    from PIL import Image, PngImagePlugin

    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise ValueError(f"cannot write {str(path)!r}: unknown picture format {path.suffix!r} (use .png)")
    extra = {}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", SOFTWARE)
        extra["pnginfo"] = info
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt, **extra)


def written_by_tinymtcnn(path):
    """Whether ``path`` is a PNG that :func:`save_picture` wrote (its ``Software`` text is tinymtcnn)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.format == "PNG" and img.info.get("Software") == SOFTWARE
    except Exception:  # not a picture, unreadable, a folder: not ours
        return False


def annotated_names(paths, out_dir, reserved=None):
    """``out_dir/<stem>.png`` per input; ``<stem>-1.png``, ``<stem>-2.png``... on collisions.

    Parameters
    ----------
    paths : list of paths
    out_dir : pathlib.Path
    reserved : dict, optional
        ``{index: picture path}`` of inputs whose picture an earlier run wrote (``--resume``): they
        keep it, and the others avoid those names.

    Returns
    -------
    list of pathlib.Path
        Names compare case-insensitively (folders on macOS and Windows do).
    """
    reserved = reserved or {}
    used = {Path(p).name.lower() for p in reserved.values()}
    names = []
    for i, p in enumerate(paths):
        if i in reserved:
            names.append(Path(reserved[i]))
            continue
        stem = Path(p).stem or "image"
        name, k = f"{stem}.png", 0
        while name.lower() in used:
            k += 1
            name = f"{stem}-{k}.png"
        used.add(name.lower())
        names.append(out_dir / name)
    return names


class InputFiles:
    """The input files, to tell whether a path is one of them (same resolved path, or the same file)."""

    def __init__(self, paths):
        self.resolved = {os.path.normcase(Path(p).resolve()) for p in paths}
        self.inodes = set()
        for p in paths:
            try:
                st = os.stat(p)
            except OSError:
                continue
            self.inodes.add((st.st_dev, st.st_ino))

    def holds(self, path):
        if os.path.normcase(Path(path).resolve()) in self.resolved:
            return True
        try:
            st = os.stat(path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) in self.inodes  # a hard link or another name of an input


def check_out_dir(out_dir, searched_dirs, pictures, inputs):
    """Refuse an ``--out`` folder that would overwrite or feed back into the inputs.

    Raises
    ------
    ValueError
        ``out_dir`` is (inside) a folder that is searched for images, a picture (any path in
        ``pictures``: detect's annotated pictures, align's crops) would replace an input file, or a
        file that tinymtcnn did not write.
    """
    _refuse_inside_searched(out_dir, searched_dirs, "--out", "the pictures written there", "folder")
    for picture in pictures:
        if inputs.holds(picture):
            raise ValueError(f"--out {str(out_dir)!r} would overwrite the input {str(picture)!r} with a picture; "
                             f"choose another folder")
        if os.path.lexists(picture) and not written_by_tinymtcnn(picture):
            raise ValueError(f"--out {str(out_dir)!r} already holds {str(picture)!r}, which tinymtcnn did not "
                             f"write; choose a new or empty folder, or move that file away")


def _refuse_inside_searched(path, searched_dirs, option, what, kind):
    """ValueError when ``path`` is (inside) one of ``searched_dirs``, the folders searched for images."""
    resolved = Path(path).resolve()
    for folder in searched_dirs:
        top = Path(folder).resolve()
        if resolved == top or top in resolved.parents:
            raise ValueError(f"{option} {str(path)!r} is inside the input folder {str(folder)!r}, which is searched "
                             f"for images: {what} would be read as inputs next time (and tinymtcnn never writes "
                             f"into an input folder); choose a {kind} outside it")


def check_json_file(json_path, inputs, pictures=(), searched_dirs=()):
    """Refuse a ``--json`` file (or its partial results file) that is an input, a folder, a picture, or
    lies in a folder searched for images (``searched_dirs``)."""
    from .records import partial_path

    for path in (Path(json_path), partial_path(json_path)):
        if inputs.holds(path):
            raise ValueError(f"--json {str(json_path)!r} would overwrite the input {str(path)!r}; choose another name")
        if path.is_dir():
            raise ValueError(f"--json {str(json_path)!r}: {str(path)!r} is a folder")
    _refuse_inside_searched(json_path, searched_dirs, "--json", "a results file there", "file")
    resolved = Path(json_path).resolve()
    if any(Path(p).resolve() == resolved for p in pictures):
        raise ValueError(f"--json {str(json_path)!r} is also the name of an annotated picture; choose another name")


def prepare_folder(folder, option):
    """Create ``folder`` if needed and make sure a file can be created in it (checked before any work).

    Raises
    ------
    ValueError
        Naming ``option`` and the folder, when it cannot be created or written.
    """
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".tinymtcnn-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{option}: cannot write into the folder {str(folder)!r}: {exc.strerror or exc}") from None
