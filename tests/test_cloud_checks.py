"""Failures SageMaker would report only after merge, caught by validate (the real CLI): one line
each, naming the file:line and key, with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import make_repo, smpipe

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
