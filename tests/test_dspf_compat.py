"""Repositories of the original dynamic-sagemaker-pipelines-framework migrate unchanged.

The fixtures under tests/fixtures/dspf/ are written here in the original's layout and
conventions (framework/conf/conf.yaml, an SMP_MODEL_CONFIGPATH glob, scripts reading the paths
the original gives chained inputs). Each loads unchanged, renders, runs locally, and its plan
against the definition the original would build (tests/dspf_original.py, real SDK, child
process) shows only the differences the README documents.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import offline_env, smpipe, smpipe_in_process, write

# Its module-scoped fixtures build once per run only if the module stays in one xdist worker.
pytestmark = pytest.mark.xdist_group("dspf-compat")

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "dspf"
BUCKET = "retail-ml-artifacts"
SMP = dict(SMP_ACCOUNTID="123456789012", SMP_REGION="eu-west-1", SMP_S3BUCKETNAME=BUCKET,
           SMP_ROLE="arn:aws:iam::123456789012:role/SageMakerPipelines")
CONFIG_PATHS = {
    "shoppers": "examples/shoppers/conf/conf.yaml",
    "dialogue": "examples/dialogue/conf/conf.yaml",
    "housing": "examples/multi-model/*/conf/conf-multi-model.yaml",
}
REGISTRY_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/{}-inference:2.0"

# Every difference from the original's definition, as (category, step-independent path pattern),
# one group per row of the README's "Differences from the original framework" table.
DOCUMENTED = {
    "cache expiry as ISO 8601 (P10D for 10d); enable_cache honoured on every step": [
        ("cache", r"CacheConfig\.(ExpireAfter|Enabled)")],
    "training code: the entry point is a path inside source_directory, and the step ships what it reaches (below)": [
        ("code", r"Arguments\.HyperParameters\.sagemaker_(program|submit_directory)")],
    "each step ships only the code its entry point reaches, not the whole source_directory": [
        ("code", r"Arguments\.ProcessingInputs\[code\]\.S3Input\.S3Uri")],
    "training output under s3://<bucket>/<pipeline>/models; profiler off": [
        ("inputs/outputs", r"Arguments\.OutputDataConfig\.S3OutputPath"),
        ("other", r"Arguments\.(DebugHookConfig|ProfilerConfig)\..*")],
    "training gets the KMS key": [("kms", r"Arguments\.(OutputDataConfig\.KmsKeyId|ResourceConfig\.VolumeKmsKeyId)")],
    "every training channel reads its own data": [
        ("inputs/outputs", r"Arguments\.InputDataConfig\[[^\]]+\]\.DataSource\.S3DataSource\.S3Uri")],
    "inference code shipped as an S3 tarball in SAGEMAKER_SUBMIT_DIRECTORY": [
        ("code", r"Arguments\.(PrimaryContainer|InferenceSpecification\.Containers\[0\])\.Environment"
                 r"\.SAGEMAKER_SUBMIT_DIRECTORY")],
    "per-execution transform and metrics output paths; metrics report path joined": [
        ("inputs/outputs", r"Arguments\.TransformOutput\.S3OutputPath"),
        ("inputs/outputs", r"Arguments\.ProcessingOutputConfig\.Outputs\[model_evaluation_metrics\]\.S3Output\.S3Uri"),
        ("other", r"Arguments\.ModelMetrics\.ModelQuality\.Statistics\.S3Uri")],
    "no placeholder model package description": [("other", r"Arguments\.ModelPackageDescription")],
    "projectName from framework/conf/conf.yaml names the model package group": [
        ("other", r"Arguments\.ModelPackageGroupName")],
}


def documented(change: dict) -> str | None:
    for row, patterns in DOCUMENTED.items():
        if any(change["category"] == category and re.fullmatch(path, change["path"]) for category, path in patterns):
            return row
    return None


def env(name: str) -> dict[str, str]:
    return offline_env(**SMP, SMP_MODEL_CONFIGPATH=CONFIG_PATHS[name])


def seed_data(root: Path) -> dict[str, Path]:
    """Small synthetic data sets, one local directory per S3 prefix the fixtures read."""
    rng = np.random.default_rng(7)
    shoppers = root / "shoppers"

    def sessions(n):
        x = rng.normal(size=(n, 3))
        return np.column_stack([(x @ [1.5, -1.0, 0.5] + rng.normal(scale=0.3, size=n) > 0).astype(float), x])

    for part, n in (("train", 80), ("test", 20)):
        (shoppers / part).mkdir(parents=True)
        np.savetxt(shoppers / part / f"{part}.csv", sessions(n), delimiter=",", fmt="%.5f")
    scored = sessions(10)
    (shoppers / "score").mkdir()
    np.savetxt(shoppers / "score" / "x_test.csv", scored[:, 1:], delimiter=",", fmt="%.5f")
    np.savetxt(shoppers / "score" / "y_test.csv", scored[:, 0], delimiter=",", fmt="%.0f")
    write(root / "dialogue" / "raw" / "dialogues.csv", "\n".join(
        f"{a} asks {b} about the {topic}" for a, b, topic in zip(
            ["Anna", "Ben", "Carl", "Dana", "Eve"] * 2, ["Ben", "Carl", "Dana", "Eve", "Anna"] * 2,
            ["report", "budget", "meeting", "room", "report", "plan", "budget", "room", "meeting", "plan"])) + "\n")
    x = rng.normal(size=(30, 4))
    (root / "housing" / "raw").mkdir(parents=True)
    np.savetxt(root / "housing" / "raw" / "housing.csv",
               np.column_stack([x @ [2.0, 1.0, -1.0, 0.5] + 5 + rng.normal(scale=0.1, size=30), x]),
               delimiter=",", fmt="%.5f")
    return {name: root / name for name in CONFIG_PATHS}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """Each fixture repository copied as it is and rendered."""
    base = tmp_path_factory.mktemp("dspf")
    repos = {}
    for name in CONFIG_PATHS:
        repo = base / name
        shutil.copytree(FIXTURES / name, repo)
        result = smpipe_in_process("render", "-C", str(repo), env=env(name))
        assert result.returncode == 0, result.stderr
        repos[name] = repo
    return repos


@pytest.fixture(scope="module")
def original(rendered, tmp_path_factory) -> dict[str, Path]:
    """The definition the original framework would write for each fixture (one SDK process)."""
    out = tmp_path_factory.mktemp("original")
    jobs = [{"root": str(rendered[name]), "out": str(out / f"{name}.json"), "configpath": path}
            for name, path in CONFIG_PATHS.items()]
    child_env = dict(os.environ, **SMP, SAGEMAKER_SUPPRESS_V2_WARNING="1", AWS_EC2_METADATA_DISABLED="true")
    done = subprocess.run([sys.executable, str(HERE / "dspf_original.py"), json.dumps(jobs)],
                          capture_output=True, text=True, env=child_env)
    assert done.returncode == 0, done.stdout + done.stderr
    return {name: out / f"{name}.json" for name in CONFIG_PATHS}


def definition(repo: Path) -> dict[str, dict]:
    steps = json.loads((repo / "pipeline" / "definition.json").read_text())["Steps"]
    return {step["Name"]: step for step in steps}


def inputs(step: dict) -> dict[str, str]:
    return {i["InputName"]: i["S3Input"]["LocalPath"] for i in step["Arguments"]["ProcessingInputs"]}


# ---------------------------------------------------------------- loads and renders unchanged


def test_lgbm_like_unit_keeps_the_originals_names_image_and_model_settings(rendered):
    steps = definition(rendered["shoppers"])
    metrics = steps["shoppers-Metrics"]["Arguments"]
    assert inputs(steps["shoppers-Metrics"])["shoppers-Transform-input"] == \
        "/opt/ml/processing/input/shoppers-Transform-test"
    assert inputs(steps["shoppers-Metrics"])["sessions_labels"] == "/opt/ml/processing/input/sessions_labels"
    assert metrics["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
    code = (rendered["shoppers"] / "pipeline" / "pipeline.py").read_text()
    assert "command=['python', '-m', 'evaluate.evaluate']" in code  # run as a module, as the original does
    assert metrics["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] == 50
    assert metrics["StoppingCondition"]["MaxRuntimeInSeconds"] == 3600
    container = steps["shoppers-CreateModel-CreateModel"]["Arguments"]["PrimaryContainer"]
    assert container["Image"] == REGISTRY_IMAGE.format("shoppers")  # not transform.image_uri
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "transform.transform"
    assert container["Environment"]["SAGEMAKER_REQUIREMENTS"] == "requirements.txt"
    transform = steps["shoppers-Transform"]["Arguments"]
    assert transform["TransformOutput"]["Accept"] == transform["TransformInput"]["ContentType"] == "text/csv"
    register = steps["shoppers-Register-RegisterModel"]["Arguments"]
    (registered,) = register["InferenceSpecification"]["Containers"]
    assert registered["Image"] == REGISTRY_IMAGE.format("shoppers")
    assert registered["Environment"]["SAGEMAKER_PROGRAM"] == "transform.transform"
    assert register["CustomerMetadataProperties"] == {"PIPELINE_ARN": {"Get": "Execution.PipelineExecutionArn"}}
    assert register["ModelPackageGroupName"] == "retail-shoppers"


def test_llm_like_unit_names_training_channels_after_the_processing_step(rendered):
    steps = definition(rendered["dialogue"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                for c in steps["dialogue-training"]["Arguments"]["InputDataConfig"]}
    assert channels == {
        f"dialogue-preprocess-{ch}": {"Get": f"Steps.dialogue-preprocess.ProcessingOutputConfig.Outputs['{ch}']"
                                             f".S3Output.S3Uri"} for ch in ("train", "validation")}
    preprocess = steps["dialogue-preprocess"]["Arguments"]
    assert preprocess["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] == 32
    assert preprocess["StoppingCondition"]["MaxRuntimeInSeconds"] == 3000
    assert preprocess["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
    assert steps["dialogue-preprocess"]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P10D"}
    register = steps["dialogue-register-RegisterModel"]["Arguments"]
    environment = register["InferenceSpecification"]["Containers"][0]["Environment"]
    assert environment["SAGEMAKER_PROGRAM"] == "inference"  # no transform section
    assert register["ModelPackageDescription"] == "Extractive dialogue summarizer (top words per dialogue)"
    assert register["InferenceSpecification"]["SupportedRealtimeInferenceInstanceTypes"] == ["ml.m5.2xlarge"]


def test_multi_model_pair_chains_the_trained_model_across_models(rendered):
    steps = definition(rendered["housing"])
    assert inputs(steps["housing-reg-Preprocessing"])["housing-pca-Training-input-train"] == \
        "/opt/ml/processing/input/housing-pca-Training-input-train"
    chained = next(i for i in steps["housing-reg-Preprocessing"]["Arguments"]["ProcessingInputs"]
                   if i["InputName"] == "housing-pca-Training-input-train")
    assert chained["S3Input"]["S3Uri"] == {"Get": "Steps.housing-pca-Training.ModelArtifacts.S3ModelArtifacts"}
    channels = [c["ChannelName"] for c in steps["housing-reg-Training"]["Arguments"]["InputDataConfig"]]
    assert channels == ["housing-reg-Preprocessing-train", "housing-reg-Preprocessing-test"]
    app = steps["housing-pca-Preprocessing"]["Arguments"]["AppSpecification"]
    assert app["ContainerEntrypoint"][0] == "/bin/bash"


@pytest.mark.parametrize("name", sorted(CONFIG_PATHS))
def test_scripts_reading_the_originals_paths_run_locally(name, rendered, tmp_path):
    data = seed_data(tmp_path / "data")
    repo = tmp_path / name
    shutil.copytree(rendered[name], repo)
    result = smpipe("run", "--local", "-C", str(repo), "--data", f"s3://{BUCKET}/{name}={data[name]}",
                    env=env(name))
    assert result.returncode == 0, result.stdout + result.stderr
    execution = json.loads((repo / ".smpipe" / "last-run.json").read_text())["execution_id"]
    record = json.loads((repo / ".smpipe" / "runs" / execution / "run.json").read_text())
    assert record["status"] == "Succeeded"
    assert all(step["status"] == "done" for step in record["steps"].values()), record["steps"]


# ---------------------------------------------------------------- migration plan


@pytest.mark.parametrize("name", sorted(CONFIG_PATHS))
def test_plan_against_the_originals_definition_shows_only_documented_differences(name, rendered, original):
    result = smpipe("plan", "-C", str(rendered[name]), "--base-definition", str(original[name]),
                    "--format", "json", env=env(name))
    assert result.returncode == 2, result.stderr  # something changes ...
    plan = json.loads(result.stdout)
    assert plan["parameters"] == []
    assert [(s["name"], s["status"]) for s in plan["steps"] if s["status"] != "changed"] == []  # same steps
    changes = [dict(change, step=step["name"]) for step in plan["steps"] for change in step["changes"]]
    undocumented = [c for c in changes if documented(c) is None]
    assert undocumented == [], [(c["step"], c["path"]) for c in undocumented]  # ... and only what the README lists
    rows = {documented(c) for c in changes}
    assert "cache expiry as ISO 8601 (P10D for 10d); enable_cache honoured on every step" in rows
    assert "projectName from framework/conf/conf.yaml names the model package group" in rows


def test_documented_rows_are_in_the_readme():
    readme = (HERE.parent / "README.md").read_text()
    section = readme.split("## Differences from the original framework", 1)[1]
    for row in DOCUMENTED:
        assert row in section, row


def test_plan_base_definition_refuses_a_missing_file_and_other_bases(rendered, tmp_path):
    repo = rendered["dialogue"]
    missing = smpipe("plan", "-C", str(repo), "--base-definition", str(tmp_path / "nope.json"), env=env("dialogue"))
    assert missing.returncode == 1 and "--base-definition" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "list.json").write_text("[1, 2]")
    wrong = smpipe("plan", "-C", str(repo), "--base-definition", str(tmp_path / "list.json"), env=env("dialogue"))
    assert wrong.returncode == 1 and "not a pipeline definition" in wrong.stderr
    both = smpipe("plan", "-C", str(repo), "--base-definition", str(tmp_path / "list.json"), "--deployed",
                  env=env("dialogue"))
    assert both.returncode == 1 and "exclude each other" in both.stderr


def test_plan_against_its_own_definition_is_empty(rendered):
    repo = rendered["housing"]
    result = smpipe("plan", "-C", str(repo), "--base-definition", str(repo / "pipeline" / "definition.json"),
                    env=env("housing"))
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- short names opt in


def housing_with_input_names(tmp_path, value: str):
    """The multi-model fixture with ``sagemakerPipeline.input_names: <value>`` in its anchor file."""
    repo = tmp_path / "housing"
    shutil.copytree(FIXTURES / "housing", repo)
    anchor = repo / "examples/multi-model/housing_reg/conf/conf-multi-model.yaml"
    anchor.write_text(anchor.read_text().replace("pipelineName: housing-multi-model",
                                                 f"pipelineName: housing-multi-model\n        input_names: {value}"))
    return repo


def test_short_input_names_are_an_explicit_opt_in(tmp_path):
    repo = housing_with_input_names(tmp_path, "short")
    result = smpipe_in_process("render", "-C", str(repo), env=env("housing"))
    assert result.returncode == 0, result.stderr
    steps = definition(repo)
    assert inputs(steps["housing-reg-Preprocessing"])["model"] == "/opt/ml/processing/input/model"
    assert [c["ChannelName"] for c in steps["housing-reg-Training"]["Arguments"]["InputDataConfig"]] == \
        ["train", "test"]


def test_unknown_input_names_value_is_refused(tmp_path):
    repo = housing_with_input_names(tmp_path, "long")
    result = smpipe("validate", "-C", str(repo), env=env("housing"))
    assert result.returncode == 1
    assert "input_names" in result.stderr and "conf-multi-model.yaml" in result.stderr


# ---------------------------------------------------------------- the original's template env.env


def test_template_env_file_with_placeholders_is_refused(tmp_path):
    repo = tmp_path / "dialogue"
    shutil.copytree(FIXTURES / "dialogue", repo)
    write(repo / "env.env", """
        export SMP_SUBNETS="subnet-xxxxxxxx,subnet-xxxxxxxx"
        export SMP_ROLE="arn:aws:iam::xxxxxxxxxxxx:role/xxxxx"
        export SMP_SECURITYGROUPS="sg-xxxxxxxx"
        export SMP_S3BUCKETNAME="your-bucket"
        export SMP_MODEL_CONFIGPATH="examples/dialogue/conf/conf.yaml"
        export SMP_ACCOUNTID=\u201dxxxxxxxxxxxx\u201d
        export SMP_REGION="your-aws-region"
    """)
    result = smpipe("validate", "-C", str(repo), env=offline_env())
    assert result.returncode == 1
    assert "SMP_ACCOUNTID" in result.stderr and "env.env" in result.stderr
