"""Batch-transform handlers (SageMaker inference toolkit contract) for the XGBoost model."""

import io
import os

import numpy as np
import xgboost as xgb


def model_fn(model_dir: str) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model.json"))
    return booster


def input_fn(body, content_type: str) -> xgb.DMatrix:
    if content_type != "text/csv":
        raise ValueError(f"unsupported content type {content_type}")
    text = body.decode() if isinstance(body, bytes) else body
    return xgb.DMatrix(np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2))


def predict_fn(data: xgb.DMatrix, model: xgb.Booster) -> np.ndarray:
    return model.predict(data)


def output_fn(prediction: np.ndarray, accept: str) -> str:
    return "\n".join(f"{value:.6f}" for value in prediction)
