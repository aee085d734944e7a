"""Fit a scaler + PCA on the staged features; save it to SM_MODEL_DIR as pca.joblib."""

import argparse
import os

import joblib
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n_components", type=int, default=4)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default="/opt/ml/input/data/pca-Preprocess-train")
    args = parser.parse_args()
    features = pd.read_csv(os.path.join(args.train, "features.csv"))
    pca = make_pipeline(StandardScaler(), PCA(n_components=args.n_components, random_state=0)).fit(features)
    ratio = pca[-1].explained_variance_ratio_.sum()
    print(f"explained_variance_ratio={ratio:.4f}")
    os.makedirs(args.model_dir, exist_ok=True)
    joblib.dump(pca, os.path.join(args.model_dir, "pca.joblib"))


if __name__ == "__main__":
    main()
