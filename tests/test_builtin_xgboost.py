"""The built-in XGBoost algorithm's local version (smpipe_gen/local/algorithms): hyperparameters,
channels, metrics, model file and inference as the sagemaker-xgboost container does them per image
version, checked against the xgboost library trained directly on the same data. In-process and
small: a few hundred rows, a few rounds."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from smpipe_gen.errors import SmpipeError
from smpipe_gen.local.algorithms import AlgorithmError, BuiltinAlgorithm, algorithm_of
from smpipe_gen.local.algorithms import xgboost as algorithm
from smpipe_gen.local.algorithms.xgboost_images import xgboost_image
from smpipe_gen.local.algorithms.xgboost_inference import InferenceError
from smpipe_gen.local.jobs.training import match_metrics

# the SageMaker SDK's metric definition for a built-in XGBoost job's validation:rmse (the
# FinalMetricDataList of its DescribeTrainingJob), as its users copy it
SDK_VALIDATION_RMSE = r".*\[[0-9]+\].*#011validation-rmse:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?).*"
SEED_HYPERPARAMETERS = {"objective": "reg:linear", "num_round": "50", "max_depth": "5", "eta": "0.2", "gamma": "4",
                        "min_child_weight": "6", "subsample": "0.7", "silent": "0"}  # the Projects seed's, on 1.0-1
PICKLED, SAVED = "1.0-1-cpu-py3", "1.7-1"  # the two model file formats


def write_csv(path: Path, labels: np.ndarray, features: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([labels, features]), delimiter=",", fmt="%.6f")
    return path


def write_libsvm(path: Path, labels: np.ndarray, features: np.ndarray, first_index: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [" ".join([f"{label:.6f}", *(f"{i + first_index}:{v:.6f}" for i, v in enumerate(row) if abs(v) > 0.2)])
             for label, row in zip(labels, features)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    """Channels of a synthetic regression in CSV: label first, no header; and the test rows."""
    root = tmp_path_factory.mktemp("regression")
    rng = np.random.default_rng(7)
    features = rng.normal(size=(400, 5))
    labels = features @ np.array([1.5, -2.0, 0.0, 3.0, 0.5]) + rng.normal(scale=0.5, size=400)
    write_csv(root / "train" / "part-1.csv", labels[:200], features[:200])
    write_csv(root / "train" / "part-2.csv", labels[200:300], features[200:300])
    write_csv(root / "validation" / "validation.csv", labels[300:350], features[300:350])
    return {"train": root / "train", "validation": root / "validation"}, features[350:]


def train(channels, hyperparameters, tag, tmp_path, content_type="text/csv"):
    """The local algorithm's training: (final metrics, log lines, runner notes, model dir)."""
    lines, notes = [], []
    model_dir = tmp_path / f"model-{tag}"
    final = algorithm.train(channels, dict.fromkeys(channels, content_type), hyperparameters, model_dir, tag,
                            lines.append, notes.append)
    return final, lines, notes, model_dir


def rows(features: np.ndarray) -> bytes:
    return "\n".join(",".join(f"{v:.6f}" for v in row) for row in features).encode()


def served(model_dir: Path, tag: str, features: np.ndarray) -> np.ndarray:
    body, content_type = algorithm.predict(algorithm.load_model(model_dir, tag), rows(features), "text/csv")
    assert content_type == "text/csv"
    return np.array([float(line) for line in body.decode().splitlines()], dtype=np.float32)


# --- hyperparameters -------------------------------------------------------------------------

@pytest.mark.parametrize(("tag", "given", "expected"), [
    ("1.0-1-cpu-py3", SEED_HYPERPARAMETERS,
     {"objective": "reg:linear", "num_round": 50, "max_depth": 5, "eta": 0.2, "gamma": 4.0, "min_child_weight": 6.0,
      "subsample": 0.7, "silent": 0}),
    ("1.7-1", {"num_round": 10, "learning_rate": 0.5, "reg_alpha": "1"}, {"num_round": 10, "eta": 0.5, "alpha": 1.0}),
    ("1.7-1", {"num_round": "3", "objective": "binary:logistic", "eval_metric": "auc,error@0.3"},
     {"num_round": 3, "objective": "binary:logistic", "eval_metric": ["auc", "error@0.3"]}),
    ("1.7-1", {"num_round": "3", "monotone_constraints": "(1,0,-1)", "tree_method": "hist"},
     {"num_round": 3, "monotone_constraints": (1, 0, -1), "tree_method": "hist"}),
    ("1.5-1", {"num_round": "3", "_tuning_objective_metric": "validation:rmse"},
     {"num_round": 3, "_tuning_objective_metric": "validation:rmse"}),
])
def test_hyperparameters_are_typed_from_the_strings_sagemaker_passes(tag, given, expected):
    assert algorithm.parse_hyperparameters(given, tag) == expected


@pytest.mark.parametrize(("tag", "given", "message"), [
    ("1.7-1", {"max_depth": "3"}, "Missing required hyperparameter: num_round"),
    ("1.2-1", SEED_HYPERPARAMETERS, "Extraneous hyperparameter found: silent (the algorithm accepts 'silent' only"),
    ("1.7-1", {"num_round": "3", "max_dept": "3"}, "Extraneous hyperparameter found: max_dept (did you mean 'max_depth'?)"),
    ("1.7-1", {"num_round": "5.0"}, "Hyperparameter num_round: could not parse value (caused by ValueError)"),
    ("1.7-1", {"num_round": "3", "eta": "fast"}, "Hyperparameter eta: could not parse value"),
    ("1.7-1", {"num_round": "0"}, "Hyperparameter num_round: 0 is not in [1, +inf)"),
    ("1.7-1", {"num_round": "3", "subsample": "0"}, "Hyperparameter subsample: 0.0 is not in (0, 1]"),
    ("1.7-1", {"num_round": "3", "booster": "forest"}, "Hyperparameter booster: forest is not in ['gbtree', 'gblinear', 'dart']"),
    ("1.7-1", {"num_round": "3", "objective": "reg:squarederror", "eval_metric": "rmse,bogus"},
     "Hyperparameter eval_metric: value ['rmse', 'bogus'] not in range"),
    ("1.7-1", {"num_round": "3", "objective": "reg:squarederror", "eval_metric": "rmse@2"}, "Metric 'rmse@2' is not supported."),
    ("1.7-1", {"num_round": "3", "objective": "reg:squarederror", "eval_metric": "auc"},
     "Metric 'auc' can only be applied for classification and ranking problems."),
    ("1.7-1", {"num_round": "3", "eval_metric": "rmse"}, "KeyError: 'objective'"),
    ("1.7-1", {"num_round": "3", "objective": "multi:softmax"}, "Require input for parameter 'num_class' for multi-classification"),
    ("1.7-1", {"num_round": "3", "monotone_constraints": "(1,-1)"}, "monotone_constraints can be used only when"),
    ("1.7-1", {"num_round": "3", "monotone_constraints": "__import__('os')"}, "Hyperparameter monotone_constraints: could not parse value"),
    ("1.0-1-cpu-py3", {"num_round": "3", "tree_method": "gpu_hist"}, "GPU training is not supported yet."),
    ("1.0-1-cpu-py3", {"num_round": "3", "objective": "reg:absoluteerror"}, "Hyperparameter objective: reg:absoluteerror is not in"),
    ("1.3-1", {"num_round": "3", "_tuning_objective_metric": "train:rmse"}, "Hyperparameter _tuning_objective_metric: train:rmse is not in"),
    ("1.7-1", {"num_round": "3", "booster": "gblinear", "updater": "grow_colmaker"}, "Linear updater should be one of"),
])
def test_invalid_hyperparameters_fail_the_job_with_the_algorithms_message(tag, given, message):
    with pytest.raises(AlgorithmError) as refused:
        algorithm.parse_hyperparameters(given, tag)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


# --- image versions and built-in algorithm images -----------------------------------------------

@pytest.mark.parametrize(("uri", "expected"), [
    ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.0-1-cpu-py3", ("xgboost", "1.0-1-cpu-py3")),
    ("246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1", ("xgboost", "1.7-1")),
    ("811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1", ("xgboost", "1")),
    ("382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1", ("linear-learner", "1")),
    ("390948362332.dkr.ecr.cn-north-1.amazonaws.com.cn/kmeans:latest", ("kmeans", "latest")),
    ("522234722520.dkr.ecr.us-east-1.amazonaws.com/forecasting-deepar:1", ("forecasting-deepar", "1")),
    (f"683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost@sha256:{'0' * 64}", ("xgboost", None)),
    ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", None),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3-cpu-py311", None),
    ("docker.io/library/sagemaker-xgboost:1.7-1", None),
    ("not an image", None),
])
def test_built_in_algorithm_images_are_recognised_by_name(uri, expected):
    assert algorithm_of(uri) == (BuiltinAlgorithm(*expected) if expected else None)


@pytest.mark.parametrize(("tag", "version", "pickled"), [
    ("0.90-1-cpu-py3", "0.90-1", True), ("1.0-1-cpu-py3", "1.0-1", True), ("1.0-1-arm64-cpu-py3", "1.0-1", True),
    ("1.2-2", "1.2-2", True), ("1.3-1", "1.3-1", False), ("1.5-1-arm64", "1.5-1", False), ("3.0-5", "3.0-5", False),
])
def test_image_tags_name_a_version_and_its_model_format(tag, version, pickled):
    image = xgboost_image(tag)
    assert (image.name, image.pickles_model) == (version, pickled)


@pytest.mark.parametrize(("tag", "message"), [
    ("1", "legacy XGBoost 0.72 algorithm"), ("latest", "legacy XGBoost 0.72 algorithm"), ("2.0-1", "not one this runner knows"),
    (None, "not one this runner knows"),
])
def test_tags_without_a_local_version_are_refused(tag, message):
    with pytest.raises(SmpipeError, match=message):
        xgboost_image(tag)


# --- training ------------------------------------------------------------------------------------

@pytest.mark.parametrize("tag", [PICKLED, SAVED, "3.0-5"])
def test_the_local_model_predicts_as_the_library_trained_directly(regression, tmp_path, tag):
    channels, test_rows = regression
    hyperparameters = {"num_round": "12", "max_depth": "3", "eta": "0.3", "subsample": "0.8", "seed": "11",
                       "objective": "reg:squarederror"}
    _, _, _, model_dir = train(channels, hyperparameters, tag, tmp_path)

    data = np.vstack([np.loadtxt(p, delimiter=",") for p in sorted(channels["train"].iterdir())])
    direct = xgb.train({"max_depth": 3, "eta": 0.3, "subsample": 0.8, "seed": 11, "objective": "reg:squarederror"},
                       xgb.DMatrix(data[:, 1:], label=data[:, 0]), num_boost_round=12)
    expected = direct.predict(xgb.DMatrix(test_rows.round(6)))
    assert np.array_equal(served(model_dir, tag, test_rows), expected)


def test_csv_weights_come_from_column_1(tmp_path):
    rng = np.random.default_rng(8)
    features, weights = rng.normal(size=(150, 3)), rng.uniform(0.1, 3.0, size=150)
    labels = features @ np.array([1.0, -1.0, 2.0]) + rng.normal(size=150)
    channels = {"train": write_csv(tmp_path / "train" / "t.csv", labels, np.column_stack([weights, features])).parent}
    _, _, _, model_dir = train(channels, {"num_round": "5", "csv_weights": "1"}, SAVED, tmp_path)
    direct = xgb.train({}, xgb.DMatrix(features.round(6), label=labels.round(6), weight=weights.round(6)), num_boost_round=5)
    assert np.array_equal(served(model_dir, SAVED, features), direct.predict(xgb.DMatrix(features.round(6))))


def test_up_to_1_2_2_the_model_file_is_a_pickle_as_the_seed_codes_evaluate_loads_it(regression, tmp_path):
    channels, test_rows = regression
    _, _, _, model_dir = train(channels, SEED_HYPERPARAMETERS, PICKLED, tmp_path)
    with open(model_dir / "xgboost-model", "rb") as handle:
        booster = pickle.load(handle)
    assert isinstance(booster, xgb.Booster) and booster.num_boosted_rounds() == 50
    assert np.array_equal(booster.predict(xgb.DMatrix(test_rows.round(6))), served(model_dir, PICKLED, test_rows))


@pytest.mark.filterwarnings("ignore:.*Unknown file format")  # the host's xgboost guesses from a name without extension
def test_from_1_3_1_the_model_file_loads_with_load_model_and_not_with_pickle(regression, tmp_path):
    channels, test_rows = regression
    _, _, _, model_dir = train(channels, {"num_round": "5"}, SAVED, tmp_path)
    booster = xgb.Booster()
    booster.load_model(str(model_dir / "xgboost-model"))
    assert np.array_equal(booster.predict(xgb.DMatrix(test_rows.round(6))), served(model_dir, SAVED, test_rows))
    with pytest.raises(pickle.UnpicklingError), open(model_dir / "xgboost-model", "rb") as handle:
        pickle.load(handle)
    assert sorted(p.name for p in model_dir.iterdir()) == ["xgboost-model"]


def test_metric_lines_match_the_sdk_regex_and_the_runners_metric_parsing(regression, tmp_path):
    channels, _ = regression
    final, lines, notes, _ = train(channels, {"num_round": "4", "objective": "reg:squarederror",
                                              "eval_metric": "rmse,mae"}, SAVED, tmp_path)
    assert len(lines) == 4 and all(re.fullmatch(r"\[\d\](#011(train|validation)-(rmse|mae):\d+\.\d{5})+", x) for x in lines)
    log = "\n".join(lines)
    assert float(re.findall(SDK_VALIDATION_RMSE, log)[-1]) == final["validation:rmse"]
    assert match_metrics(algorithm.metric_definitions(), log) == final
    assert set(final) == {"train:rmse", "train:mae", "validation:rmse", "validation:mae"}
    assert notes == [f"built-in XGBoost 1.7-1 (xgboost 1.7.4 in the image) runs on xgboost {xgb.__version__} here"]


def test_metrics_are_matched_as_cloudwatch_holds_the_log_where_a_tab_is_011():
    """A script printing a real tab is matched by a regex saying #011, as on SageMaker."""
    log = "[smpipe-gen] $ python train.py\n[4]\ttrain-rmse:0.5\tvalidation-rmse:0.75\n"
    assert match_metrics(algorithm.metric_definitions(), log) == {"train:rmse": 0.5, "validation:rmse": 0.75}


def test_0_90_prints_metric_values_as_its_xgboost_did(regression, tmp_path):
    values = {tag: re.findall(r"-rmse:([0-9.]+)", train(regression[0], {"num_round": "1"}, tag, tmp_path)[1][0])
              for tag in ("0.90-2-cpu-py3", PICKLED)}
    assert all(text == format(float(text), "g") for text in values["0.90-2-cpu-py3"])  # %g, as xgboost 0.90
    assert all(re.fullmatch(r"\d+\.\d{5}", text) for text in values[PICKLED])  # .5f from xgboost 1.0
    assert np.allclose(np.array(values["0.90-2-cpu-py3"], float), np.array(values[PICKLED], float), atol=1e-5)


@pytest.mark.parametrize(("tag", "keeps_every_round"), [(PICKLED, True), (SAVED, False)])
def test_early_stopping_as_the_image_version_does_it(tmp_path, tag, keeps_every_round):
    rng = np.random.default_rng(3)
    features = rng.normal(size=(240, 3))
    labels = features[:, 0] + rng.normal(scale=2.0, size=240)  # mostly noise: validation stops improving early
    channels = {"train": write_csv(tmp_path / "train" / "t.csv", labels[:160], features[:160]).parent,
                "validation": write_csv(tmp_path / "validation" / "v.csv", labels[160:], features[160:]).parent}
    hyperparameters = {"num_round": "200", "eta": "0.5", "max_depth": "6", "objective": "reg:squarederror",
                       "eval_metric": "rmse", "early_stopping_rounds": "3"}
    final, lines, _, model_dir = train(channels, hyperparameters, tag, tmp_path)
    booster = algorithm.load_model(model_dir, tag).boosters[0]
    best = int(booster.attr("best_iteration"))
    assert len(lines) == best + 1 + 3 < 200  # the log runs early_stopping_rounds past the best round
    assert booster.num_boosted_rounds() == (len(lines) if keeps_every_round else best + 1)
    best_only = booster.predict(xgb.DMatrix(features[160:]), iteration_range=(0, best + 1))
    assert np.allclose(served(model_dir, tag, features[160:]), best_only, atol=1e-5)  # serving stops at the best
    assert final["validation:rmse"] == float(lines[-1].rsplit(":", 1)[1])


def test_the_tuning_objective_is_computed_and_drives_early_stopping(regression, tmp_path):
    channels, _ = regression
    final, lines, _, _ = train(channels, {"num_round": "30", "objective": "reg:squarederror",
                                          "_tuning_objective_metric": "validation:mae", "early_stopping_rounds": "2"},
                               SAVED, tmp_path)
    assert "validation:mae" in final and "#011validation-mae:" in lines[0]


@pytest.mark.parametrize(("tag", "counts_as_positive"), [
    (PICKLED, lambda probability, margin: np.round(probability)),  # 1.0: round(prediction)
    ("1.5-1", lambda probability, margin: margin > 0),  # 1.2 to 1.7: margin compared with 0
    ("3.0-5", lambda probability, margin: probability > 0),  # 3.0: predictions compared with 0, as its code does
])
def test_the_containers_own_metrics_see_what_the_image_version_hands_them(tmp_path, tag, counts_as_positive):
    rng = np.random.default_rng(5)
    features = rng.normal(size=(200, 3))
    labels = (features[:, 0] + rng.normal(scale=0.8, size=200) > 0).astype(float)
    channels = {"train": write_csv(tmp_path / "train" / "t.csv", labels, features).parent}
    final, _, _, model_dir = train(channels, {"num_round": "3", "objective": "binary:logistic",
                                              "eval_metric": "accuracy"}, tag, tmp_path)
    booster = algorithm.load_model(model_dir, tag).boosters[0]
    dmatrix = xgb.DMatrix(features.round(6))
    predicted = counts_as_positive(booster.predict(dmatrix), booster.predict(dmatrix, output_margin=True))
    assert final["train:accuracy"] == pytest.approx(np.mean(predicted == labels), abs=1e-5)


def test_libsvm_channels_train_and_libsvm_requests_are_served(tmp_path):
    rng = np.random.default_rng(9)
    features = rng.normal(size=(150, 4))
    labels = features @ np.array([2.0, -1.0, 0.5, 1.0])
    write_libsvm(tmp_path / "train" / "train.libsvm", labels, features)
    final, lines, _, model_dir = train({"train": tmp_path / "train"}, {"num_round": "6"}, SAVED, tmp_path,
                                       content_type="text/libsvm")
    assert set(final) == {"train:rmse"} and len(lines) == 6
    request = "1:0.5 3:-1.25\n0:2.0 2:0.75\n"
    body, _ = algorithm.predict(algorithm.load_model(model_dir, SAVED), request.encode(), "text/libsvm")
    booster = algorithm.load_model(model_dir, SAVED).boosters[0]
    dense = np.array([[np.nan, 0.5, np.nan, -1.25], [2.0, np.nan, 0.75, np.nan]])
    assert np.array_equal(np.array(body.decode().split(), dtype=np.float32), booster.predict(xgb.DMatrix(dense)))


def test_3_0_5_reads_one_based_libsvm_requests_as_zero_based(tmp_path):
    rng = np.random.default_rng(4)
    features = rng.normal(size=(120, 3))
    channels = {"train": write_csv(tmp_path / "train" / "t.csv", features @ [1.0, 2.0, 3.0], features).parent}
    models = {tag: algorithm.load_model(train(channels, {"num_round": "4"}, tag, tmp_path)[3], tag)
              for tag in ("1.7-1", "3.0-5")}
    zero_based, one_based = b"0:1.0 1:-0.5 2:2.0", b"1:1.0 2:-0.5 3:2.0"
    assert algorithm.predict(models["3.0-5"], one_based, "text/libsvm") == algorithm.predict(models["1.7-1"], zero_based, "text/libsvm")


def test_multi_softprob_gives_one_probability_list_per_line(tmp_path):
    rng = np.random.default_rng(6)
    features = rng.normal(size=(180, 2))
    labels = (features[:, 0] > 0).astype(int) + (features[:, 1] > 0.5)
    channels = {"train": write_csv(tmp_path / "train" / "t.csv", labels, features).parent}
    _, _, _, model_dir = train(channels, {"num_round": "3", "objective": "multi:softprob", "num_class": "3"}, "1.7-1", tmp_path)
    body, content_type = algorithm.predict(algorithm.load_model(model_dir, "1.7-1"), b"0.5,1.0\n-1,-1", "text/csv",
                                           accept="application/json")
    probabilities = [json.loads(line) for line in body.decode().splitlines()]
    assert content_type == "application/json" and [len(p) for p in probabilities] == [3, 3]
    assert all(abs(sum(p) - 1) < 1e-5 for p in probabilities)


def test_a_csv_header_is_read_as_missing_values_and_said(regression, tmp_path):
    channels, _ = regression
    train_dir = tmp_path / "with-header"
    train_dir.mkdir()
    (train_dir / "data.csv").write_text("rings,length,diameter,height,weight,shell\n"
                                        + (channels["train"] / "part-1.csv").read_text())
    _, lines, notes, _ = train({"train": train_dir}, {"num_round": "2"}, SAVED, tmp_path)
    assert len(lines) == 2 and any("data.csv:1: 'rings' is not a number" in note for note in notes)


@pytest.mark.parametrize(("channels", "content_type", "error", "message"), [
    (("train", "validation"), "application/json", AlgorithmError, "Channel configuration for 'train' channel is not supported"),
    (("train",), "text/csv; label_size=1", AlgorithmError, "Channel configuration for 'train' channel is not supported"),
    (("validation",), "text/csv", AlgorithmError, "Missing required channel: train"),
    (("train", "test"), "text/csv", AlgorithmError, "Extraneous channel found: test"),
    (("train",), "application/x-parquet", SmpipeError, "training data in parquet format"),
    (("train",), "application/x-recordio-protobuf", SmpipeError, "training data in recordio-protobuf format"),
])
def test_channels_the_algorithm_or_the_local_run_refuse(regression, tmp_path, channels, content_type, error, message):
    given = {name: regression[0].get(name, regression[0]["train"]) for name in channels}
    with pytest.raises(error, match=re.escape(message)):
        train(given, {"num_round": "2"}, SAVED, tmp_path, content_type=content_type)


@pytest.mark.parametrize(("hyperparameters", "message"), [
    ({"num_round": "2", "tree_method": "gpu_hist"}, "tree_method=gpu_hist trains on a GPU"),
    ({"num_round": "2", "_kfold": "3"}, "_kfold: the algorithm's k-fold cross-validation does not run locally"),
])
def test_what_has_no_local_version_is_refused_before_training(regression, tmp_path, hyperparameters, message):
    with pytest.raises(SmpipeError, match=re.escape(message)):
        train(regression[0], hyperparameters, SAVED, tmp_path)


def test_hidden_and_missing_data_fail_the_job_as_in_the_container(regression, tmp_path):
    (tmp_path / "hidden").mkdir()
    (tmp_path / "hidden" / ".part.csv").write_text("1,2\n")
    with pytest.raises(AlgorithmError, match="Hidden file found in the data path"):
        train({"train": tmp_path / "hidden"}, {"num_round": "2"}, SAVED, tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AlgorithmError, match="No data in validation channel path"):
        train({"train": regression[0]["train"], "validation": tmp_path / "empty"}, {"num_round": "2"}, SAVED, tmp_path)


def test_a_library_error_fails_the_job_naming_both_xgboost_versions(regression, tmp_path):
    with pytest.raises(AlgorithmError) as failed:
        train(regression[0], {"num_round": "2", "objective": "binary:logistic"}, PICKLED, tmp_path)  # labels not in [0, 1]
    assert str(failed.value).startswith("XGB train call failed with exception: ")
    assert f"(xgboost {xgb.__version__} here; the 1.0-1 image has 1.0.0)" in str(failed.value)


# --- inference ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    features = np.random.default_rng(1).normal(size=(80, 3))
    write_csv(root / "train" / "t.csv", features.sum(axis=1), features)
    algorithm.train({"train": root / "train"}, {"train": "text/csv"}, {"num_round": "2"}, root / "model", PICKLED,
                    lambda _: None)
    return root / "model"


@pytest.mark.parametrize(("tag", "body", "content_type", "accept", "status", "message"), [
    (PICKLED, b"1,2,3", "application/json", None, 415, "application/json is not an accepted ContentType: csv, libsvm"),
    (PICKLED, b"1,2,3", "text/csv;label_size=2", None, 415, "is not an accepted csv ContentType"),
    (PICKLED, b"1,2,3", "application/x-parquet", None, 415, "Content-type application/x-parquet is not supported."),
    (PICKLED, b"1,2\n3", "text/csv", None, 415, "Loading csv data failed with Exception"),
    (PICKLED, b"1,2,3,4,5", "text/csv", None, 400, "Feature size of csv inference data 5 is not consistent"),
    ("1.2-2", b"1,2,3", "text/csv", "image/png", 406, "Accept type image/png is not supported."),
])
def test_requests_the_container_refuses(small_model, tag, body, content_type, accept, status, message):
    with pytest.raises(InferenceError) as refused:
        algorithm.predict(algorithm.load_model(small_model, tag), body, content_type, accept)
    assert refused.value.status == status and message in str(refused.value)


@pytest.mark.parametrize(("tag", "accept", "expected"), [
    (PICKLED, "application/json", "text/csv"),  # up to 1.2-1 every response is text/csv
    ("1.2-2", None, "text/csv"), ("1.2-2", "*/*", "text/csv"), ("1.2-2", "application/jsonlines", "application/jsonlines"),
])
def test_the_response_type_as_the_image_version_answers(small_model, tag, accept, expected):
    body, content_type = algorithm.predict(algorithm.load_model(small_model, tag), b"1,2,3\n0,0,0\n", "text/csv", accept)
    assert content_type == expected and len(body.decode().splitlines()) == 2


def test_a_pickle_holding_anything_but_a_booster_is_not_run(tmp_path):
    witness = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(witness), "w"))

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "xgboost-model").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(InferenceError, match=r"Unable to load model: .* \(the 1.0-1 image serves with xgboost 1.0.0; "
                                             r"this machine has "):
        algorithm.load_model(tmp_path / "model", PICKLED)
    assert not witness.exists()


def test_the_runner_starts_without_importing_xgboost():
    probe = ("import sys\nfrom smpipe_gen.local.algorithms import algorithm_of, xgboost\n"
             "algorithm_of('683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1')\n"
             "print('xgboost' in sys.modules, 'sagemaker' in sys.modules, 'sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["False", "False", "False"]
