"""Scores the model on the test split and writes the evaluation report property file."""
import json
import os
import sys
import tarfile
import time

import numpy as np

if "crash" in sys.argv:
    sys.exit("evaluation crashed on purpose")
if "slow" in sys.argv:  # lets tests interrupt or kill a run while this step is running
    print("sleeping", flush=True)
    time.sleep(120)
with tarfile.open("/opt/ml/processing/input/model/model.tar.gz") as tar:
    tar.extractall("/opt/ml/processing/model", filter="data")
coef = np.array(json.load(open("/opt/ml/processing/model/model.json")))
data = np.loadtxt("/opt/ml/processing/input/test/test.csv", delimiter=",", ndmin=2)
predicted = data[:, 1:] @ coef[:-1] + coef[-1]
mse = float(np.mean((predicted - data[:, 0]) ** 2))
os.makedirs("/opt/ml/processing/evaluation", exist_ok=True)
with open("/opt/ml/processing/evaluation/evaluation.json", "w") as f:
    json.dump({"regression_metrics": {"mse": {"value": mse}}}, f)
print("mse", mse)
