"""Fits a ridge regression (numpy only, to keep tests fast) from SM_CHANNEL_TRAIN into SM_MODEL_DIR."""
import argparse
import json
import os

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=1.0)
parser.add_argument("--fail", default="no")
args = parser.parse_args()
if args.fail == "yes":
    raise SystemExit("asked to fail")
data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",", ndmin=2)
x = np.hstack([data[:, 1:], np.ones((len(data), 1))])
coef = np.linalg.solve(x.T @ x + args.alpha * np.eye(x.shape[1]), x.T @ data[:, 0])
mse = float(np.mean((x @ coef - data[:, 0]) ** 2))
print(f"train_mse: {mse:.6f}")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
    json.dump(coef.tolist(), f)
