"""Train an MLP regressor on the PCA components (channel mlp-Preprocess-train, price first) and save it
to SM_MODEL_DIR.

With Keras importable (the TensorFlow training image) it trains a Keras MLP and saves
model.keras plus a SavedModel under 1/ for TensorFlow Serving. Without it (local runs on a
machine without TensorFlow) it trains scikit-learn's MLPRegressor with the same layers and
saves model.joblib, and says so in the log.
"""

import argparse
import os

import numpy as np
import pandas as pd


def load_keras():
    """The keras module, or None when neither Keras nor a backend for it is installed."""
    try:
        import keras
    except ImportError:
        return None
    return keras


def train_keras(keras, x: np.ndarray, y: np.ndarray, args: argparse.Namespace) -> None:
    keras.utils.set_random_seed(args.seed)
    model = keras.Sequential([keras.Input(shape=(x.shape[1],)),
                              *[keras.layers.Dense(units, activation="relu") for units in args.hidden],
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="mse")
    history = model.fit(x, y, epochs=args.epochs, batch_size=32, validation_split=0.1, verbose=2)
    print(f"train_mse={history.history['loss'][-1]:.4f}")
    model.save(os.path.join(args.model_dir, "model.keras"))
    model.export(os.path.join(args.model_dir, "1"))


def train_sklearn(x: np.ndarray, y: np.ndarray, args: argparse.Namespace) -> None:
    import joblib
    from sklearn.neural_network import MLPRegressor

    model = MLPRegressor(hidden_layer_sizes=tuple(args.hidden), learning_rate_init=args.learning_rate,
                         max_iter=args.epochs, batch_size=32, early_stopping=True, validation_fraction=0.1,
                         random_state=args.seed).fit(x, y)
    print(f"train_mse={np.mean((model.predict(x) - y) ** 2):.4f}")
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--learning_rate", type=float, default=0.01)
    parser.add_argument("--hidden", type=lambda text: [int(n) for n in text.split(",")], default=[32, 16])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default="/opt/ml/input/data/mlp-Preprocess-train")
    args = parser.parse_args()
    data = pd.read_csv(os.path.join(args.train, "train.csv"), header=None)
    x, y = data.iloc[:, 1:].to_numpy("float32"), data.iloc[:, 0].to_numpy("float32")
    os.makedirs(args.model_dir, exist_ok=True)
    keras = load_keras()
    if keras is not None:
        print(f"backend: Keras {keras.__version__}")
        train_keras(keras, x, y, args)
    else:
        print("backend: scikit-learn MLPRegressor (Keras/TensorFlow is not installed here)")
        train_sklearn(x, y, args)


if __name__ == "__main__":
    main()
