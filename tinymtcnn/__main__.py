"""``python -m tinymtcnn``: the ``tinymtcnn`` command (see :mod:`tinymtcnn.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
