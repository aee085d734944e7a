"""The inference toolkit handlers for the batch transform."""
import os
import pickle

import numpy as np


def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.pkl"), "rb") as f:
        return pickle.load(f)


def input_fn(body, content_type):
    assert content_type == "text/csv", content_type
    return np.array([[float(v) for v in line.split(",")] for line in body.splitlines() if line])


def predict_fn(data, model):
    return model.predict(data)


def output_fn(prediction, accept):
    return "".join(f"{value:.3f}\n" for value in prediction)
