"""Packaging for tinymtcnn (setuptools; lower bounds only)."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_version():
    for line in (HERE / "tinymtcnn" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip('"')
    raise RuntimeError("no __version__ in tinymtcnn/__init__.py")


setup(
    name="tinymtcnn",
    version=read_version(),
    description="MTCNN face detection and 5-point alignment from scratch in numpy + Numba",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["tinymtcnn", "tinymtcnn.*"]),
    package_data={
        "tinymtcnn.weights": ["data/*.npz", "data/*.txt", "data/*.md"],
        "tinymtcnn": ["assets/*"],
    },
    install_requires=[
        "numpy>=1.22",
        "numba>=0.57",
        "pillow>=9.0",
        "matplotlib>=3.5",
        "tqdm>=4.60",
        "threadpoolctl>=3.1",
    ],
    extras_require={
        "dev": ["pytest>=7", "pytest-timeout>=2.1", "nbmake>=1.4", "jupytext>=1.14", "nbformat>=5", "ipykernel>=6"],
        "dask": ["dask>=2023.1", "distributed>=2023.1"],  # tinymtcnn.distributed, --scheduler (tested: 2026.8)
        "docs": ["mkdocs>=1.5", "mkdocs-material>=9", "mkdocstrings[python]>=0.24", "latex2mathml>=3.81"],
    },
    entry_points={"console_scripts": ["tinymtcnn=tinymtcnn.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
