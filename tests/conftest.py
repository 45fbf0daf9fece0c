"""Shared test fixtures.

Tests that need ``../shared`` (the authors' caffemodels, real photos) take the
``shared_dir`` fixture and carry ``@pytest.mark.shared``; on a fresh clone
without ``../shared`` they are skipped with a reason.
"""
import os
from pathlib import Path

# Compile every parallel build at its first launch (the package waits until one pays for itself:
# tinymtcnn/kernels/_jit.py), so that the tests comparing serial and parallel builds run both.
# Set before tinymtcnn is imported; child processes of the tests inherit it.

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TINYMTCNN_SHARED", REPO.parent / "shared"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def shared_dir():
    """Path of ``../shared``; skips the test when it is absent."""
    if not (SHARED / "reference" / "mtcnn_caffe").is_dir():
        pytest.skip(f"needs the shared reference material at {SHARED} (absent on a fresh clone)")
    return SHARED


@pytest.fixture(scope="session")
def fixtures_dir():
    return FIXTURES


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
