"""Script-mode stand-in for the built-in XGBoost training (``training_entry_point``): the same
hyperparameters, the model pickled as ``xgboost-model`` the way 1.0-1 writes it."""
import argparse
import os
import pickle

import pandas as pd
import xgboost

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("num_round", "max_depth"):
        parser.add_argument(f"--{name}", type=int)
    for name in ("eta", "gamma", "min_child_weight", "subsample"):
        parser.add_argument(f"--{name}", type=float)
    parser.add_argument("--objective")
    args, _ = parser.parse_known_args()  # silent: the 1.0-1 container's, not xgboost's any more
    train = pd.read_csv(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), header=None)
    data = xgboost.DMatrix(train.iloc[:, 1:].values, label=train.iloc[:, 0].values)
    params = {"objective": "reg:squarederror", "max_depth": args.max_depth, "eta": args.eta, "gamma": args.gamma,
              "min_child_weight": args.min_child_weight, "subsample": args.subsample, "nthread": 1}
    booster = xgboost.train(params, data, num_boost_round=args.num_round)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model"), "wb") as handle:
        pickle.dump(booster, handle)
