"""Failures SageMaker would report only after merge, caught by validate: the pure checks of
config/cloud_checks.py as tables, then validate itself (in process, and once as a real subprocess)
for where each finding is reported: one line naming the file:line and key, with the fix."""

from __future__ import annotations


import pytest

from helpers import make_repo, smpipe, smpipe_in_process
from smpipe_gen.config.cloud_checks import (aws_image_problem, foreign_registry, image_problem, instance_problem,
                                            module_problem, program_problem)

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/smpipe-train:1.0"  # the test repos run in eu-west-1


@pytest.mark.parametrize("image, message, hint", [
    (ECR, None, None),
    (ECR.replace(":1.0", "@sha256:" + "a" * 64), None, None),
    ("python:3.11", None, None),  # not ECR: a warning of foreign_registry, not an error
    ("refer-transform/docker-to-built-inference-image", "is a placeholder, not an image URI", "put the ECR URI"),
    ("xxxxxxxxxxxx.dkr.ecr.eu-west-1.amazonaws.com/train:1", "not a 12-digit AWS account id",
     "put the account that owns"),
    ("\u201c123456789012.dkr.ecr.eu-west-1.amazonaws.com/train:1\u201d", "non-ASCII characters (typographic quotes?)",
     "straight quotes"),
    (" " + ECR, "holds spaces", "write the URI plainly"),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1", "is in us-east-1, the pipeline runs in eu-west-1",
     "use the eu-west-1 repository"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/Train:1", "invalid repository name 'Train'", "lowercase"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/train:-1", "invalid tag '-1'", "up to 128"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/train:1@sha256:zz", "has an invalid digest", "64 hex digits"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaw", "starts like an ECR image URI but is not one", "write the whole URI"),
])
def test_image_problems_name_what_is_wrong_and_the_fix(image, message, hint):
    problem = image_problem(image, "eu-west-1")
    if message is None:
        assert problem is None
    else:
        assert message in problem[0] and hint in problem[1], problem


@pytest.mark.parametrize("image, warned", [
    ("python:3.11", True),
    ("ghcr.io/acme/train:1", True),
    (ECR, False),
    ("refer-transform/docker-to-built-inference-image", False),  # an error of image_problem, not twice
])
def test_only_a_well_formed_image_outside_ecr_is_a_registry_warning(image, warned):
    problem = foreign_registry(image)
    assert (problem is not None) == warned
    if warned:
        assert problem == (f"image {image!r} is not in Amazon ECR; SageMaker jobs pull from ECR",
                           "push it to ECR and use <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>")


@pytest.mark.parametrize("instance_type, job, message, hint", [
    ("ml.m5.xlarge", "processing", None, None),
    ("ml.t2.medium", "endpoint", None, None),
    ({"Get": "Parameters.TrainInstance"}, "training", None, None),  # left to run time
    ("ml.m5.xlarg", "processing", "'ml.m5.xlarg' does not exist for processing jobs", "did you mean ml.m5.xlarge?"),
    ("ml.t2.medium", "training", "'ml.t2.medium' does not exist for training jobs", "it exists for endpoint only"),
    ("ml.t3.medium", "transform", "'ml.t3.medium' does not exist for transform jobs", ""),
    ("ml.m5.huge", "endpoint", "'ml.m5.huge' does not exist for endpoint jobs", ""),
    ("gpu-large", "training", "'gpu-large' does not exist for training jobs", "see the SageMaker instance types"),
])
def test_instance_types_must_exist_for_the_job_type(instance_type, job, message, hint):
    problem = instance_problem(instance_type, job)
    if message is None:
        assert problem is None
    else:
        assert problem[0] == f"instance type {message}" and hint in problem[1], problem


@pytest.mark.parametrize("entry_point, why", [
    ("inference.py", None),
    ("serve/handler.py", None),
    ("serve.handler", None),
    ("v1.2/inference.py", "'v1.2/inference' mixes directories and dots"),
    ("model.v2-final.py", "'model.v2-final' has a dot that is not a package separator"),
    ("/opt/inference.py", "it is not a relative path inside the code directory"),
    ("../inference.py", "it is not a relative path inside the code directory"),
])
def test_entry_points_the_container_imports_must_be_module_names(entry_point, why):
    assert module_problem(entry_point) == why


@pytest.mark.parametrize("program, fix", [
    ("inference", None),
    ("inference.py", None),
    ("serve.handler", None),
    ("serve/handler.py", "set it to the module name 'serve.handler'"),
    ("/serve/handler", "set it to the module name 'serve.handler'"),
])
def test_a_path_shaped_sagemaker_program_is_refused_with_the_module_name(program, fix):
    problem = program_problem(program)
    assert (problem and problem[1]) == fix
    if fix:
        assert problem[0].startswith(f"SAGEMAKER_PROGRAM {program!r} is a path; the inference toolkit imports it")


@pytest.mark.parametrize("uri, region, verdict", [
    ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", "us-east-1", None),
    ("141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", "eu-west-1", None),
    ("683313688378.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", "eu-west-1",
     "use 141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1.0-gpu-py310", "us-east-1", None),
    ("683313688378.dkr.ecr.eu-west-1.amazonaws.com/my-own-model:1", "eu-west-1", None),  # not an AWS repository
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1", "eu-west-1", None),  # a mirror
    ("683313688378.dkr.ecr.xx-east-9.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", "xx-east-9",
     "pick an image published in the pipeline's region"),
])
def test_aws_image_accounts_come_from_the_sdk_tables(uri, region, verdict):
    problem = aws_image_problem(uri, region)
    assert (problem if verdict is None else problem[1].split(" (")[0]) == verdict


# -- validate: where each finding is reported ------------------------------------------------------
CONF = """
conf:
  models:
    m:
      source_directory: scripts
      preprocess:
        image_uri: {pre_image}
        entry_point: preprocess.py
        instance_type: {pre_instance}
      train:
        image_uri: {train_image}
        entry_point: train.py
        instance_type: {train_instance}
      transform:
        image_uri: {transform_image}
        entry_point: {inference}
        instance_type: {transform_instance}
        env:
          SAGEMAKER_PROGRAM: {program}
      registry:
        ModelPackageGroupName: g
        InferenceSpecification:
          image_uri: {ECR}
          SupportedRealtimeInferenceInstanceType: [{endpoint_instance}]
  sagemakerPipeline:
    pipelineName: p
    models:
      m:
        steps:
          - step_name: m-Pre
            step_class: Processing
            step_type: preprocess
          - step_name: m-Train
            step_class: Training
            chain_input_source_step: [m-Pre]
"""
GOOD = dict(pre_image=ECR, train_image=ECR, pre_instance="ml.m5.xlarge", train_instance="ml.m5.xlarge",
            transform_instance="ml.m5.xlarge", endpoint_instance="ml.t2.medium", inference="inference.py",
            program="inference", ECR=ECR, transform_image=ECR)


def test_the_good_config_validates_without_a_warning(tmp_path):
    """The one real `validate` process of this file: the checks run in the command a user runs."""
    make_repo(tmp_path, CONF.format(**GOOD))
    done = smpipe("validate", "-C", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr and "ok: pipeline" in done.stdout


def test_every_finding_is_one_line_naming_the_file_line_and_key(tmp_path):
    make_repo(tmp_path, CONF.format(**{
        **GOOD, "train_image": "'123456789012.dkr.ecr.eu-west-1.amazonaws.com/Train:1'", "pre_instance": "ml.m5.xlarg",
        "endpoint_instance": "ml.m5.huge", "program": "serve/handler.py", "inference": "v1.2/inference.py",
        "pre_image": "python:3.11", "transform_instance": "ml.t3.medium"}))
    (tmp_path / "scripts" / "v1.2").mkdir()
    (tmp_path / "scripts" / "v1.2" / "inference.py").write_text("")
    done = smpipe_in_process("validate", "-C", str(tmp_path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert sorted(line.split(" (hint: ")[0] for line in lines) == sorted([
        "error: conf/conf.yaml:8: conf.models.m.preprocess.instance_type: instance type 'ml.m5.xlarg' does not exist "
        "for processing jobs",
        "error: conf/conf.yaml:10: conf.models.m.train.image_uri: image '123456789012.dkr.ecr.eu-west-1.amazonaws.com/"
        "Train:1' has an invalid repository name 'Train'",
        "error: conf/conf.yaml:15: conf.models.m.transform.entry_point: entry point 'v1.2/inference.py' cannot be "
        "imported as a module name: 'v1.2/inference' mixes directories and dots",
        "error: conf/conf.yaml:16: conf.models.m.transform.instance_type: instance type 'ml.t3.medium' does not exist "
        "for transform jobs",
        "error: conf/conf.yaml:18: conf.models.m.transform.env.SAGEMAKER_PROGRAM: SAGEMAKER_PROGRAM 'serve/handler.py' "
        "is a path; the inference toolkit imports it as module 'serve/handler', which cannot exist, and the endpoint "
        "or transform fails",
        "error: conf/conf.yaml:23: conf.models.m.registry.InferenceSpecification.SupportedRealtimeInferenceInstanceType"
        ".0: instance type 'ml.m5.huge' does not exist for endpoint jobs",
        "warning: conf/conf.yaml:6: conf.models.m.preprocess.image_uri: image 'python:3.11' is not in Amazon ECR; "
        "SageMaker jobs pull from ECR",
    ]), done.stderr
    assert all("(hint: " in line for line in lines)


def test_a_placeholder_nothing_pulls_is_a_warning(tmp_path):
    """The transform job serves the model, whose image is the registry's: the original's lgbm
    example leaves a placeholder in transform.image_uri, and its repository must load."""
    make_repo(tmp_path, CONF.format(**{**GOOD, "transform_image": "refer-transform/docker-to-built-inference-image"}))
    done = smpipe_in_process("validate", "-C", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert ("warning: conf/conf.yaml:14: conf.models.m.transform.image_uri: image "
            "'refer-transform/docker-to-built-inference-image' is a placeholder, not an image URI; it is not used: "
            "the model's image is registry.InferenceSpecification.image_uri") in done.stderr


XGBOOST_OF_US_EAST_1 = "683313688378.dkr.ecr.SMP_REGION.amazonaws.com/sagemaker-xgboost:1.7-1"


def test_an_aws_image_of_another_regions_account_fails_only_in_that_environment(tmp_path):
    """The abalone example's images with SMP_REGION but us-east-1's account: dev (us-east-1)
    validates, prod (eu-west-1) is refused with the URI the SDK's own table gives there."""
    make_repo(tmp_path, CONF.format(**{**GOOD, "train_image": XGBOOST_OF_US_EAST_1}))
    env = (tmp_path / "env.env").read_text()
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments/dev.env").write_text(env.replace("eu-west-1", "us-east-1"))
    (tmp_path / "environments/prod.env").write_text(env)
    (tmp_path / "env.env").write_text('export SMP_MODEL_CONFIGPATH="conf/conf.yaml"\n')
    conf = tmp_path / "conf/conf.yaml"  # the team's own images: in each environment's region
    conf.write_text(conf.read_text().replace("123456789012.dkr.ecr.eu-west-1", "123456789012.dkr.ecr.SMP_REGION"))
    done = smpipe_in_process("validate", "-C", str(tmp_path))
    assert done.returncode == 1
    assert "dev: ok" in done.stdout, done.stdout + done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert error.startswith("error: conf/conf.yaml:10: conf.models.m.train.image_uri: image "
                            "'683313688378.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1' uses account "
                            "683313688378, AWS's sagemaker-xgboost account in us-east-1; in eu-west-1 (environment "
                            "prod) AWS publishes it under account 141502667606"), error
    assert "use 141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1" in error
