"""What the built-in XGBoost algorithm costs in ``run --local``: the Projects-seed-shaped program
(tests/local_fixtures/sdkworld) run end to end with its built-in 1.0-1 training, per step, and the
training step against the floor: the same rounds with the xgboost library called directly.

    python benchmarks/builtin_xgboost.py [--rows 4177] [--repeat 3]

4177 rows is the public abalone data set's size. Every figure is the median of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from test_local_sdk_world import CI_KWARGS, SEED_DATA, abalone_csv  # noqa: E402

SEED_HYPERPARAMETERS = {"objective": "reg:linear", "max_depth": 5, "eta": 0.2, "gamma": 4, "min_child_weight": 6,
                        "subsample": 0.7}


def seed_run(root: Path) -> tuple[float, dict]:
    """One fresh run of the seed-shaped program as its CI calls it: wall seconds and its run record."""
    shutil.rmtree(root / ".smpipe", ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "smpipe_gen", "run", "--local", "--pipeline", "pipelines.abalone.pipeline",
                    "--kwargs", json.dumps(CI_KWARGS), "--data", f"{SEED_DATA}=./data"],
                   cwd=root, env={**env, "HOME": str(root)}, check=True, capture_output=True)
    wall = time.perf_counter() - started
    execution = json.loads((root / ".smpipe" / "last-run.json").read_text())["execution_id"]
    return wall, json.loads((root / ".smpipe" / "runs" / execution / "run.json").read_text())


def direct_training(record: dict) -> float:
    """Seconds for xgboost.train on the run's own train split, 50 rounds, in a fresh interpreter
    (import included, as the job pays it) with one thread, as a local job gets (OMP_NUM_THREADS=1)."""
    splits = {Path(p).name: Path(p, f"{Path(p).name}.csv") for p in record["steps"]["PreprocessAbaloneData"]["outputs"].values()}
    code = (f"import numpy as np, xgboost as x, warnings; warnings.simplefilter('ignore')\n"
            f"d = np.loadtxt({str(splits['train'])!r}, delimiter=',')\n"
            f"x.train({SEED_HYPERPARAMETERS!r}, x.DMatrix(d[:, 1:], label=d[:, 0]), num_boost_round=50)\n")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-c", code], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4177, help="rows of the abalone-shaped CSV")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        root = Path(work) / "world"
        shutil.copytree(REPO / "tests" / "local_fixtures" / "sdkworld", root, ignore=shutil.ignore_patterns("__pycache__"))
        abalone_csv(root / "data" / "abalone-dataset.csv", rows=args.rows)
        runs = [seed_run(root) for _ in range(args.repeat)]
        floors = [direct_training(runs[-1][1]) for _ in runs]  # the last run's store is still there
    steps = list(runs[0][1]["steps"])
    print(f"seed-shaped program, {args.rows} rows, median of {args.repeat} fresh runs (2 cores here: {os.cpu_count()})")
    print(f"  {'whole command':<36} {statistics.median(w for w, _ in runs):6.2f} s wall")
    for name in steps:
        seconds = statistics.median(r["steps"][name]["duration_seconds"] for _, r in runs)
        print(f"  {name:<36} {seconds:6.2f} s")
    print(f"  {'floor: python -I + xgboost.train':<36} {statistics.median(floors):6.2f} s (same split, 50 rounds)")


if __name__ == "__main__":
    main()
