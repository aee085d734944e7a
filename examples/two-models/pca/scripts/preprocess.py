"""Stage the numeric housing features for PCA (standardized, no label)."""

import argparse
import os

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    args, _ = parser.parse_known_args()  # run as `python -m preprocess preprocess.py`
    raw = pd.read_csv(os.path.join(args.input_dir, "raw", "housing.csv"))
    features = raw.drop(columns=["price"])
    out = os.path.join(args.output_dir, "train")
    os.makedirs(out, exist_ok=True)
    features.to_csv(os.path.join(out, "features.csv"), index=False)
    print(f"staged {len(features)} rows, {features.shape[1]} features")


if __name__ == "__main__":
    main()
