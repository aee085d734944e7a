"""Project the housing features onto the trained PCA components and split train/test.

Inputs: the raw CSV at /opt/ml/processing/input/raw and pca-Train's model.tar.gz (chained in)
at /opt/ml/processing/input/pca-Train-input-train. Outputs: train/train.csv and test/test.csv, price first,
then the components, no header.
"""

import argparse
import os
import tarfile
import tempfile

import joblib
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    parser.add_argument("--seed", type=int, default=0)
    args, _ = parser.parse_known_args()  # run as `python -m preprocess preprocess.py`
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(os.path.join(args.input_dir, "pca-Train-input-train", "model.tar.gz")) as tar:
            tar.extractall(tmp, filter="data")
        pca = joblib.load(os.path.join(tmp, "pca.joblib"))
    raw_dir = os.path.join(args.input_dir, "raw")
    raw = pd.concat([pd.read_csv(os.path.join(raw_dir, f)) for f in sorted(os.listdir(raw_dir)) if f.endswith(".csv")],
                    ignore_index=True)
    components = pd.DataFrame(pca.transform(raw.drop(columns=["price"])))
    data = pd.concat([raw["price"], components], axis=1).sample(frac=1.0, random_state=args.seed)
    split = int(0.8 * len(data))
    for name, frame in (("train", data.iloc[:split]), ("test", data.iloc[split:])):
        os.makedirs(os.path.join(args.output_dir, name), exist_ok=True)
        frame.to_csv(os.path.join(args.output_dir, name, f"{name}.csv"), header=False, index=False)
    print(f"train={split} test={len(data) - split} components={components.shape[1]}")


if __name__ == "__main__":
    main()
