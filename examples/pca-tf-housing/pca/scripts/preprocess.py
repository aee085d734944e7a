"""Stage the housing features (no label) for the PCA fit.

Input: /opt/ml/processing/input/raw/*.csv. Output: /opt/ml/processing/output/train/features.csv.
"""

import argparse
import os

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    args, _ = parser.parse_known_args()  # run as `python -m preprocess preprocess.py`
    raw_dir = os.path.join(args.input_dir, "raw")
    raw = pd.concat([pd.read_csv(os.path.join(raw_dir, f)) for f in sorted(os.listdir(raw_dir)) if f.endswith(".csv")],
                    ignore_index=True)
    features = raw.drop(columns=["price"])
    out = os.path.join(args.output_dir, "train")
    os.makedirs(out, exist_ok=True)
    features.to_csv(os.path.join(out, "features.csv"), index=False)
    print(f"staged {len(features)} rows, {features.shape[1]} features")


if __name__ == "__main__":
    main()
