"""Score the trained model on the test split and write the model-quality report.

Inputs (named after their source steps, as the original framework names them):
/opt/ml/processing/input/abalone-Train-test/model.tar.gz and /opt/ml/processing/input/abalone-Preprocess-test/.
Output: /opt/ml/processing/output/model_evaluation_metrics.json in the SageMaker Model
Registry's regression format, which the pipeline's MSE condition reads with JsonGet.
"""

import argparse
import json
import os
import tarfile
import tempfile

import numpy as np
import pandas as pd
import xgboost as xgb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    args, _ = parser.parse_known_args()  # run as `python -m evaluate evaluate.py`

    with tempfile.TemporaryDirectory() as model_dir:
        with tarfile.open(os.path.join(args.input_dir, "abalone-Train-test", "model.tar.gz")) as tar:
            tar.extractall(model_dir, filter="data")
        booster = xgb.Booster()
        booster.load_model(os.path.join(model_dir, "xgboost-model.json"))

    test = pd.read_csv(os.path.join(args.input_dir, "abalone-Preprocess-test", "test.csv"), header=None)
    y_true = test.iloc[:, 0].values
    y_pred = booster.predict(xgb.DMatrix(test.iloc[:, 1:].values))
    errors = (y_true - y_pred) ** 2
    report = {"regression_metrics": {"mse": {"value": float(errors.mean()),
                                             "standard_deviation": float(np.std(errors))}}}
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "model_evaluation_metrics.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    print(f"test mse: {report['regression_metrics']['mse']['value']:.4f}")


if __name__ == "__main__":
    main()
