"""The seed workload examples (LightGBM, LLM fine-tune with a gate, PCA + MLP): each renders to
its committed files, `check` passes, and each runs locally end to end where its libraries are
installed, with the outcome read from the run record and the local registry."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from helpers import EXAMPLES, copy_example, smpipe_in_process, without_versions
from local_support import last_record, run, statuses
from smpipe_gen.definition import load_file
from smpipe_gen.render.engine import render_project

SEED_EXAMPLES = ["lightgbm-purchase", "llm-summarization", "pca-tf-housing"]
LLM_LIBRARIES = ["torch", "transformers", "peft", "tokenizers"]
MISSING_LLM = [name for name in LLM_LIBRARIES if importlib.util.find_spec(name) is None]


def definition_steps(repo: Path) -> dict[str, dict]:
    """Every step of the committed definition by name as JSON, condition branches included."""
    return {step.name: step.json() for step in load_file(repo / "pipeline" / "definition.json")}


def registered(repo: Path) -> dict[str, list[dict]]:
    """Local registry: package group -> its versions' package.json, oldest first."""
    groups: dict[str, list[dict]] = {}
    for path in sorted((repo / ".smpipe" / "registry").glob("*/*/package.json")):
        groups.setdefault(path.parent.parent.name, []).append(json.loads(path.read_text()))
    return groups


def registered_metrics(repo: Path, group: str, version: int = 1) -> dict:
    path = repo / ".smpipe" / "registry" / group / str(version) / "metrics-ModelQuality.Statistics.json"
    return json.loads(path.read_text())


def step_log(repo: Path, record: dict, step: str) -> str:
    return Path(record["steps"][step]["log"]).read_text()


@pytest.mark.parametrize("name", SEED_EXAMPLES)
def test_renders_identical_to_committed_files(name):
    rendered = render_project(EXAMPLES / name)
    for file_name, text in rendered.files().items():
        committed = (EXAMPLES / name / "pipeline" / file_name).read_text(encoding="utf-8")
        assert without_versions(committed) == without_versions(text), file_name


@pytest.mark.parametrize("name", SEED_EXAMPLES)
def test_check_is_clean(name, tmp_path):
    result = smpipe_in_process("check", "-C", str(copy_example(name, tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "current" in result.stdout


def test_lightgbm_definition_scores_the_staged_test_file():
    steps = definition_steps(EXAMPLES / "lightgbm-purchase")
    data = steps["purchase-Transform"]["Arguments"]["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert data == {"Std:Join": {"On": "/", "Values": [
        {"Get": "Steps.purchase-Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"}, "x_test.csv"]}}
    channels = {c["ChannelName"] for c in steps["purchase-Train"]["Arguments"]["InputDataConfig"]}
    assert channels == {"purchase-Preprocess-train", "purchase-Preprocess-test"}
    evaluate_inputs = {i["InputName"]: i["S3Input"]["S3Uri"]
                       for i in steps["purchase-Evaluate"]["Arguments"]["ProcessingInputs"]}
    assert evaluate_inputs["purchase-Transform-input"] == {"Get": "Steps.purchase-Transform.TransformOutput.S3OutputPath"}


def test_lightgbm_registers_with_classification_metrics_and_stops_below_min_auc(tmp_path):
    repo = copy_example("lightgbm-purchase", tmp_path)
    run(repo)
    record = last_record(repo)
    assert record["status"] == "Succeeded"
    steps = statuses(record)
    assert [s for s, state in steps.items() if state != "done"] == ["purchase-AucTooLow"]
    assert record["steps"]["purchase-Train"]["metrics"]["valid:auc"] > 0.75
    (package,) = registered(repo)["purchase-lightgbm"]
    assert package["Step"] == "purchase-Register-RegisterModel"
    report = registered_metrics(repo, "purchase-lightgbm")["binary_classification_metrics"]
    assert {"accuracy", "auc", "precision", "recall", "f1"} <= set(report)
    assert report["auc"]["value"] == pytest.approx(record["steps"]["purchase-Train"]["metrics"]["valid:auc"], abs=1e-4)
    assert 0.7 < report["accuracy"]["value"] <= 1.0
    assert sum(sum(row.values()) for row in report["confusion_matrix"].values()) == 100  # the 25% test split

    result = run(repo, "--param", "MinAuc=0.99", expect=1)
    record = last_record(repo)
    assert record["failed_step"] == "purchase-AucTooLow"
    assert statuses(record)["purchase-Register-RegisterModel"] == "skipped"
    assert statuses(record)["purchase-Preprocess"] == "cached"
    assert "test AUC is below MinAuc" in result.stderr
    assert len(registered(repo)["purchase-lightgbm"]) == 1


def test_llm_definition_trains_on_a_gpu_with_the_gate_as_a_parameter():
    steps = definition_steps(EXAMPLES / "llm-summarization")
    train = steps["summarizer-Train"]["Arguments"]
    assert train["ResourceConfig"]["InstanceType"] == "ml.g5.2xlarge"
    assert "huggingface-pytorch-training" in train["AlgorithmSpecification"]["TrainingImage"]
    hps = train["HyperParameters"]
    assert hps["model_size"] == {"Get": "Parameters.ModelSize"}
    assert json.dumps(hps["eval_loss_gate"]).count("Parameters.EvalLossGate") == 1
    assert {c["ChannelName"] for c in train["InputDataConfig"]} == {
        "summarizer-Preprocess-train", "summarizer-Preprocess-validation", "summarizer-Preprocess-tokenizer", "base_model"}
    parameters = {p["Name"]: p for p in json.loads(
        (EXAMPLES / "llm-summarization" / "pipeline" / "definition.json").read_text())["Parameters"]}
    assert parameters["ModelSize"]["DefaultValue"] == "base"


@pytest.mark.slow
@pytest.mark.skipif(bool(MISSING_LLM), reason=f"local LLM run needs {', '.join(MISSING_LLM)} "
                                              "(pip install -e '.[llm]')")
def test_llm_tiny_variant_registers_under_a_loose_gate_and_fails_training_over_a_strict_one(tmp_path):
    repo = copy_example("llm-summarization", tmp_path)
    run(repo, "--param", "ModelSize=tiny", "--param", "EvalLossGate=10")
    record = last_record(repo)
    assert record["status"] == "Succeeded"
    assert set(statuses(record).values()) == {"done"}
    eval_loss = record["steps"]["summarizer-Train"]["metrics"]["eval:loss"]
    assert 0 < eval_loss < 10
    log = step_log(repo, record, "summarizer-Train")
    assert "tiny variant" in log and "trainable params" in log  # peft LoRA on the tiny model
    (package,) = registered(repo)["dialogue-summarizer"]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"

    result = run(repo, "--param", "ModelSize=tiny", "--param", "EvalLossGate=1.0", expect=1)
    record = last_record(repo)
    assert record["status"] == "Failed"
    assert record["failed_step"] == "summarizer-Train"
    message = record["steps"]["summarizer-Train"]["message"]
    assert f"eval_loss {eval_loss:.4f} is above eval_loss_gate 1.0" in message
    assert "stops before registration" in message
    assert statuses(record)["summarizer-Register-RegisterModel"] == "not started"
    assert "is above eval_loss_gate 1.0" in result.stderr
    assert len(registered(repo)["dialogue-summarizer"]) == 1


def test_pca_mlp_definition_chains_the_pca_artifact_and_orders_registration():
    steps = definition_steps(EXAMPLES / "pca-tf-housing")
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in steps["mlp-Preprocess"]["Arguments"]["ProcessingInputs"]}
    assert inputs["pca-Train-input-train"] == {"Get": "Steps.pca-Train.ModelArtifacts.S3ModelArtifacts"}
    assert "pca-Register-RegisterModel" in steps["mlp-Register-RegisterModel"]["DependsOn"]
    assert "tensorflow-training" in steps["mlp-Train"]["Arguments"]["AlgorithmSpecification"]["TrainingImage"]


def test_pca_mlp_runs_and_registers_pca_first(tmp_path):
    repo = copy_example("pca-tf-housing", tmp_path)
    run(repo)
    record = last_record(repo)
    assert record["status"] == "Succeeded"
    assert set(statuses(record).values()) == {"done"}
    packages = registered(repo)
    assert sorted(packages) == ["housing-mlp", "housing-pca"]
    assert packages["housing-pca"][0]["CreationTime"] < packages["housing-mlp"][0]["CreationTime"]
    report = registered_metrics(repo, "housing-mlp")["regression_metrics"]
    assert report["r2"]["value"] > 0.7
    keras = importlib.util.find_spec("keras") is not None
    backend = "backend: Keras" if keras else "backend: scikit-learn MLPRegressor (Keras/TensorFlow is not installed"
    assert backend in step_log(repo, record, "mlp-Train")
    assert record["steps"]["pca-Train"]["metrics"]["explained_variance_ratio"] > 0.8
