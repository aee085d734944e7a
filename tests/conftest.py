import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Helper modules that tests import and also load as plugins: rewrite their asserts in both uses.
pytest.register_assert_rewrite("deploy_support", "github_fake", "ci_support")

# One OpenMP/BLAS thread per process, inherited by every child (CLI runs, the generated
# repositories' tests, the scripts of local runs): two xdist workers and their children already
# fill the cores, and LightGBM/XGBoost/NumPy each starting a thread per core on top of that made a
# generated repository's 4-second test take 40 s. Set the variables yourself to override.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# check's fast-path records (smpipe_gen/fingerprint.py) go to a directory of this run, inherited by
# every CLI run: tests never read or write the developer's ~/.cache, and no record from an earlier
# run can make a check pass without a render.
os.environ.setdefault("SMPIPE_CACHE_DIR", tempfile.mkdtemp(prefix="smpipe-check-cache-"))


@pytest.fixture(autouse=True)
def _working_directory_kept():
    """Every test leaves the process's working directory where it found it: one left in a
    deleted temporary directory breaks whatever runs next in that worker (copier, git)."""
    before = os.getcwd()
    yield
    try:
        after = os.getcwd()
    except FileNotFoundError:
        after = "(a deleted directory)"
    if after != before:
        os.chdir(before)
        pytest.fail(f"the test left the working directory at {after}, not {before}")
