"""Mean squared error of the model on the test split, as the seed's evaluate.py computes it: the
model archive is unpacked in the working directory and ``xgboost-model`` unpickled."""
import json
import pathlib
import pickle
import tarfile

import numpy as np
import pandas as pd
import xgboost

if __name__ == "__main__":
    with tarfile.open("/opt/ml/processing/model/model.tar.gz") as tar:
        tar.extractall(path=".")
    model = pickle.load(open("xgboost-model", "rb"))
    test = pd.read_csv("/opt/ml/processing/test/test.csv", header=None)
    truth = test.iloc[:, 0].to_numpy()
    predictions = model.predict(xgboost.DMatrix(test.drop(test.columns[0], axis=1).values))
    mse = float(np.mean((truth - predictions) ** 2))
    pathlib.Path("/opt/ml/processing/evaluation").mkdir(parents=True, exist_ok=True)
    report = {"regression_metrics": {"mse": {"value": mse, "standard_deviation": float(np.std(truth - predictions))}}}
    pathlib.Path("/opt/ml/processing/evaluation/evaluation.json").write_text(json.dumps(report))
    print(f"mse {mse:.4f}")
