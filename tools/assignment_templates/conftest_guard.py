# --------------------------------------------------------------------------- assignment guard
# Added by the teacher's tools/make_assignment.py: these tests test THIS folder's tinymtcnn. If
# another tinymtcnn is installed (the teacher's, a classmate's), the run stops and names it.
def pytest_configure(config):
    copy_root = Path(__file__).resolve().parents[1]
    try:
        import tinymtcnn
    except Exception:  # your package does not import: the test modules report why
        return
    found = Path(tinymtcnn.__file__).resolve()
    if copy_root not in found.parents:
        raise pytest.UsageError(
            f"these tests must test the tinymtcnn in {copy_root}, but Python imported {found}.\n"
            f"Another tinymtcnn is installed. Fix: `python -m pip uninstall tinymtcnn`, then in "
            f"{copy_root}: `python -m pip install -e \".[dev]\"` and `python -m pytest`.")
