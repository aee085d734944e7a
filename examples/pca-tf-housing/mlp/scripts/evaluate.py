"""Write the regression model-quality report (mse, r2) of the MLP on the test split.

Loads model.keras when training used Keras, else model.joblib (the scikit-learn fallback).
"""

import argparse
import json
import os
import tarfile
import tempfile

import numpy as np
import pandas as pd


def load_predict(model_dir: str):
    if os.path.exists(os.path.join(model_dir, "model.keras")):
        import keras

        model = keras.saving.load_model(os.path.join(model_dir, "model.keras"))
        return lambda x: model.predict(x, verbose=0).ravel()
    import joblib

    return joblib.load(os.path.join(model_dir, "model.joblib")).predict


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    args, _ = parser.parse_known_args()  # run as `python -m evaluate evaluate.py`
    test = pd.read_csv(os.path.join(args.input_dir, "mlp-Preprocess-test", "test.csv"), header=None)
    y_true, x = test.iloc[:, 0].to_numpy(), test.iloc[:, 1:].to_numpy("float32")
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(os.path.join(args.input_dir, "mlp-Train-test", "model.tar.gz")) as tar:
            tar.extractall(tmp, filter="data")
        y_pred = load_predict(tmp)(x)
    errors = (y_true - y_pred) ** 2
    r2 = 1 - errors.sum() / ((y_true - y_true.mean()) ** 2).sum()
    report = {"regression_metrics": {
        "mse": {"value": float(errors.mean()), "standard_deviation": float(np.std(errors))},
        "r2": {"value": float(r2), "standard_deviation": "NaN"}}}
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "model_evaluation_metrics.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    print(f"test mse={errors.mean():.4f} r2={r2:.4f}")


if __name__ == "__main__":
    main()
