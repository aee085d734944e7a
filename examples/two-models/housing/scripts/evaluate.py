"""Write the regression model-quality report of the ridge model on the test split."""

import argparse
import json
import os
import tarfile
import tempfile

import joblib
import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    args, _ = parser.parse_known_args()  # run as `python -m evaluate evaluate.py`
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(os.path.join(args.input_dir, "housing-Train-test", "model.tar.gz")) as tar:
            tar.extractall(tmp, filter="data")
        model = joblib.load(os.path.join(tmp, "model.joblib"))
    test = pd.read_csv(os.path.join(args.input_dir, "housing-Preprocess-test", "test.csv"), header=None)
    errors = (test.iloc[:, 0].values - model.predict(test.iloc[:, 1:])) ** 2
    report = {"regression_metrics": {"mse": {"value": float(errors.mean()),
                                             "standard_deviation": float(np.std(errors))}}}
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "model_evaluation_metrics.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    print(f"test mse: {report['regression_metrics']['mse']['value']:.4f}")


if __name__ == "__main__":
    main()
