"""Where the dev tools find ``../shared`` (never part of the repository): ``$TINYMTCNN_SHARED`` if set,
else the folder ``shared`` beside the repository. ``DATA`` is its ``data`` folder (see its README)."""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TINYMTCNN_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"


def add_data_option(parser):
    """Give an ``argparse`` parser the tools' common ``--data`` option (default :data:`DATA`)."""
    parser.add_argument("--data", type=Path, default=DATA,
                        help=f"the shared data folder (default {DATA}, or $TINYMTCNN_SHARED/data)")
    return parser
