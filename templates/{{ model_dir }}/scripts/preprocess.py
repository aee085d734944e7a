"""Split the raw CSV (header row, label column `target`) into train/validation/test sets.

SageMaker Processing contract: inputs under /opt/ml/processing/input/<channel>, outputs written to
/opt/ml/processing/output/<name>. Outputs are headerless, label first (the built-in algorithms'
CSV layout), plus test/x_test.csv (features only) for batch transform. Both roots can be
overridden with arguments, which is how tests/test_scripts.py runs this script.
"""

import argparse
import glob
import os

import pandas as pd

LABEL = "target"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    parser.add_argument("--seed", type=int, default=42)
    args, _ = parser.parse_known_args()  # run as `python -m preprocess preprocess.py`

    files = sorted(glob.glob(os.path.join(args.input_dir, "raw", "*.csv")))
    if not files:
        raise SystemExit(f"no CSV files under {os.path.join(args.input_dir, 'raw')}")
    raw = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    data = pd.concat([raw[[LABEL]], raw.drop(columns=[LABEL])], axis=1).astype(float)
    data = data.sample(frac=1.0, random_state=args.seed).reset_index(drop=True)

    n = len(data)
    cut_train, cut_validation = int(0.7 * n), int(0.85 * n)
    splits = {"train": data.iloc[:cut_train], "validation": data.iloc[cut_train:cut_validation],
              "test": data.iloc[cut_validation:]}
    for name, frame in splits.items():
        out = os.path.join(args.output_dir, name)
        os.makedirs(out, exist_ok=True)
        frame.to_csv(os.path.join(out, f"{name}.csv"), header=False, index=False)
    splits["test"].iloc[:, 1:].to_csv(os.path.join(args.output_dir, "test", "x_test.csv"),
                                      header=False, index=False)
    print("rows: " + " ".join(f"{name}={len(frame)}" for name, frame in splits.items()))


if __name__ == "__main__":
    main()
