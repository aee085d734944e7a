"""The expression language on its own: every condition type, Join, JsonGet, Get paths, and
parameter type checking."""

import json

import pytest

from smpipe_gen.errors import SmpipeError
from smpipe_gen.local.expressions import Resolver
from smpipe_gen.parameters import parameter_values

DEFINITION = {"Parameters": [
    {"Name": "Threshold", "Type": "Float", "DefaultValue": 6.0},
    {"Name": "Count", "Type": "Integer", "DefaultValue": 2},
    {"Name": "Flag", "Type": "Boolean", "DefaultValue": False},
    {"Name": "Mode", "Type": "String", "DefaultValue": "a", "EnumValues": ["a", "b"]},
]}
PROPS = {"Pre": {"ProcessingOutputConfig": {"Outputs": [
    {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
    {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}}]},
    "FinalMetricDataList": [{"MetricName": "mse", "Value": 1.5}], "TrainingJobSummaries": [{"TrainingJobName": "j1"}]}}


@pytest.fixture()
def resolver(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"metrics": {"mse": {"value": 4.5}}, "items": [10, 20]}))
    params = parameter_values(DEFINITION, {"Count": "3", "Flag": "true"})
    return Resolver(params, {"PipelineExecutionId": "abc"}, lambda name: PROPS[name],
                    lambda step, name: report, lambda uri: report)


def test_parameters_are_type_checked():
    assert parameter_values(DEFINITION, {"Count": "3", "Flag": "TRUE", "Threshold": "1e-3", "Mode": "b"}) == {
        "Threshold": 0.001, "Count": 3, "Flag": True, "Mode": "b"}
    for name, value, kind in [("Count", "2.5", "Integer"), ("Flag", "yes", "Boolean"), ("Threshold", "x", "Float")]:
        with pytest.raises(SmpipeError) as error:
            parameter_values(DEFINITION, {name: value})
        assert error.value.one_line() == f"--param {name}: {value!r} is not a valid {kind} (hint: parameter {name} has Type {kind})"
    with pytest.raises(SmpipeError, match="is not one of"):
        parameter_values(DEFINITION, {"Mode": "c"})


def test_join_get_and_json_get(resolver):
    value = {"Std:Join": {"On": "/", "Values": [
        {"Get": "Steps.Pre.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"},
        {"Get": "Execution.PipelineExecutionId"}, {"Get": "Parameters.Count"}, {"Get": "Parameters.Flag"}]}}
    assert resolver.resolve(value, "t") == "s3://b/test/abc/3/true"
    assert resolver.resolve({"Get": "Steps.Pre.FinalMetricDataList['mse'].Value"}, "t") == 1.5
    assert resolver.resolve({"Get": "Steps.Pre.TrainingJobSummaries[0].TrainingJobName"}, "t") == "j1"
    assert resolver.resolve({"Std:JsonGet": {"Path": "metrics.mse.value",
                                             "PropertyFile": {"Get": "Steps.Pre.PropertyFiles.Report"}}}, "t") == 4.5
    assert resolver.resolve({"Std:JsonGet": {"Path": "items[1]", "S3Uri": "s3://b/report.json"}}, "t") == 20
    with pytest.raises(SmpipeError, match="property 'Nope.X' does not exist"):
        resolver.resolve({"Get": "Steps.Pre.Nope.X"}, "t")


@pytest.mark.parametrize("condition, expected", [
    ({"Type": "Equals", "LeftValue": {"Get": "Parameters.Count"}, "RightValue": 3}, True),
    ({"Type": "GreaterThan", "LeftValue": 4.5, "RightValue": {"Get": "Parameters.Threshold"}}, False),
    ({"Type": "GreaterThanOrEqualTo", "LeftValue": "6.0", "RightValue": 6}, True),
    ({"Type": "LessThan", "LeftValue": 1, "RightValue": 2}, True),
    ({"Type": "LessThanOrEqualTo", "LeftValue": {"Std:JsonGet": {"Path": "metrics.mse.value", "PropertyFile": "R"}},
      "RightValue": {"Get": "Parameters.Threshold"}}, True),
    ({"Type": "In", "QueryValue": {"Get": "Parameters.Mode"}, "Values": ["x", "a"]}, True),
    ({"Type": "Not", "Expression": {"Type": "Equals", "LeftValue": 1, "RightValue": 1}}, False),
    ({"Type": "Or", "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 2},
                                   {"Type": "Equals", "LeftValue": "a", "RightValue": "a"}]}, True),
])
def test_condition_types(resolver, condition, expected):
    assert resolver.condition(condition, "step C") is expected
