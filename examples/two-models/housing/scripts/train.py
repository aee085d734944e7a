"""Fit a ridge regressor on the PCA components (label first column); save to SM_MODEL_DIR."""

import argparse
import os

import joblib
import pandas as pd
from sklearn.linear_model import Ridge


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default="/opt/ml/input/data/housing-Preprocess-train")
    args = parser.parse_args()
    data = pd.read_csv(os.path.join(args.train, "train.csv"), header=None)
    model = Ridge(alpha=args.alpha).fit(data.iloc[:, 1:], data.iloc[:, 0])
    print(f"train_r2={model.score(data.iloc[:, 1:], data.iloc[:, 0]):.4f}")
    os.makedirs(args.model_dir, exist_ok=True)
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))


if __name__ == "__main__":
    main()
