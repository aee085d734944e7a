"""Built-in XGBoost pipelines as AWS's notebooks write them (tests/local_fixtures/builtin), run
end to end with ``run --local --pipeline``: training, tuning on ``validation:rmse``, a model of the
best job, and batch transform served by the algorithm's own server. The model must be the one
the xgboost library trains directly on the same data with the same parameters. Other built-in
algorithms are refused naming them. The SDK runs only in the child that captures the program."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import xgboost

from helpers import offline_env
from local_support import FIXTURES, last_record, run_local, statuses

DATA = "s3://smpipe-builtin-data/regression"
LINEAR_LEARNER = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"


def write_rows(path: Path, rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, rows, delimiter=",", fmt="%.6f")


@pytest.fixture
def fixture(tmp_path: Path) -> Path:
    """The program and its data: label first, no header; the batch rows without a label."""
    root = tmp_path / "builtin"
    shutil.copytree(FIXTURES / "builtin", root, ignore=shutil.ignore_patterns("__pycache__"))
    rng = np.random.default_rng(21)
    features = rng.normal(size=(420, 6))
    labels = features @ np.array([2.0, -1.0, 0.5, 0.0, 3.0, -0.5]) + rng.normal(scale=0.3, size=420)
    write_rows(root / "data" / "train" / "train.csv", np.column_stack([labels[:300], features[:300]]))
    write_rows(root / "data" / "validation" / "validation.csv", np.column_stack([labels[300:380], features[300:380]]))
    write_rows(root / "data" / "batch" / "batch.csv", features[380:])
    return root


def run(root: Path, *args: str, expect: int = 0, **kwargs):
    return run_local("--pipeline", "program.py:build", "--kwargs", json.dumps(kwargs), "--data", f"{DATA}=./data",
                     *args, expect=expect, cwd=root, env=offline_env(COLUMNS="200"))


def booster_of(tarball: str) -> xgboost.Booster:
    """``xgboost-model`` as a 1.7-1 user loads it (Booster.load_model)."""
    with tarfile.open(tarball) as tar:
        raw = tar.extractfile("xgboost-model").read()
    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))
    return booster


def test_training_tuning_model_and_transform_run_as_the_algorithm_does(fixture):
    run(fixture)
    record = last_record(fixture)
    assert statuses(record) == dict.fromkeys(("Train", "Tune", "CreateBest-CreateModel", "Predict"), "done")
    data = np.loadtxt(fixture / "data" / "train" / "train.csv", delimiter=",")
    batch = xgboost.DMatrix(np.loadtxt(fixture / "data" / "batch" / "batch.csv", delimiter=","))

    # training: the metric eval_metric names, as the algorithm logs it; the model xgboost trains
    train = record["steps"]["Train"]
    assert set(train["metrics"]) == {"train:mape", "validation:mape"}
    (tarball,) = train["outputs"].values()
    direct = xgboost.train({"objective": "reg:squarederror", "max_depth": 4, "eta": 0.3, "subsample": 0.8, "seed": 7},
                           xgboost.DMatrix(data[:, 1:], label=data[:, 0]), num_boost_round=20)
    assert booster_of(tarball).predict(batch).tolist() == direct.predict(batch).tolist()

    # tuning: every trial was told its objective, so it logs validation:rmse next to mape; the best is the least
    tune = record["steps"]["Tune"]
    logs = sorted(Path(tune["log"]).parent.glob("*-Tune-*.log"))
    assert len(logs) == 3  # max_jobs
    assert "note: the Bayesian strategy chooses each trial from the results so far" in Path(tune["log"]).read_text()
    final = {log.stem: re.findall(r"\[19\]#011train-mape:[0-9.]+#011train-rmse:[0-9.]+#011validation-mape:[0-9.]+"
                                  r"#011validation-rmse:([0-9.]+)", log.read_text()) for log in logs}
    scores = {name: float(found[0]) for name, found in final.items()}
    best = tune["properties"]["BestTrainingJob"]
    assert best["TrainingJobName"] == min(scores, key=scores.get)
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "MetricName": "validation:rmse", "Value": min(scores.values()), "Type": "Minimize"}
    assert tune["metrics"] == {"validation:rmse": min(scores.values())}
    assert 0.05 <= float(best["TunedHyperParameters"]["eta"]) <= 0.5

    # transform: the best model, served by the algorithm's server, one prediction per row
    best_tarball = next(path for uri, path in tune["outputs"].items()
                        if f"/{best['TrainingJobName']}/output/model.tar.gz" in uri)
    (predictions,) = record["steps"]["Predict"]["outputs"].values()
    lines = Path(predictions, "batch.csv.out").read_text().splitlines()
    assert [float(line) for line in lines] == booster_of(best_tarball).predict(batch).tolist()


def test_a_hyperparameter_the_algorithm_refuses_fails_the_job_with_its_message(fixture):
    result = run(fixture, expect=1, max_depth=-1)
    record = last_record(fixture)
    assert record["failed_step"] == "Train"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors[0].startswith("error: step Train: execution failed: process exited with code 1: AlgorithmError: "
                                "Hyperparameter max_depth: -1 is not ")


def test_a_model_of_another_builtin_algorithm_is_refused_naming_it(fixture):
    result = run(fixture, expect=1, serving_image=LINEAR_LEARNER)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: step Predict: the model serves with built-in algorithm linear-learner (image "
                      f"{LINEAR_LEARNER}), which has no local version: of SageMaker's built-in algorithms only XGBoost "
                      "runs locally (hint: pass --stand-in Predict=FILE.json to run past this step)"]
