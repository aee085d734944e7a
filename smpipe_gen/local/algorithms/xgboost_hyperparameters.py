"""The XGBoost algorithm's hyperparameters as its container validates them
(``algorithm_mode/hyperparameter_validation.py`` and ``sagemaker_algorithm_toolkit``, per image
version): aliases first, then the required ``num_round``, then each value parsed from the string
SageMaker passes (Python ``int``/``float``, comma lists, literals), then ranges, then the rules
between hyperparameters. The first problem fails the job with the container's message.

No defaults are filled in: the container has none, so xgboost's own apply."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from smpipe_gen.errors import did_you_mean, shorten
from smpipe_gen.local.algorithms import AlgorithmError
from smpipe_gen.local.algorithms.xgboost_images import xgboost_image

Version = tuple[int, int, int]
V0_90_2, V1_0_1, V1_2_1, V1_2_2, V1_3_1, V1_5_1, V1_7_1 = \
    (0, 90, 2), (1, 0, 1), (1, 2, 1), (1, 2, 2), (1, 3, 1), (1, 5, 1), (1, 7, 1)
SINCE_ALWAYS: Version = (0, 0, 0)
NEVER_REMOVED: Version = (99, 0, 0)


@dataclass(frozen=True)
class Interval:
    """A numeric range, printed as the container prints it: ``[0, 1]``, ``(0, +inf)``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: Any) -> bool:
        return not ((self.low is not None and (value <= self.low if self.low_open else value < self.low))
                    or (self.high is not None and (value >= self.high if self.high_open else value > self.high)))

    def __str__(self) -> str:
        low = "(-inf" if self.low is None else f"{'(' if self.low_open else '['}{self.low}"
        high = "+inf)" if self.high is None else f"{self.high}{')' if self.high_open else ']'}"
        return f"{low}, {high}"


def at_least(low: float, open_: bool = False) -> Interval:
    return Interval(low=low, low_open=open_)


UNIT = Interval(0, 1)
FRACTION = Interval(0, 1, low_open=True)  # (0, 1]


@dataclass(frozen=True)
class Choices:
    """Allowed values, each from the image version that added it (until the one that removed it)."""

    values: tuple[tuple[str, Version, Version], ...]

    def at(self, version: Version) -> list[str]:
        return [value for value, since, until in self.values if since <= version < until]


def choices(*values: str | tuple[str, Version] | tuple[str, Version, Version]) -> Choices:
    """``"value"``, ``("value", since)`` or ``("value", since, until)``."""
    full = [(v, SINCE_ALWAYS) if isinstance(v, str) else v for v in values]
    return Choices(tuple((v[0], v[1], v[2] if len(v) > 2 else NEVER_REMOVED) for v in full))


@dataclass(frozen=True)
class Spec:
    """One hyperparameter: how its string is parsed (``kind``) and what it may be."""

    kind: str  # int, float, choice, list, tuple, nested
    allowed: Interval | Choices | None = None
    since: Version = SINCE_ALWAYS
    until: Version = NEVER_REMOVED  # the first version that no longer accepts it


# xgb_constants.py: the metrics eval_metric accepts, maximized ones first (the order of the
# container's lists); the container computes some of them itself (CUSTOM_METRICS below).
MAXIMIZED_METRICS = choices(
    "accuracy", "auc", "aucpr", ("balanced_accuracy", V1_3_1), "f1", ("f1_binary", V1_2_2), ("f1_macro", V1_2_2),
    "map", "ndcg", ("precision", V1_3_1), ("r2", V1_2_1), ("recall", V1_3_1), ("precision_macro", V1_3_1),
    ("precision_micro", V1_3_1), ("recall_macro", V1_3_1), ("recall_micro", V1_3_1))
MINIMIZED_METRICS = choices(
    ("aft-nloglik", V1_2_1), "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik",
    ("interval-regression-accuracy", V1_2_1), "logloss", "mae", ("mape", V1_3_1), "merror", "mlogloss",
    ("mphe", V1_2_1), "mse", "poisson-nloglik", "rmse", ("rmsle", V1_0_1), "tweedie-nloglik")
LINEAR_UPDATERS = ("shotgun", "coord_descent")
TREE_GROW_UPDATERS = ("grow_colmaker", "distcol", "grow_histmaker", "grow_local_histmaker", "grow_skmaker")

SPECS: dict[str, Spec] = {
    "num_round": Spec("int", at_least(1)),  # required
    "csv_weights": Spec("int", UNIT),
    "early_stopping_rounds": Spec("int", at_least(1)),
    "booster": Spec("choice", choices("gbtree", "gblinear", "dart")),
    "silent": Spec("int", UNIT, until=V1_2_1),
    "verbosity": Spec("int", Interval(0, 3)),
    "nthread": Spec("int", at_least(1)),
    "eta": Spec("float", UNIT),
    "gamma": Spec("float", at_least(0)),
    "max_depth": Spec("int", at_least(0)),
    "min_child_weight": Spec("float", at_least(0)),
    "max_delta_step": Spec("float", at_least(0)),
    "subsample": Spec("float", FRACTION),
    "colsample_bytree": Spec("float", FRACTION),
    "colsample_bylevel": Spec("float", FRACTION),
    "colsample_bynode": Spec("float", FRACTION),
    "lambda": Spec("float", at_least(0)),
    "alpha": Spec("float", at_least(0)),
    "tree_method": Spec("choice", choices("auto", "exact", "approx", "hist", ("gpu_hist", V1_2_1))),
    "sketch_eps": Spec("float", Interval(0, 1, low_open=True, high_open=True)),
    "scale_pos_weight": Spec("float", at_least(0, open_=True)),
    "updater": Spec("list", choices("grow_colmaker", "distcol", "grow_histmaker", ("grow_local_histmaker", SINCE_ALWAYS, V1_7_1),
                                    "grow_skmaker", "sync", "refresh", "prune", "shotgun", "coord_descent")),
    "dsplit": Spec("choice", choices("row", "col")),
    "refresh_leaf": Spec("int", UNIT),
    "process_type": Spec("choice", choices("default", "update")),
    "grow_policy": Spec("choice", choices("depthwise", "lossguide")),
    "max_leaves": Spec("int", at_least(0)),
    "max_bin": Spec("int", at_least(0)),
    "predictor": Spec("choice", choices(("auto", V1_2_1), "cpu_predictor", ("gpu_predictor", V1_2_1))),
    "monotone_constraints": Spec("tuple", choices("-1", "0", "1"), since=V1_0_1),
    "interaction_constraints": Spec("nested", at_least(1), since=V1_0_1),
    "sample_type": Spec("choice", choices("uniform", "weighted")),
    "normalize_type": Spec("choice", choices("tree", "forest")),
    "rate_drop": Spec("float", UNIT),
    "one_drop": Spec("int", UNIT),
    "skip_drop": Spec("float", UNIT),
    "lambda_bias": Spec("float", UNIT),
    "tweedie_variance_power": Spec("float", Interval(1, 2, low_open=True, high_open=True)),
    "objective": Spec("choice", choices(
        ("aft_loss_distribution", V1_2_1), "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson",
        "multi:softmax", "multi:softprob", "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear", "reg:squarederror",
        "reg:logistic", "reg:gamma", ("reg:pseudohubererror", V1_2_1), ("reg:squaredlogerror", V1_0_1),
        ("reg:absoluteerror", V1_7_1), "reg:tweedie", ("survival:aft", V1_2_1), "survival:cox")),
    "num_class": Spec("int", at_least(2)),
    "base_score": Spec("float", at_least(0)),
    "_nfold": Spec("int", at_least(2), since=V1_2_1, until=V1_2_2),
    "_kfold": Spec("int", at_least(2), since=V1_2_2),
    "_num_cv_round": Spec("int", at_least(1), since=V1_2_2),
    "_tuning_objective_metric": Spec("choice"),  # validation:<metric>, see _allowed
    "eval_metric": Spec("list"),  # see _check_metric
    "seed": Spec("int", Interval(-2 ** 31, 2 ** 31 - 1, low_open=True, high_open=True)),
    "num_parallel_tree": Spec("int", at_least(1), since=V0_90_2),
    "save_model_on_termination": Spec("choice", choices("true", "false"), since=V1_0_1),
    "aft_loss_distribution": Spec("choice", choices("normal", "logistic", "extreme"), since=V1_2_1),
    "aft_loss_distribution_scale": Spec("float", at_least(0), since=V1_2_1),
    "deterministic_histogram": Spec("choice", choices("true", "false"), since=V1_2_1),
    "single_precision_histogram": Spec("choice", choices("true", "false"), since=V1_2_1, until=V1_7_1),
    "sampling_method": Spec("choice", choices("uniform", "gradient_based"), since=V1_3_1),
    "prob_buffer_row": Spec("int", at_least(1.0, open_=True), since=V1_3_1),
    "use_dask_gpu_training": Spec("choice", choices("true", "false"), since=V1_5_1),
}
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}  # from 0.90-2


def metric_names(version: Version) -> list[str]:
    """The metrics ``eval_metric`` accepts in this image version."""
    return MAXIMIZED_METRICS.at(version) + MINIMIZED_METRICS.at(version)


def parse_hyperparameters(raw: Mapping[str, object], image_tag: str) -> dict[str, Any]:
    """The job's hyperparameters (strings, as SageMaker passes them; numbers are turned into
    strings as the SDK does) validated and typed as the image ``image_tag`` does it, or
    AlgorithmError with the container's message for the first problem."""
    version = xgboost_image(image_tag).version
    named = {ALIASES.get(name, name) if version >= V0_90_2 else name: value for name, value in raw.items()}
    if "num_round" not in named:
        raise AlgorithmError("Missing required hyperparameter: num_round")
    parsed = {name: _parse(name, str(value), version) for name, value in named.items()}
    for name, value in parsed.items():
        _check_range(name, value, version)
    for rule in RULES:
        rule(parsed, version)
    return parsed


def _known(name: str, version: Version) -> bool:
    spec = SPECS.get(name)
    return spec is not None and spec.since <= version < spec.until


def _parse(name: str, text: str, version: Version) -> Any:
    if not _known(name, version):
        hint = ("the algorithm accepts 'silent' only up to 1.0-1; use 'verbosity'" if name == "silent"
                else did_you_mean(name, [n for n in SPECS if _known(n, version)], ""))
        raise AlgorithmError(f"Extraneous hyperparameter found: {name}" + (f" ({hint})" if hint else ""))
    kind = SPECS[name].kind
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "list":
            return text.split(",")
        if kind in ("tuple", "nested"):  # the container eval()s a tuple; a literal is all it may be here
            return ast.literal_eval(text)
        return text
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise AlgorithmError(f"Hyperparameter {name}: could not parse value (caused by ValueError)") from None


def _allowed(name: str, version: Version) -> Interval | list[str] | None:
    if name == "_tuning_objective_metric":
        return [f"validation:{metric}" for metric in metric_names(version)]
    allowed = SPECS[name].allowed
    return allowed.at(version) if isinstance(allowed, Choices) else allowed


def _check_range(name: str, value: Any, version: Version) -> None:
    if name == "eval_metric" and all(_metric_accepted(metric, version) for metric in value):
        return
    if name in ("tree_method", "predictor") and version < V1_2_1 and "gpu" in value:
        raise AlgorithmError("GPU training is not supported yet.")
    allowed = metric_names(version) if name == "eval_metric" else _allowed(name, version)
    if allowed is None:
        return
    kind = SPECS[name].kind
    if kind == "tuple":
        ok = all(str(element) in allowed for element in _elements(value))
    elif kind == "nested":
        ok = all(element in allowed for inner in _elements(value) for element in _elements(inner))
    elif kind == "list":
        ok = all(element in allowed for element in value)
    else:
        ok = value in allowed
    if not ok:
        shown = shorten(str(allowed), 200)
        raise AlgorithmError(f"Hyperparameter {name}: value {value} not in range {shown}" if kind in ("list", "tuple", "nested")
                             else f"Hyperparameter {name}: {value} is not in {shown}")


def _elements(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _metric_accepted(metric: str, version: Version) -> bool:
    """The container's eval_metric check of one metric: thresholds only on error, ndcg and map."""
    if "<function" in metric:
        raise AlgorithmError(f"User defined evaluation metric {metric} is not supported yet.")
    if "@" in metric:
        name, threshold = (part.strip() for part in metric.split("@")[:2])
        if name not in ("error", "ndcg", "map"):
            raise AlgorithmError(f"Metric '{metric}' is not supported. Parameter 'eval_metric' with customized threshold "
                                 "should be one of these options: 'error', 'ndcg', 'map'.")
        try:
            float(threshold)
        except ValueError:
            raise AlgorithmError(f"Threshold value 't' in '{name}@t' expects float input.") from None
        return True
    return metric in metric_names(version)


def _objective_rule(hps: dict[str, Any], version: Version) -> None:
    if hps.get("objective") in ("multi:softmax", "multi:softprob") and "num_class" not in hps:
        raise AlgorithmError("Require input for parameter 'num_class' for multi-classification")


def _eval_metric_rule(hps: dict[str, Any], version: Version) -> None:
    if "eval_metric" not in hps:
        return
    if "objective" not in hps:
        if version >= V1_2_1 or "auc" in hps["eval_metric"]:  # the container reads it unguarded
            raise AlgorithmError("KeyError: 'objective' (the algorithm checks eval_metric against objective, "
                                 "which is not set)")
        return
    objective, metrics = hps["objective"], hps["eval_metric"]
    if "auc" in metrics and not objective.startswith(("binary:", "rank:")):
        raise AlgorithmError("Metric 'auc' can only be applied for classification and ranking problems.")
    if "aft-nloglik" in metrics and objective != "survival:aft":
        raise AlgorithmError("Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.")


def _updater_rule(hps: dict[str, Any], version: Version) -> None:
    updaters = hps.get("updater")
    if not updaters:
        return
    if hps.get("booster") == "gblinear":
        if not (len(updaters) == 1 and updaters[0] in LINEAR_UPDATERS):
            raise AlgorithmError("Linear updater should be one of these options: 'shotgun', 'coord_descent'.")
    elif hps.get("process_type") == "update":
        if not all(u in ("refresh", "prune") for u in updaters):
            raise AlgorithmError("process_type 'update' can only be used with updater 'refresh' and 'prune'")
    elif any(u in LINEAR_UPDATERS for u in updaters):
        raise AlgorithmError("Tree updater should be selected from these options: 'grow_colmaker', 'distcol', "
                             "'grow_histmaker', 'grow_skmaker', 'grow_quantile_histmaker', 'sync', 'refresh', 'prune'.")
    elif sum(u in TREE_GROW_UPDATERS for u in updaters) > 1:
        raise AlgorithmError("Only one tree grow plugin can be selected. Choose one from the following: "
                             "'grow_colmaker', 'distcol', 'grow_histmaker', 'grow_skmaker'")


def _constraints_rule(hps: dict[str, Any], version: Version) -> None:
    tree_method = hps.get("tree_method")
    if "monotone_constraints" in hps and tree_method not in ("exact", "hist"):
        raise AlgorithmError("monotone_constraints can be used only when the tree_method parameter is set to "
                             "either 'exact' or 'hist'.")
    if "interaction_constraints" in hps and tree_method not in ("exact", "hist", "approx"):
        raise AlgorithmError("interaction_constraints can be used only when the tree_method parameter is set to "
                             "either 'exact', 'hist' or 'approx'.")


RULES: list[Callable[[dict[str, Any], Version], None]] = [
    _objective_rule, _eval_metric_rule, _updater_rule, _constraints_rule]
