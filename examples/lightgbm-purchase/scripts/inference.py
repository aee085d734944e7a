"""Batch-transform handlers (SageMaker inference toolkit contract): CSV rows of encoded
features in (the column order of preprocess.py), purchase probabilities out."""

import io
import os

import lightgbm as lgb
import numpy as np


def model_fn(model_dir: str) -> lgb.Booster:
    return lgb.Booster(model_file=os.path.join(model_dir, "lightgbm-model.txt"))


def input_fn(body, content_type: str) -> np.ndarray:
    if content_type != "text/csv":
        raise ValueError(f"unsupported content type {content_type}")
    text = body.decode() if isinstance(body, bytes) else body
    return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)


def predict_fn(data: np.ndarray, model: lgb.Booster) -> np.ndarray:
    return model.predict(data)


def output_fn(prediction: np.ndarray, accept: str) -> str:
    return "\n".join(f"{value:.6f}" for value in prediction)
