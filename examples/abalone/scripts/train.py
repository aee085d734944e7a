"""Train an XGBoost regressor in SageMaker script mode.

Reads the channels abalone-Preprocess-train / abalone-Preprocess-validation, hyperparameters from the
command line, and saves the booster to SM_MODEL_DIR (packed as model.tar.gz by SageMaker).
"""

import argparse
import glob
import os

import pandas as pd
import xgboost as xgb


def load(channel_dir: str) -> xgb.DMatrix:
    frames = [pd.read_csv(f, header=None) for f in sorted(glob.glob(os.path.join(channel_dir, "*.csv")))]
    data = pd.concat(frames, ignore_index=True)
    return xgb.DMatrix(data.iloc[:, 1:].values, label=data.iloc[:, 0].values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objective", default="reg:squarederror")
    parser.add_argument("--num_round", type=int, default=50)
    parser.add_argument("--max_depth", type=int, default=5)
    parser.add_argument("--eta", type=float, default=0.2)
    parser.add_argument("--subsample", type=float, default=0.8)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default="/opt/ml/input/data/abalone-Preprocess-train")
    parser.add_argument("--validation", default="/opt/ml/input/data/abalone-Preprocess-validation")
    args = parser.parse_args()

    train, validation = load(args.train), load(args.validation)
    params = {"objective": args.objective, "max_depth": args.max_depth, "eta": args.eta,
              "subsample": args.subsample, "seed": 0, "nthread": 1}
    booster = xgb.train(params, train, num_boost_round=args.num_round,
                        evals=[(train, "train"), (validation, "validation")], verbose_eval=10)
    os.makedirs(args.model_dir, exist_ok=True)
    booster.save_model(os.path.join(args.model_dir, "xgboost-model.json"))


if __name__ == "__main__":
    main()
