"""Split the raw abalone CSV into train/validation/test sets for XGBoost.

SageMaker Processing contract: inputs under /opt/ml/processing/input/<name>, outputs written
to /opt/ml/processing/output/<name>. Both roots can be overridden with arguments, which is
how the script's own tests run it.
"""

import argparse
import os

import pandas as pd

COLUMNS = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight",
           "viscera_weight", "shell_weight", "rings"]


def featurize(raw: pd.DataFrame) -> pd.DataFrame:
    """Label (rings) first, then one-hot sex and the numeric measurements: XGBoost's CSV layout."""
    sex = pd.get_dummies(raw["sex"], prefix="sex").reindex(columns=["sex_F", "sex_I", "sex_M"], fill_value=0)
    numeric = raw[COLUMNS[1:-1]].astype(float)
    return pd.concat([raw["rings"].astype(float), sex.astype(float), numeric], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    parser.add_argument("--seed", type=int, default=42)
    args, _ = parser.parse_known_args()  # run as `python -m preprocess preprocess.py`

    raw_dir = os.path.join(args.input_dir, "raw")
    files = sorted(os.path.join(raw_dir, f) for f in os.listdir(raw_dir) if f.endswith(".csv"))
    raw = pd.concat([pd.read_csv(f, header=None, names=COLUMNS) for f in files], ignore_index=True)
    data = featurize(raw).sample(frac=1.0, random_state=args.seed).reset_index(drop=True)

    first, second = int(0.7 * len(data)), int(0.85 * len(data))
    train, validation, test = data.iloc[:first], data.iloc[first:second], data.iloc[second:]
    for name, frame in (("train", train), ("validation", validation), ("test", test)):
        out = os.path.join(args.output_dir, name)
        os.makedirs(out, exist_ok=True)
        frame.to_csv(os.path.join(out, f"{name}.csv"), header=False, index=False)
    # Features only, for batch transform.
    test.iloc[:, 1:].to_csv(os.path.join(args.output_dir, "test", "x_test.csv"), header=False, index=False)
    print(f"rows: train={len(train)} validation={len(validation)} test={len(test)}")


if __name__ == "__main__":
    main()
