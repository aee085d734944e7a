import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# One OpenMP/BLAS thread per process, inherited by every child (CLI runs, the generated
# repositories' tests, the scripts of local runs): two xdist workers and their children already
# fill the cores, and LightGBM/XGBoost/NumPy each starting a thread per core on top of that made a
# generated repository's 4-second test take 40 s. Set the variables yourself to override.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
