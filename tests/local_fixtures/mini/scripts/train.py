"""Fits a linear model from the SM_CHANNEL_TRAIN channel into SM_MODEL_DIR."""
import argparse
import os
import pickle

import numpy as np
from sklearn.linear_model import Ridge

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=1.0)
parser.add_argument("--fail", default="no")
args = parser.parse_args()
if args.fail == "yes":
    raise SystemExit("asked to fail")
data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",", ndmin=2)
model = Ridge(alpha=args.alpha).fit(data[:, 1:], data[:, 0])
mse = float(np.mean((model.predict(data[:, 1:]) - data[:, 0]) ** 2))
print(f"train_mse: {mse:.6f}")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.pkl"), "wb") as f:
    pickle.dump(model, f)
