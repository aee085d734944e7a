"""The step type registry (smpipe_gen/steps/): one answer per fact, checked against AWS's lists
and against the parts that act on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smpipe_gen import steps
from smpipe_gen.definition import from_json
from smpipe_gen.errors import SmpipeError, StepsRefused
from smpipe_gen.steps import REGISTRY, resolve, step_type

SCHEMA = Path("/work/shared/schemas/pipeline-definition.schema.json")

# "Default cache key attributes by pipeline step type" (SageMaker developer guide, pipelines-default-keys):
# the step types SageMaker's step cache applies to.
AWS_CACHED = ["AutoML", "ClarifyCheck", "EMR", "Processing", "QualityCheck", "Training", "Transform", "Tuning"]
# The step types the AWS definition schema names (its EndpointConfig step also says Type "Endpoint").
SCHEMA_TYPES = {"AutoML", "Callback", "ClarifyCheck", "Condition", "EMR", "Endpoint", "Fail", "Lambda", "Model",
                "Processing", "QualityCheck", "RegisterModel", "Training", "Transform", "Tuning"}


def test_cached_types_are_the_ones_aws_caches():
    assert steps.cacheable() == AWS_CACHED


def test_every_type_of_the_aws_schema_is_known():
    if SCHEMA.is_file():  # the shared copy of AWS's schema, when present, must say the same
        found = {value for value in _type_enums(json.loads(SCHEMA.read_text()))}
        assert found == SCHEMA_TYPES
    assert set(REGISTRY) == SCHEMA_TYPES


def _type_enums(value):
    if isinstance(value, dict):
        kind = value.get("properties", {}).get("Type", {})
        if isinstance(kind, dict) and "Arguments" in value.get("properties", {}):
            yield from kind.get("enum", [])
        for item in value.values():
            yield from _type_enums(item)
    elif isinstance(value, list):
        for item in value:
            yield from _type_enums(item)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_named_function_resolves(name):
    """A "module:function" fact that names nothing would fail only when a step of the type runs."""
    kind = REGISTRY[name]
    assert kind.name == name
    for reference in (kind.runner, kind.precheck, kind.local_cache_inputs):
        if reference:
            assert callable(resolve(reference))
    assert kind.runner or kind.refusal
    assert len(kind.mermaid) == 2 and kind.dot


@pytest.mark.parametrize("name, arguments, expected", [
    ("Processing", {"ProcessingInputs": [{"InputName": "data", "S3Input": {"S3Uri": "s3://b/in"}},
                                         {"InputName": "x", "DatasetDefinition": {}}]}, ["s3://b/in"]),
    ("Training", {"InputDataConfig": [{"DataSource": {"S3DataSource": {"S3Uri": "s3://b/train"}}}]}, ["s3://b/train"]),
    ("Tuning", {"TrainingJobDefinition": {"InputDataConfig": [{"DataSource": {"S3DataSource": {"S3Uri": "s3://b/t"}}}]}},
     ["s3://b/t"]),
    ("Transform", {"TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": "s3://b/batch"}}}}, ["s3://b/batch"]),
    ("Model", {"PrimaryContainer": {}}, []),
    ("Training", {"InputDataConfig": "not a list"}, []),
])
def test_input_uris(name, arguments, expected):
    assert step_type(name).input_uris(arguments) == expected


@pytest.mark.parametrize("name, arguments, expected", [
    ("Processing", {"ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/run.py"}},
                                         {"InputName": "data", "S3Input": {"S3Uri": "s3://b/data"}}]},
     ["s3://b/code/run.py"]),
    ("Training", {"HyperParameters": {"sagemaker_submit_directory": '"s3://b/src.tar.gz"'}}, ["s3://b/src.tar.gz"]),
    ("Model", {"PrimaryContainer": {"Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/m.tar.gz"}}},
     ["s3://b/m.tar.gz"]),
    ("Training", {"ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/code"}}]}, []),
])
def test_code_uris(name, arguments, expected):
    assert step_type(name).code_uris(arguments) == expected


def test_tuning_runs_training_jobs_of_its_definition():
    tuning = step_type("Tuning")
    arguments = {"TrainingJobDefinition": {"StaticHyperParameters": {"a": "1"}, "ResourceConfig": {}}}
    assert tuning.job == "Training" and tuning.resources == step_type("Training").resources
    assert tuning.job_arguments(arguments) == {"HyperParameters": {"a": "1"}, "ResourceConfig": {}}
    assert step_type("Training").job_arguments({"x": 1}) == {"x": 1}


def test_an_unknown_type_is_known_by_nothing():
    kind = step_type("Teleport")
    assert (kind.name, kind.cacheable, kind.job, kind.runner, kind.mermaid) == ("Teleport", False, None, None, ("[", "]"))


def test_a_local_run_refuses_every_step_it_cannot_run_before_it_starts():
    from smpipe_gen.local.scheduler import build_graph

    definition = from_json({"Steps": [{"Name": "L", "Type": "Lambda", "Arguments": {}, "FunctionArn": "f"},
                                      {"Name": "E", "Type": "EMR", "Arguments": {}},
                                      {"Name": "F", "Type": "Fail", "Arguments": {}}]})
    with pytest.raises(StepsRefused) as error:
        build_graph(definition)
    lines = error.value.lines()
    assert [line.split(":")[0] for line in lines] == ["step L", "step E"]
    assert "Lambda function 'f' is not known" in lines[0] and "Amazon EMR cluster" in lines[1]


def test_a_single_refusal_is_one_plain_error():
    from smpipe_gen.local.scheduler import build_graph

    with pytest.raises(SmpipeError) as error:
        build_graph(from_json({"Steps": [{"Name": "A", "Type": "Teleport", "Arguments": {}}]}))
    assert not isinstance(error.value, StepsRefused)
    assert error.value.one_line().startswith("step A: step type 'Teleport' has no local version: not a SageMaker")


def test_config_classes_render_to_registered_types_with_builders_that_exist():
    from smpipe_gen.config.model import StepClass
    from smpipe_gen.steps.config_classes import CONFIG_CLASSES

    assert [member.value for member in StepClass] == list(CONFIG_CLASSES)
    for facts in CONFIG_CLASSES.values():
        assert all(name in REGISTRY for name in facts.definition_types), facts.name
        assert callable(resolve(facts.builder)), facts.name
        assert not (facts.needs_model and not facts.uses_model), facts.name


@pytest.mark.parametrize("name, cacheable", [
    ("Processing", True), ("Metrics", True), ("Training", True), ("Tuning", True), ("Transform", True),
    ("CreateModel", False), ("RegisterModel", False), ("Condition", False), ("Fail", False),
])
def test_a_config_class_takes_a_cache_config_when_sagemaker_caches_what_it_renders(name, cacheable):
    from smpipe_gen.steps.config_classes import config_class

    assert config_class(name).cacheable is cacheable
