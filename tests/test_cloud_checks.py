"""Failures SageMaker would report only after merge, caught by validate (the real CLI): one line
each, naming the file:line and key, with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import make_repo, smpipe, smpipe_in_process

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/smpipe-train:1.0"  # the test repos run in eu-west-1

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


def validate(tmp_path: Path, **changes: str) -> tuple[int, list[str], str]:
    make_repo(tmp_path, CONF.format(**{**GOOD, **changes}))
    done = smpipe("validate", "-C", str(tmp_path))
    errors = [line for line in done.stderr.splitlines() if not line.startswith("warning:")]
    return done.returncode, errors, done.stderr


def test_the_good_config_validates_without_a_warning(tmp_path):
    code, errors, stderr = validate(tmp_path)
    assert code == 0, stderr
    assert "warning" not in stderr


@pytest.mark.parametrize("image, message, hint", [
    ("refer-transform/docker-to-built-inference-image", "is a placeholder, not an image URI", "put the ECR URI"),
    ("xxxxxxxxxxxx.dkr.ecr.eu-west-1.amazonaws.com/train:1", "not a 12-digit AWS account id",
     "put the account that owns"),
    ("\u201c123456789012.dkr.ecr.eu-west-1.amazonaws.com/train:1\u201d", "non-ASCII characters (typographic quotes?)",
     "straight quotes"),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1", "is in us-east-1, the pipeline runs in eu-west-1",
     "use the eu-west-1 repository"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/Train:1", "invalid repository name 'Train'", "lowercase"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaw", "starts like an ECR image URI but is not one", "write the whole URI"),
])
def test_bad_images_are_errors_with_the_fix(tmp_path, image, message, hint):
    code, errors, stderr = validate(tmp_path, train_image=f"'{image}'")
    assert code == 1
    (line,) = [e for e in errors if "image" in e]
    assert line.startswith("error: conf/conf.yaml:10: conf.models.m.train.image_uri:"), line
    assert message in line and hint in line


def test_an_image_outside_ecr_is_a_warning(tmp_path):
    code, errors, stderr = validate(tmp_path, pre_image="python:3.11")
    assert code == 0, stderr
    assert "warning: conf/conf.yaml:6: conf.models.m.preprocess.image_uri: image 'python:3.11' is not in Amazon ECR" \
        in stderr


def test_a_placeholder_nothing_pulls_is_a_warning(tmp_path):
    """The transform job serves the model, whose image is the registry's: the original's lgbm
    example leaves a placeholder in transform.image_uri, and its repository must load."""
    code, errors, stderr = validate(tmp_path, transform_image="refer-transform/docker-to-built-inference-image")
    assert code == 0, stderr
    assert ("warning: conf/conf.yaml:14: conf.models.m.transform.image_uri: image "
            "'refer-transform/docker-to-built-inference-image' is a placeholder, not an image URI; it is not used: "
            "the model's image is registry.InferenceSpecification.image_uri") in stderr


@pytest.mark.parametrize("field, value, line, message", [
    ("pre_instance", "ml.m5.xlarg", "conf.models.m.preprocess.instance_type",
     "'ml.m5.xlarg' does not exist for processing jobs (hint: did you mean ml.m5.xlarge?)"),
    ("train_instance", "ml.t2.medium", "conf.models.m.train.instance_type",
     "'ml.t2.medium' does not exist for training jobs (hint: it exists for endpoint only"),
    ("transform_instance", "ml.t3.medium", "conf.models.m.transform.instance_type",
     "'ml.t3.medium' does not exist for transform jobs"),
    ("endpoint_instance", "ml.m5.huge", "conf.models.m.registry.InferenceSpecification."
     "SupportedRealtimeInferenceInstanceType.0", "'ml.m5.huge' does not exist for endpoint jobs"),
])
def test_instance_types_must_exist_for_the_job_type(tmp_path, field, value, line, message):
    code, errors, stderr = validate(tmp_path, **{field: value})
    assert code == 1
    (error,) = errors
    assert line in error and message in error, error


def test_a_path_shaped_sagemaker_program_is_refused_with_the_module_name(tmp_path):
    code, errors, _ = validate(tmp_path, program="serve/handler.py")
    assert code == 1
    (error,) = errors
    assert "conf.models.m.transform.env.SAGEMAKER_PROGRAM: SAGEMAKER_PROGRAM 'serve/handler.py' is a path" in error
    assert "set it to the module name 'serve.handler'" in error


def test_an_inference_entry_point_that_cannot_be_a_module_name_is_refused(tmp_path):
    code, errors, _ = validate(tmp_path, inference="v1.2/inference.py")
    assert code == 1
    assert any("conf.models.m.transform.entry_point: entry point 'v1.2/inference.py' cannot be imported as a "
               "module name" in e for e in errors), errors


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


@pytest.mark.parametrize("uri, region, verdict", [
    ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", "us-east-1", None),
    ("141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", "eu-west-1", None),
    ("683313688378.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", "eu-west-1",
     "use 141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1.0-gpu-py310", "us-east-1", None),
    ("683313688378.dkr.ecr.eu-west-1.amazonaws.com/my-own-model:1", "eu-west-1", None),  # not an AWS repository
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1", "eu-west-1", None),  # a mirror
])
def test_aws_image_accounts_come_from_the_sdk_tables(uri, region, verdict):
    from smpipe_gen.config.cloud_checks import aws_image_problem

    problem = aws_image_problem(uri, region)
    assert (problem if verdict is None else problem[1].split(" (")[0]) == verdict
