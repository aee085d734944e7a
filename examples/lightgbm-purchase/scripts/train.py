"""Train a LightGBM binary classifier in SageMaker script mode.

Reads the channels purchase-Preprocess-train (train.csv + schema.json) and
purchase-Preprocess-test (test.csv, the validation set whose AUC is logged for the metric
definitions), hyperparameters as arguments, and saves the booster as text to SM_MODEL_DIR (/opt/ml/model).
"""

import argparse
import json
import os

import lightgbm as lgb
import pandas as pd


def load(channel_dir: str, name: str, schema: dict) -> lgb.Dataset:
    data = pd.read_csv(os.path.join(channel_dir, name))
    return lgb.Dataset(data[schema["features"]], label=data[schema["label"]],
                       categorical_feature=schema["categorical"], free_raw_data=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_boost_round", type=int, default=80)
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--num_leaves", type=int, default=4)
    parser.add_argument("--min_data_in_leaf", type=int, default=20)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default="/opt/ml/input/data/purchase-Preprocess-train")
    parser.add_argument("--test", default="/opt/ml/input/data/purchase-Preprocess-test")
    args = parser.parse_args()

    with open(os.path.join(args.train, "schema.json")) as handle:
        schema = json.load(handle)
    train = load(args.train, "train.csv", schema)
    valid = load(args.test, "test.csv", schema).set_reference(train)
    params = {"objective": "binary", "metric": ["auc", "binary_logloss"], "learning_rate": args.learning_rate,
              "num_leaves": args.num_leaves, "min_data_in_leaf": args.min_data_in_leaf, "seed": 0,
              "deterministic": True, "num_threads": 1, "verbose": -1}
    history: dict = {}
    booster = lgb.train(params, train, num_boost_round=args.num_boost_round, valid_sets=[valid],
                        valid_names=["valid"], callbacks=[lgb.log_evaluation(10), lgb.record_evaluation(history)])
    for metric, values in history["valid"].items():
        print(f"final valid {metric}: {values[-1]:.6f}")
    os.makedirs(args.model_dir, exist_ok=True)
    booster.save_model(os.path.join(args.model_dir, "lightgbm-model.txt"))


if __name__ == "__main__":
    main()
