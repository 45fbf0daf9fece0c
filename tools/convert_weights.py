#!/usr/bin/env python
"""Convert the authors' MTCNN caffemodels into the npz files shipped with tinymtcnn.

Usage (from the repository root)::

    python tools/convert_weights.py [--src ../shared/reference/mtcnn_caffe] [--out tinymtcnn/weights/data]

Reads ``det1..det4.caffemodel`` from ``--src`` (the authors' MIT-licensed release,
kpzhang93/MTCNN_face_detection_alignment, ``code/codes/MTCNNv2/model/``) with tinymtcnn's own
protobuf reader, and writes to ``--out``:

* ``pnet.npz``, ``rnet.npz``, ``onet.npz``, ``lnet.npz``: flat params in **Caffe layout**
  (``"<layer>.w"``, ``"<layer>.b"``, ``"<layer>.alpha"``) plus ``"__layout__" = "caffe"`` and
  ``"__source__"`` (caffemodel name and sha256); see ``tinymtcnn/weights/convert.py``;
* ``LICENSE-mtcnn-weights.txt``: the authors' MIT licence, which must ship with the weights;
* ``PROVENANCE.md``: what was converted, from where, sha256 of inputs and outputs, the command.

The output is deterministic: running it again gives byte-identical files (same zlib).
"""
import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tinymtcnn.weights.convert import convert_caffemodel, sha256_of  # noqa: E402

NETS = [("det1", "pnet", "P-Net"), ("det2", "rnet", "R-Net"),
        ("det3", "onet", "O-Net"), ("det4", "lnet", "LNet, MTCNNv2 4th stage")]
LICENSE_NAME = "LICENSE-mtcnn-weights.txt"

PROVENANCE_HEAD = """# Provenance of the shipped MTCNN weights

**What.** The original MTCNN networks of Kaipeng Zhang et al. (*Joint Face Detection and Alignment
using Multi-task Cascaded Convolutional Networks*, IEEE SPL 2016): P-Net, R-Net, O-Net and the
MTCNNv2 landmark-refinement net LNet, converted from the authors' Caffe `.caffemodel` files.

**From where.** Public repository `kpzhang93/MTCNN_face_detection_alignment`,
`code/codes/MTCNNv2/model/det{{1,2,3,4}}.caffemodel` (det1-3 are identical for MTCNNv1 and v2),
read from `{src}`.

**Licence.** MIT, Copyright (c) 2016 Kaipeng Zhang: see `{license}` beside these
files. That licence text must ship with the weights.

**How.** With tinymtcnn's own protobuf reader (no Caffe, no protobuf package):

    {command}

The values are the caffemodel floats, unchanged (float32).

**Layout.** The arrays are in **Caffe layout** (`"__layout__" = "caffe"` inside each file):
conv `w (F, C, KH, KW)`, InnerProduct `w (O, I)`, `b (F,)`, PReLU `alpha (C,)`, keys
`"<caffe layer name>.w|b|alpha"`. The authors ran these nets through matcaffe on *transposed*
images (Caffe-H = image x), so they must not be used on natural `(N, C, H=y, W=x)` images as they
are: `tinymtcnn.weights.layout.caffe_to_natural` swaps the kernel axes and re-orders the first
InnerProduct (spec section 2).

**Extra layer.** `det2.caffemodel` holds an InnerProduct `conv5-3` (128 -> 10, 1,290 parameters,
an R-Net landmark head) that `det2.prototxt` does not declare; it is kept as `conv5-3.w/b`.

| caffemodel | sha256 | bytes | -> npz | parameters | npz sha256 | npz bytes |
|---|---|---|---|---|---|---|
"""


def convert_all(src, out, command):
    """Convert det1..det4 from ``src`` into ``out``; return a list of result rows."""
    src, out = Path(src), Path(out)
    needed = [f"{det}.caffemodel" for det, _, _ in NETS] + ["LICENSE"]
    missing = [name for name in needed if not (src / name).is_file()]
    if missing:
        raise SystemExit(f"error: {src} lacks {', '.join(missing)}")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for det, net, title in NETS:
        caffemodel, npz = src / f"{det}.caffemodel", out / f"{net}.npz"
        params = convert_caffemodel(caffemodel, npz)
        count = sum(int(a.size) for a in params.values())
        rows.append((caffemodel, npz, count, title))
        print(f"{caffemodel.name} -> {npz}  {len(params)} arrays, {count:,} parameters, "
              f"{npz.stat().st_size:,} bytes")
    shutil.copyfile(src / "LICENSE", out / LICENSE_NAME)
    try:
        shown_src = Path(src).resolve().relative_to(REPO.parent)
        shown_src = f"../{shown_src}"
    except ValueError:
        shown_src = str(src)
    text = PROVENANCE_HEAD.format(src=shown_src, license=LICENSE_NAME, command=command)
    for caffemodel, npz, count, title in rows:
        text += (f"| `{caffemodel.name}` | `{sha256_of(caffemodel)}` | {caffemodel.stat().st_size:,} | "
                 f"`{npz.name}` ({title}) | {count:,} | `{sha256_of(npz)}` | {npz.stat().st_size:,} |\n")
    (out / "PROVENANCE.md").write_text(text, encoding="utf-8")
    print(f"wrote {out / LICENSE_NAME} and {out / 'PROVENANCE.md'}")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", default=str(REPO.parent / "shared" / "reference" / "mtcnn_caffe"),
                        help="folder with det1..det4.caffemodel and LICENSE (default: ../shared/reference/mtcnn_caffe)")
    parser.add_argument("--out", default=str(REPO / "tinymtcnn" / "weights" / "data"),
                        help="output folder (default: tinymtcnn/weights/data)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    command = " ".join(["python tools/convert_weights.py"] + argv)
    convert_all(args.src, args.out, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
