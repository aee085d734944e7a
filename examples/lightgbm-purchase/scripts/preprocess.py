"""Encode and split the raw purchase sessions into train/test for LightGBM.

Categorical columns become integer codes from fixed vocabularies (written to schema.json so
training marks them categorical and inference sees the same codes). Outputs:
/opt/ml/processing/output/train/{train.csv,schema.json} and
/opt/ml/processing/output/test/{test.csv,x_test.csv}: label first, headers kept except in
x_test.csv, the features-only file the batch transform scores.
"""

import argparse
import json
import os

import pandas as pd

LABEL = "purchased"
NUMERIC = ["age", "pages_viewed", "minutes_on_site", "cart_value", "returning"]
CATEGORIES = {"device": ["desktop", "mobile", "tablet"],
              "channel": ["direct", "email", "search", "social"],
              "country": ["DE", "FR", "UK", "US"]}


def encode(raw: pd.DataFrame) -> pd.DataFrame:
    """Label, numeric columns, then categorical codes (-1 for a value outside the vocabulary)."""
    codes = {name: pd.Categorical(raw[name], categories=values).codes for name, values in CATEGORIES.items()}
    return pd.concat([raw[[LABEL]].astype(int), raw[NUMERIC].astype(float), pd.DataFrame(codes, index=raw.index)],
                     axis=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=42)
    args, _ = parser.parse_known_args()  # run as `python -m preprocess preprocess.py`

    raw_dir = os.path.join(args.input_dir, "raw")
    files = sorted(os.path.join(raw_dir, f) for f in os.listdir(raw_dir) if f.endswith(".csv"))
    raw = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    data = encode(raw).sample(frac=1.0, random_state=args.seed).reset_index(drop=True)
    split = int(len(data) * (1 - args.test_fraction))
    train, test = data.iloc[:split], data.iloc[split:]

    train_dir, test_dir = (os.path.join(args.output_dir, name) for name in ("train", "test"))
    os.makedirs(train_dir, exist_ok=True)
    os.makedirs(test_dir, exist_ok=True)
    train.to_csv(os.path.join(train_dir, "train.csv"), index=False)
    with open(os.path.join(train_dir, "schema.json"), "w") as handle:
        json.dump({"label": LABEL, "features": list(data.columns[1:]), "categorical": list(CATEGORIES)},
                  handle, indent=2)
    test.to_csv(os.path.join(test_dir, "test.csv"), index=False)
    test.drop(columns=[LABEL]).to_csv(os.path.join(test_dir, "x_test.csv"), index=False, header=False)
    print(f"rows: train={len(train)} test={len(test)} positive_rate={data[LABEL].mean():.3f}")


if __name__ == "__main__":
    main()
