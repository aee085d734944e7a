"""The inference toolkit handlers for the batch transform."""
import json
import os

import numpy as np


def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return np.array(json.load(f))


def input_fn(body, content_type):
    assert content_type == "text/csv", content_type
    return np.array([[float(v) for v in line.split(",")] for line in body.splitlines() if line])


def predict_fn(data, model):
    return data @ model[:-1] + model[-1]


def output_fn(prediction, accept):
    return "".join(f"{value:.3f}\n" for value in prediction)
