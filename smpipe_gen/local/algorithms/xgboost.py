"""The SageMaker XGBoost algorithm ("algorithm mode": the ``sagemaker-xgboost`` image with no
entry point script) run on the host's xgboost library, as its open-source container does it
(github.com/aws/sagemaker-xgboost-container, ``algorithm_mode/train.py`` per image version):

- hyperparameters validated as the image validates them (``xgboost_hyperparameters``);
- channels ``train``/``validation`` in text/csv or text/libsvm (``xgboost_data``);
- the metrics it computes itself (accuracy, f1, mse, ...: scikit-learn, as in the container) next
  to xgboost's, one log line per round, ``[3]#011train-rmse:1.23456#011validation-rmse:...``, tabs
  shown as CloudWatch shows them (``#011``), which is what every metric regex for these jobs expects;
- early stopping as the image version does it;
- ``xgboost-model`` in ``model_dir``: a pickled Booster up to 1.2-2, ``Booster.save_model`` from 1.3-1.

Pure functions plus ``train``; nothing here knows the runner's job layout."""

from __future__ import annotations

import functools
import os
import pickle
import threading
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from smpipe_gen.errors import SmpipeError
from smpipe_gen.local.algorithms import AlgorithmError
from smpipe_gen.local.algorithms.xgboost_data import channel_format, read_channel
from smpipe_gen.local.algorithms.xgboost_hyperparameters import (
    MAXIMIZED_METRICS,
    NEVER_REMOVED,
    metric_names,
    parse_hyperparameters,
)
from smpipe_gen.local.algorithms.xgboost_images import LATEST, XGBoostImage, library, xgboost_image
from smpipe_gen.local.algorithms.xgboost_inference import load_model, predict

__all__ = ["MODEL_FILE", "metric_definitions", "parse_hyperparameters", "refuse_what_has_no_local_version", "train",
           "load_model", "predict", "xgboost_image"]

MODEL_FILE = "xgboost-model"
# hyperparameters the container reads itself and does not hand to xgboost
CONTAINER_ONLY = ("num_round", "early_stopping_rounds", "csv_weights", "_tuning_objective_metric", "silent",
                  "save_model_on_termination", "_kfold", "_nfold", "_num_cv_round", "use_dask_gpu_training")
# metrics/custom_metrics.py: computed by the container (scikit-learn), per image version
CUSTOM_METRICS_SINCE = {
    "accuracy": (0, 0, 0), "f1": (0, 0, 0), "mse": (0, 0, 0), "r2": (1, 2, 1), "f1_binary": (1, 2, 2),
    "f1_macro": (1, 2, 2), "balanced_accuracy": (1, 3, 1), "rmse": (1, 3, 1), "mae": (1, 3, 1),
    "precision": (1, 3, 1), "precision_macro": (1, 3, 1), "precision_micro": (1, 3, 1), "recall": (1, 3, 1),
    "recall_macro": (1, 3, 1), "recall_micro": (1, 3, 1),
}
# the service's metric definitions for these jobs (seen on DescribeTrainingJob of built-in XGBoost jobs)
NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_ONE_AT_A_TIME = threading.Lock()  # warnings are captured per training: process-wide state


def metric_definitions() -> list[dict[str, str]]:
    """``train:<metric>`` and ``validation:<metric>`` with the regexes SageMaker matches on the
    log of a built-in XGBoost job (its request carries none of its own)."""
    metrics = metric_names(LATEST)
    return [{"Name": f"{data}:{metric}", "Regex": rf".*\[[0-9]+\].*#011{data}-{metric}:{NUMBER}.*"}
            for data in ("train", "validation") for metric in metrics]


def train(channels: Mapping[str, Path], content_types: Mapping[str, str | None], hyperparameters: Mapping[str, object],
          model_dir: Path, image_tag: str, log: Callable[[str], None],
          say: Callable[[str], None] = lambda _: None) -> dict[str, float]:
    """Train as the image ``image_tag`` does; returns the final value of each logged metric
    (``{"validation:rmse": 1.2, ...}``: the last round's, as the service's metric regexes find).
    ``channels``: channel name -> directory holding its files; ``content_types``: each channel's
    ContentType (None: the algorithm's default, libsvm); ``log`` receives the algorithm's output
    lines, ``say`` the runner's notes. Raises AlgorithmError when the container would fail the
    job, SmpipeError for what has no local version (GPU, k-fold, parquet, recordio-protobuf)."""
    image = xgboost_image(image_tag)
    hps = parse_hyperparameters(hyperparameters, image_tag)
    refuse_what_has_no_local_version(hps)
    data_format = channel_format(channels, content_types)
    xgb = library()
    say(f"built-in XGBoost {image.name} (xgboost {image.library} in the image) runs on xgboost {xgb.__version__} here")
    weights = hps.get("csv_weights", 0) == 1
    dtrain = read_channel(channels["train"], data_format, weights, say)
    if dtrain is None:
        raise AlgorithmError(f"No data in training channel path {channels['train']}")
    dval = None
    if "validation" in channels:
        dval = read_channel(channels["validation"], data_format, weights and image.reads_validation_weights, say)
        if dval is None:
            raise AlgorithmError(f"No data in validation channel path {channels['validation']}")
    with _ONE_AT_A_TIME, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            booster, final = _boost(xgb, image, hps, dtrain, dval, log, say)
        finally:
            for message in dict.fromkeys(str(w.message).strip() for w in caught):
                log(message)
    write_model(booster, Path(model_dir), image)
    return final


def refuse_what_has_no_local_version(hps: Mapping[str, Any]) -> None:
    """GPU training and the algorithm's k-fold cross-validation: SmpipeError (raw or parsed values)."""
    gpu = [f"{name}={hps[name]}" for name in ("tree_method", "predictor", "use_dask_gpu_training")
           if str(hps.get(name, "")) in ("gpu_hist", "gpu_predictor", "true")]
    if gpu:
        raise SmpipeError(f"{', '.join(gpu)} trains on a GPU: local runs train on the CPU",
                          hint="use tree_method=hist (and no GPU-only options) to run it locally")
    folds = [name for name in ("_kfold", "_nfold") if name in hps]
    if folds:
        raise SmpipeError(f"{folds[0]}: the algorithm's k-fold cross-validation does not run locally",
                          hint="leave it out of the local run's hyperparameters")


def _boost(xgb: Any, image: XGBoostImage, hps: dict[str, Any], dtrain: Any, dval: Any,
           log: Callable[[str], None], say: Callable[[str], None]) -> tuple[Any, dict[str, float]]:
    """``xgb.train`` as the container calls it; the booster and the last logged metric values."""
    tuning = hps["_tuning_objective_metric"].split(":", 1)[1].split(",") if "_tuning_objective_metric" in hps else None
    wanted = _union(tuning, hps.get("eval_metric"))
    custom = [m for m in wanted if image.version >= CUSTOM_METRICS_SINCE.get(m, NEVER_REMOVED)]
    params = {k: v for k, v in hps.items() if k not in CONTAINER_ONLY and k != "eval_metric"}
    if "updater" in params:
        params["updater"] = ",".join(params["updater"])
    builtin = [m for m in wanted if m not in custom]
    if builtin:
        params["eval_metric"] = builtin
    evals = [(dtrain, "train")] + ([(dval, "validation")] if dval is not None else [])
    holder_class, monitor_class = _callback_classes()
    holder, monitor = holder_class(), monitor_class(image, custom, log)
    callbacks = [holder, monitor, *_early_stopping(xgb, image, hps, tuning, dval is not None, say)]
    try:
        booster = xgb.train(params, dtrain, num_boost_round=hps["num_round"], evals=evals, verbose_eval=False,
                            callbacks=callbacks, custom_metric=_custom_metric(image, custom, holder) if custom else None)
    except (xgb.core.XGBoostError, ValueError) as error:  # ValueError: scikit-learn's, early stopping's
        raise AlgorithmError(f"XGB train call failed with exception: {_first_line(error)} (xgboost {xgb.__version__} "
                             f"here; the {image.name} image has {image.library})") from None
    return booster, monitor.final


def _union(tuning: list[str] | None, eval_metric: list[str] | None) -> list[str]:
    """The metrics to compute: the tuning objective's and eval_metric's, in that order (the
    container's set union has no defined order)."""
    return list(dict.fromkeys([*(tuning or []), *(eval_metric or [])]))


def _early_stopping(xgb: Any, image: XGBoostImage, hps: dict[str, Any], tuning: list[str] | None,
                    has_validation: bool, say: Callable[[str], None]) -> list[Any]:
    rounds = hps.get("early_stopping_rounds")
    if not rounds:
        return []
    if not image.stops_early_by_callback:  # xgb.train(early_stopping_rounds=...): last data set, last metric
        return [xgb.callback.EarlyStopping(rounds=rounds, save_best=False)]
    metric = (tuning or hps.get("eval_metric") or [None])[-1]
    if not (has_validation and metric):
        say("early_stopping_rounds has no effect: from 1.3-1 the algorithm stops early only with a validation "
            "channel and an eval_metric or tuning objective (it says nothing about it)")
        return []
    return [xgb.callback.EarlyStopping(rounds=rounds, data_name="validation", metric_name=metric,
                                       maximize=metric in MAXIMIZED_METRICS.at(LATEST), save_best=True)]


def _first_line(error: Exception) -> str:
    """xgboost's message without its ``[time] file:line:`` prefix and stack trace."""
    line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return line.split(": ", 1)[1] if line.startswith("[") and ": " in line else line


@functools.cache
def _callback_classes() -> tuple[type, type]:
    """The training callbacks, made on first use: their base class is xgboost's."""
    xgb = library()

    class Holder(xgb.callback.TrainingCallback):
        """Keeps the booster being trained, for metrics computed on its raw margins."""

        booster: Any = None

        def before_training(self, model: Any) -> Any:
            self.booster = model
            return model

    class Monitor(xgb.callback.TrainingCallback):
        """One line per round, as the image's monitor prints it (``print_checkpointed_evaluation``
        up to 1.2-2, xgboost's ``EvaluationMonitor`` from 1.3-1); keeps the last values."""

        def __init__(self, image: XGBoostImage, custom: list[str], log: Callable[[str], None]) -> None:
            super().__init__()
            self.image, self.custom, self.log = image, custom, log
            self.final: dict[str, float] = {}

        def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, dict[str, list]]) -> bool:
            entries = _ordered(evals_log, self.custom, grouped=self.image.stops_early_by_callback)
            shown = [(data, metric, format(value, self.image.metric_format)) for data, metric, value in entries]
            self.log(f"[{epoch}]" + "".join(f"#011{data}-{metric}:{text}" for data, metric, text in shown))
            self.final = {f"{data}:{metric}": float(text) for data, metric, text in shown}
            return False

    return Holder, Monitor


def _ordered(evals_log: dict[str, dict[str, list]], custom: list[str], grouped: bool) -> list[tuple[str, str, float]]:
    """This round's values in the order the image prints them: per data set (from 1.3-1), or
    xgboost's metrics for every data set first, then the container's (before)."""
    entries = [(data, metric, values[-1]) for data, metrics in evals_log.items() for metric, values in metrics.items()]
    if grouped:
        return entries
    return [e for e in entries if e[1] not in custom] + [e for e in entries if e[1] in custom]


def _custom_metric(image: XGBoostImage, names: list[str], holder: Any) -> Callable[[Any, Any], list[tuple[str, float]]]:
    """The container's ``custom_feval``: its own metrics, computed with scikit-learn from what
    the image's xgboost hands a custom metric (predictions, or raw margins in 1.2 to 1.7)."""
    try:
        from sklearn import metrics as sk
    except ImportError:
        raise SmpipeError(f"eval_metric {', '.join(names)}: the container computes these with scikit-learn, which "
                          "is not installed", hint="pip install 'smpipe-gen[examples]'") from None
    import numpy as np

    def classes(predictions: Any) -> Any:
        if predictions.ndim > 1:
            return np.argmax(predictions, axis=-1)
        return np.round(predictions) if image.rounds_class_labels else (predictions > 0.0).astype(int)

    scores = {
        "accuracy": lambda y, p: sk.accuracy_score(y, classes(p)),
        "balanced_accuracy": lambda y, p: sk.balanced_accuracy_score(y, classes(p)),
        "f1": lambda y, p: sk.f1_score(y, classes(p), average="macro"),
        "f1_binary": lambda y, p: sk.f1_score(y, classes(p), average="binary"),
        "f1_macro": lambda y, p: sk.f1_score(y, classes(p), average="macro"),
        "precision": lambda y, p: sk.precision_score(y, classes(p)),
        "precision_macro": lambda y, p: sk.precision_score(y, classes(p), average="macro"),
        "precision_micro": lambda y, p: sk.precision_score(y, classes(p), average="micro"),
        "recall": lambda y, p: sk.recall_score(y, classes(p)),
        "recall_macro": lambda y, p: sk.recall_score(y, classes(p), average="macro"),
        "recall_micro": lambda y, p: sk.recall_score(y, classes(p), average="micro"),
        "mse": lambda y, p: sk.mean_squared_error(y, p),
        "rmse": lambda y, p: float(np.sqrt(sk.mean_squared_error(y, p))),
        "mae": lambda y, p: sk.mean_absolute_error(y, p),
        "r2": lambda y, p: sk.r2_score(y, p),
    }

    def metric(predictions: Any, data: Any) -> list[tuple[str, float]]:
        if image.custom_metric_input == "margin":
            predictions = holder.booster.predict(data, output_margin=True, training=False)
        labels = data.get_label()
        return [(name, float(scores[name](labels, predictions)) if predictions.size else 0.0) for name in names]

    return metric


def write_model(booster: Any, model_dir: Path, image: XGBoostImage) -> Path:
    """``xgboost-model`` as the image writes it, through a temporary file renamed into place."""
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / MODEL_FILE
    temporary = model_dir / f".{MODEL_FILE}.{os.getpid()}.{threading.get_ident()}.ubj"
    try:
        if image.pickles_model:
            with temporary.open("wb") as handle:
                pickle.dump(booster, handle, protocol=image.pickle_protocol)
        else:  # the image's xgboost writes its default format for a name without extension
            booster.save_model(str(temporary))
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target
