"""Score the batch-transform predictions against the test labels; write the model-quality report.

Inputs (named after their source steps, as the original framework names them):
/opt/ml/processing/input/purchase-Preprocess-test/test.csv (ground truth) and
/opt/ml/processing/input/purchase-Transform-test/x_test.csv.out (one probability per line). Output: /opt/ml/processing/output/model_evaluation_metrics.json in the
Model Registry's binary classification format, which the AUC condition reads with JsonGet.
"""

import argparse
import json
import os

import numpy as np
import pandas as pd
from sklearn import metrics


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    parser.add_argument("--threshold", type=float, default=0.5)
    args, _ = parser.parse_known_args()  # run as `python -m evaluate evaluate.py`

    y_true = pd.read_csv(os.path.join(args.input_dir, "purchase-Preprocess-test", "test.csv"))["purchased"].to_numpy()
    scores = np.loadtxt(os.path.join(args.input_dir, "purchase-Transform-test", "x_test.csv.out"), ndmin=1)
    if len(scores) != len(y_true):
        raise SystemExit(f"{len(scores)} predictions for {len(y_true)} test rows")
    y_pred = (scores >= args.threshold).astype(int)
    values = {
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "auc": metrics.roc_auc_score(y_true, scores),
        "precision": metrics.precision_score(y_true, y_pred, zero_division=0),
        "recall": metrics.recall_score(y_true, y_pred, zero_division=0),
        "f1": metrics.f1_score(y_true, y_pred, zero_division=0),
    }
    report = {"binary_classification_metrics": {
        **{name: {"value": float(value), "standard_deviation": "NaN"} for name, value in values.items()},
        "confusion_matrix": {str(t): {str(p): int(((y_true == t) & (y_pred == p)).sum()) for p in (0, 1)}
                             for t in (0, 1)},
    }}
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "model_evaluation_metrics.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    print(" ".join(f"{name}={value:.4f}" for name, value in values.items()))


if __name__ == "__main__":
    main()
