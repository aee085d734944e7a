"""Render and check with the real SageMaker SDK, offline, byte-stable."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from helpers import EXAMPLES, copy_example, make_repo, offline_env, smpipe, smpipe_in_process, without_versions, write
from smpipe_gen.definition import from_json
from smpipe_gen.render.engine import render_project


def steps_by_name(definition: dict) -> dict[str, dict]:
    """Every step by name as JSON, condition branches included."""
    return {step.name: step.json() for step in from_json(definition)}


@pytest.fixture(scope="module")
def abalone():
    return render_project(EXAMPLES / "abalone")


@pytest.mark.parametrize("example", ["abalone", "two-models"])
def test_committed_examples_are_current(example):
    rendered = render_project(EXAMPLES / example)
    for name, text in rendered.files().items():
        committed = (EXAMPLES / example / "pipeline" / name).read_text(encoding="utf-8")
        assert without_versions(committed) == without_versions(text), name


def test_abalone_definition_carries_the_dag(abalone):
    definition = json.loads(abalone.definition_json)
    steps = steps_by_name(definition)
    assert {name: s["Type"] for name, s in steps.items()} == {
        "abalone-Preprocess": "Processing", "abalone-Train": "Training", "abalone-Evaluate": "Processing",
        "abalone-CheckMse": "Condition", "abalone-CreateModel-CreateModel": "Model",
        "abalone-Transform": "Transform", "abalone-Register-RegisterModel": "RegisterModel",
        "abalone-MseTooHigh": "Fail"}
    assert definition["Parameters"] == [{"Name": "MseThreshold", "Type": "Float", "DefaultValue": 6.0}]
    train_inputs = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                    for c in steps["abalone-Train"]["Arguments"]["InputDataConfig"]}
    assert train_inputs["abalone-Preprocess-train"] == {
        "Get": "Steps.abalone-Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}
    evaluate_inputs = {i["InputName"]: i["S3Input"]["S3Uri"]
                       for i in steps["abalone-Evaluate"]["Arguments"]["ProcessingInputs"]}
    assert evaluate_inputs["abalone-Train-input"] == {"Get": "Steps.abalone-Train.ModelArtifacts.S3ModelArtifacts"}
    assert steps["abalone-Evaluate"]["PropertyFiles"] == [
        {"FilePath": "model_evaluation_metrics.json", "OutputName": "model_evaluation_metrics",
         "PropertyFileName": "EvaluationReport"}]
    (condition,) = steps["abalone-CheckMse"]["Arguments"]["Conditions"]
    assert condition["Type"] == "LessThanOrEqualTo"
    assert condition["LeftValue"] == {"Std:JsonGet": {
        "Path": "regression_metrics.mse.value",
        "PropertyFile": {"Get": "Steps.abalone-Evaluate.PropertyFiles.EvaluationReport"}}}
    assert condition["RightValue"] == {"Get": "Parameters.MseThreshold"}
    assert [s["Name"] for s in steps["abalone-CheckMse"]["Arguments"]["ElseSteps"]] == ["abalone-MseTooHigh"]
    transform = steps["abalone-Transform"]["Arguments"]
    assert transform["ModelName"] == {"Get": "Steps.abalone-CreateModel-CreateModel.ModelName"}
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == {"Std:Join": {"On": "/", "Values": [
        {"Get": "Steps.abalone-Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"}, "x_test.csv"]}}
    register = steps["abalone-Register-RegisterModel"]["Arguments"]
    assert register["ModelPackageGroupName"] == "abalone"
    assert register["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"][0] == {
        "Get": "Steps.abalone-Evaluate.ProcessingOutputConfig.Outputs['model_evaluation_metrics'].S3Output.S3Uri"}
    assert steps["abalone-Preprocess"]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P10D"}


def test_manifest_lists_every_code_object_the_definition_uses(abalone):
    manifest = json.loads(abalone.manifest_json)
    uris = {a["s3_uri"] for a in manifest["artifacts"]}
    text = abalone.definition_json
    assert uris and all(uri in text for uri in uris)
    bundles = sorted(sorted(f["path"] for f in a["files"]) for a in manifest["artifacts"] if a["kind"] == "sourcedir")
    # each step's entry point with what it reaches (render/bundles.py), requirements.txt with every
    # one: the containers install it (and SAGEMAKER_REQUIREMENTS names it for the inference container)
    assert bundles == [[f"scripts/{script}.py", "scripts/requirements.txt"] for script in ("evaluate", "inference")] \
        + [["scripts/preprocess.py", "scripts/requirements.txt"], ["scripts/requirements.txt", "scripts/train.py"]]
    assert manifest["local_data"] == {
        "s3://smpipe-examples-123456789012/abalone/raw/abalone.csv": "data/abalone.csv"}
    assert manifest["pipeline"]["role_arn"].endswith(":role/SageMakerPipelineExecution")


def test_two_models_chain_a_trained_artifact_and_order_registrations():
    definition = json.loads(render_project(EXAMPLES / "two-models").definition_json)
    steps = steps_by_name(definition)
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"]
              for i in steps["housing-Preprocess"]["Arguments"]["ProcessingInputs"]}
    assert inputs["pca-Train-input-train"] == {"Get": "Steps.pca-Train.ModelArtifacts.S3ModelArtifacts"}
    assert steps["housing-Register-RegisterModel"]["DependsOn"] == ["pca-Register-RegisterModel"]


def test_render_is_offline_and_identical_across_checkouts_and_hash_seeds(tmp_path):
    renders = []
    for index, seed in enumerate(("0", "12345")):
        repo = copy_example("abalone", tmp_path / f"checkout{index}")
        shutil.rmtree(repo / "pipeline")
        (repo / "scripts" / "__pycache__").mkdir()
        (repo / "scripts" / "__pycache__" / "junk.pyc").write_bytes(os.urandom(16))
        result = smpipe("render", "-C", str(repo), env=offline_env(PYTHONHASHSEED=seed))
        assert result.returncode == 0, result.stderr
        renders.append({p.name: p.read_bytes() for p in (repo / "pipeline").iterdir()})
    assert renders[0] == renders[1]
    assert renders[0]["definition.json"] == (EXAMPLES / "abalone" / "pipeline" / "definition.json").read_bytes()


def test_awkward_strings_come_out_as_exact_literals(tmp_path):
    awkward = 'quote " and \' back\\slash {braces} {{jinja}} ünïcødé 🚀 tab\tend'
    make_repo(tmp_path, f"""
        conf:
          models:
            m:
              source_directory: scripts
              train:
                image_uri: img
                entry_point: train.py
                env:
                  AWKWARD: {json.dumps(awkward, ensure_ascii=False)}
                  MULTILINE: "line one\\nline two"
          sagemakerPipeline:
            pipelineName: p
            description: {json.dumps(awkward, ensure_ascii=False)}
            models:
              m:
                steps:
                  - step_name: m-Train
                    step_class: Training
        """)
    rendered = render_project(tmp_path)
    compile(rendered.pipeline_py, "pipeline.py", "exec")
    env = steps_by_name(json.loads(rendered.definition_json))["m-Train"]["Arguments"]["Environment"]
    assert env == {"AWKWARD": awkward, "MULTILINE": "line one\nline two"}
    assert json.loads(rendered.manifest_json)["pipeline"]["description"] == awkward


def test_vpc_kms_tags_tuning_and_retry_reach_the_definition(tmp_path):
    make_repo(tmp_path, """
        conf:
          models:
            m:
              source_directory: scripts
              train:
                image_uri: img
                entry_point: train.py
                instance_type: {Parameter: TrainInstance}
                hyperparameters: {objective: "reg:squarederror", num_round: 10}
                tags: {cost-center: "42"}
              tune:
                objective_metric_name: validation:rmse
                hyperparameter_ranges:
                  eta: {type: Continuous, min_value: 0.1, max_value: 0.5}
                  max_depth: {type: Integer, min_value: 2, max_value: 6}
                metric_definitions: [{Name: "validation:rmse", Regex: "rmse:([0-9.]+)"}]
                max_jobs: 3
                max_parallel_jobs: 2
          sagemakerPipeline:
            pipelineName: p
            parameters:
              - {name: TrainInstance, type: String, default: ml.m5.large}
            models:
              m:
                steps:
                  - step_name: m-Tune
                    step_class: Tuning
                    enable_cache: true
                    retry_policies:
                      - {exception_types: [Step.THROTTLING], max_attempts: 5}
        """)
    network = {"SMP_SUBNETS": "subnet-1", "SMP_SECURITYGROUPS": "sg-1",
               "SMP_KMSKEY": "arn:aws:kms:eu-west-1:123456789012:key/k"}
    rendered = render_project(tmp_path, overrides=network)
    step = steps_by_name(json.loads(rendered.definition_json))["m-Tune"]
    assert step["Type"] == "Tuning"
    job = step["Arguments"]["TrainingJobDefinition"]
    assert job["VpcConfig"] == {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}
    assert job["OutputDataConfig"]["KmsKeyId"].endswith(":key/k")
    assert job["HyperParameterTuningResourceConfig"]["InstanceType"] == {"Get": "Parameters.TrainInstance"}
    assert json.loads(job["StaticHyperParameters"]["num_round"]) == "10"
    assert "sagemaker_job_name" not in job["StaticHyperParameters"] or \
        job["StaticHyperParameters"]["sagemaker_job_name"] == '"m-Tune"'
    assert rendered == render_project(tmp_path, overrides=network)  # no timestamps from the tuner
    ranges = step["Arguments"]["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert [r["Name"] for r in ranges["ContinuousParameterRanges"]] == ["eta"]
    assert step["RetryPolicies"][0]["ExceptionType"] == ["Step.THROTTLING"]
    assert step["RetryPolicies"][0]["MaxAttempts"] == 5


def test_check_exits_0_when_current_2_with_diff_when_stale_1_on_error(tmp_path):
    repo = copy_example("abalone", tmp_path)
    assert smpipe_in_process("check", "-C", str(repo)).returncode == 0
    conf = repo / "conf" / "conf.yaml"
    conf.write_text(conf.read_text().replace("instance_type: ml.m5.xlarge", "instance_type: ml.c5.2xlarge", 1))
    stale = smpipe_in_process("check", "-C", str(repo))
    assert stale.returncode == 2
    assert "-        instance_type='ml.m5.xlarge'," in stale.stdout
    assert "+        instance_type='ml.c5.2xlarge'," in stale.stdout
    assert '"InstanceType": "ml.c5.2xlarge"' in stale.stdout
    conf.write_text("conf: [")
    broken = smpipe_in_process("check", "-C", str(repo))
    assert broken.returncode == 1 and "Traceback" not in broken.stderr


def test_failed_render_leaves_committed_files_untouched(tmp_path):
    repo = copy_example("abalone", tmp_path)
    before = {p.name: p.read_bytes() for p in (repo / "pipeline").iterdir()}
    write(repo / "conf" / "conf.yaml", "conf:\n  models: {}\n")
    result = smpipe_in_process("render", "-C", str(repo))
    assert result.returncode == 1 and "no model file defines conf.sagemakerPipeline" in result.stderr
    assert {p.name: p.read_bytes() for p in (repo / "pipeline").iterdir()} == before


def test_render_keeps_files_that_differ_only_in_the_versions_that_wrote_them(tmp_path):
    repo = copy_example("abalone", tmp_path)
    pipeline_py = repo / "pipeline" / "pipeline.py"
    other_build = re.sub(r"smpipe-gen \S+ from", "smpipe-gen 9.9.9.dev1+gabc from", pipeline_py.read_text(), count=1)
    pipeline_py.write_text(other_build)  # a teammate's tool build rendered the same pipeline
    assert smpipe_in_process("render", cwd=repo).returncode == 0
    assert pipeline_py.read_text() == other_build  # no diff for the pull request
    conf = repo / "conf" / "conf.yaml"
    conf.write_text(conf.read_text().replace("instance_type: ml.m5.xlarge", "instance_type: ml.c5.2xlarge", 1))
    assert smpipe_in_process("render", cwd=repo).returncode == 0
    rewritten = pipeline_py.read_text()
    assert "ml.c5.2xlarge" in rewritten and "9.9.9.dev1" not in rewritten


def test_usage_errors_exit_1_with_clicks_message():
    result = smpipe("render", "--bogus")
    assert result.returncode == 1 and "No such option '--bogus'" in result.stderr
    assert "Traceback" not in result.stderr


def test_vpc_and_kms_reach_every_job_of_the_abalone_pipeline():
    key = "arn:aws:kms:us-east-1:123456789012:key/abc"
    rendered = render_project(EXAMPLES / "abalone", overrides={
        "SMP_SUBNETS": "subnet-1,subnet-2", "SMP_SECURITYGROUPS": "sg-1", "SMP_KMSKEY": key})
    steps = steps_by_name(json.loads(rendered.definition_json))
    vpc = {"Subnets": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]}
    for name in ("abalone-Preprocess", "abalone-Evaluate"):
        arguments = steps[name]["Arguments"]
        assert arguments["NetworkConfig"]["VpcConfig"] == vpc
        assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
        assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == key
    training = steps["abalone-Train"]["Arguments"]
    assert training["VpcConfig"] == vpc and training["ResourceConfig"]["VolumeKmsKeyId"] == key
    assert training["OutputDataConfig"]["KmsKeyId"] == key
    assert steps["abalone-CreateModel-CreateModel"]["Arguments"]["VpcConfig"] == vpc
    assert steps["abalone-Transform"]["Arguments"]["TransformOutput"]["KmsKeyId"] == key
    assert steps["abalone-Preprocess"]["Arguments"]["RoleArn"].endswith(":role/SageMakerPipelineExecution")
    # Every upload is encrypted with the key: apply's (the manifest carries it) and the SDK's own
    # when pipeline.py is run by hand (processor code, estimator code via output_kms_key, inference code).
    assert json.loads(rendered.manifest_json)["pipeline"]["kms_key"] == key
    assert rendered.pipeline_py.count("kms_key=KMS_KEY") >= 2, rendered.pipeline_py
