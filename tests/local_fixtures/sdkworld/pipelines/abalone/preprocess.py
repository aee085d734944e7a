"""Abalone features, as the seed's preprocess.py makes them: the raw CSV is downloaded with boto3
INSIDE the job (default credential chain, no endpoint argument) from ``--input-data``, numbers
median-imputed and scaled, sex one-hot encoded, the label put first, then a 70/15/15 split into
headerless train/validation/test CSVs in the output folders the job was given."""
import argparse
import os
import pathlib

import boto3
import numpy as np
import pandas as pd
import requests  # noqa: F401 (the seed imports it and never uses it: the job must have it)
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMBERS = ["length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]
BASE = "/opt/ml/processing"

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-data", type=str, required=True)
    args = parser.parse_args()
    pathlib.Path(f"{BASE}/data").mkdir(parents=True, exist_ok=True)
    bucket = args.input_data.split("/")[2]
    key = "/".join(args.input_data.split("/")[3:])
    local = f"{BASE}/data/abalone-dataset.csv"
    print(f"downloading bucket {bucket} key {key}")
    boto3.resource("s3").Bucket(bucket).download_file(key, local)
    frame = pd.read_csv(local, header=None, names=["sex", *NUMBERS, "rings"],
                        dtype={"sex": str, **{n: np.float64 for n in NUMBERS}, "rings": np.float64})
    os.unlink(local)
    features = ColumnTransformer(transformers=[
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), NUMBERS),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore"))]), ["sex"]),
    ])
    label = frame.pop("rings").to_numpy().reshape(-1, 1)
    rows = np.concatenate((label, features.fit_transform(frame)), axis=1)
    np.random.shuffle(rows)
    train, validation, test = np.split(rows, [int(0.7 * len(rows)), int(0.85 * len(rows))])
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        pd.DataFrame(part).to_csv(f"{BASE}/{name}/{name}.csv", header=False, index=False)
    print(f"split {len(rows)} rows")
