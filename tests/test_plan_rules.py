"""The plan's pure parts as tables: how a changed leaf is categorised, what is in SageMaker's
cache key, when a change waits for a re-run, how values are spelled and walked, and the leaf
changes between two step bodies. The plan command itself is tested end to end in test_plan.py."""

from __future__ import annotations

import pytest

from smpipe_gen.plan.changes import leaf_changes
from smpipe_gen.plan.model import MISSING, Category, Change
from smpipe_gen.plan.rules import categorize, in_cache_key, waits_for_rerun
from smpipe_gen.steps import step_type
from smpipe_gen.plan.values import decode_hyperparameter, dig, duration, flatten, rewrite, show, show_leaf

CODE = "s3://bucket/abalone/code/0123456789abcdef0123456789abcdef/sourcedir.tar.gz"


@pytest.mark.parametrize("path, before, after, category", [
    ("Arguments.ProcessingResources.ClusterConfig.VolumeKmsKeyId", "a", "b", Category.KMS),
    ("Arguments.RoleArn", "r1", "r2", Category.ROLE),
    ("Arguments.NetworkConfig.VpcConfig.Subnets[0]", "s1", "s2", Category.NETWORK),
    ("Arguments.AppSpecification.ContainerArguments[1]", CODE, CODE.replace("0123", "4567"), Category.CODE),
    ("Arguments.HyperParameters.sagemaker_program", '"train.py"', '"fit.py"', Category.CODE),
    ("Arguments.ResourceConfig.InstanceType", "ml.m5.xlarge", "ml.m5.2xlarge", Category.INSTANCE_TYPE),
    ("Arguments.ResourceConfig.InstanceCount", "1", "2", Category.RESOURCES),
    ("Arguments.ResourceConfig.VolumeSizeInGB", "30", "50", Category.RESOURCES),
    ("Arguments.AlgorithmSpecification.TrainingImage", "i1", "i2", Category.IMAGE),
    ("Arguments.HyperParameters.max_depth", "5", "6", Category.HYPERPARAMETERS),
    ("Arguments.Environment.MODE", "a", "b", Category.ENVIRONMENT),
    ("CacheConfig.ExpireAfter", "P10D", "P30D", Category.CACHE),
    ("RetryPolicies[0].MaxAttempts", "1", "3", Category.RETRY),
    ("DependsOn", "[]", '["A"]', Category.DEPENDENCIES),
    ("Gate", "a", "b", Category.GATE),
    ("Arguments.InputDataConfig[train].DataSource.S3DataSource.S3Uri", "x", "y", Category.INPUTS_OUTPUTS),
    ("Arguments.Conditions[0].RightValue", "6.0", "5.0", Category.CONDITION),
    ("Arguments.ModelApprovalStatus", "PendingManualApproval", "Approved", Category.APPROVAL),
    ("Arguments.AppSpecification.ContainerEntrypoint[0]", "python3", "python", Category.COMMAND),
    ("Description", "a", "b", Category.OTHER),
    # the first matching rule wins: a KMS key of the network configuration is a KMS change
    ("Arguments.NetworkConfig.KmsKeyId", "a", "b", Category.KMS),
])
def test_a_changed_leaf_gets_the_category_of_the_first_matching_rule(path, before, after, category):
    assert categorize(path, before, after) is category


@pytest.mark.parametrize("step_type, path, keyed", [
    ("Processing", "Arguments.ProcessingInputs[raw].S3Input.S3Uri", True),
    ("Processing", "Arguments.AppSpecification.ImageUri", True),
    ("Processing", "Arguments.ProcessingResources.ClusterConfig.InstanceType", False),
    ("Training", "Arguments.HyperParameters.max_depth", True),
    ("Training", "Arguments.ResourceConfig.InstanceType", False),
    ("Training", "Arguments.InputDataConfig[train].DataSource", True),
    ("Training", "Arguments.HyperParametersX", False),  # a prefix of a key's name is not the key
    ("Tuning", "Arguments.TrainingJobDefinition.StaticHyperParameters.eta", True),
    ("Tuning", "Arguments.TrainingJobDefinition.ResourceConfig.InstanceType", False),
    ("Transform", "Arguments.ModelName", True),
    ("Transform", "Arguments.TransformResources.InstanceType", False),
    ("RegisterModel", "Arguments.ModelApprovalStatus", False),  # never cached
    ("Training", "CacheConfig.ExpireAfter", False),  # not an argument
])
def test_the_cache_key_holds_the_documented_arguments_of_each_step_type(step_type, path, keyed):
    assert in_cache_key(step_type, path) is keyed


@pytest.mark.parametrize("step_type, category, path, waits", [
    ("Training", Category.INSTANCE_TYPE, "Arguments.ResourceConfig.InstanceType", True),
    ("Training", Category.HYPERPARAMETERS, "Arguments.HyperParameters.max_depth", False),
    ("Training", Category.RETRY, "RetryPolicies[0].MaxAttempts", True),
    ("Training", Category.CACHE, "CacheConfig.ExpireAfter", False),
    ("Training", Category.DEPENDENCIES, "DependsOn", False),
    ("Training", Category.GATE, "Gate", False),
    ("RegisterModel", Category.APPROVAL, "Arguments.ModelApprovalStatus", False),  # never cached: runs every time
    ("RegisterModel", Category.RETRY, "RetryPolicies[0].MaxAttempts", True),
])
def test_only_changes_outside_the_cache_key_wait_for_a_rerun(step_type, category, path, waits):
    assert waits_for_rerun(step_type, Change(category, path, "a", "b")) is waits


def test_a_tuning_step_runs_training_jobs_described_by_its_definition():
    arguments = {"TrainingJobDefinition": {"StaticHyperParameters": {"eta": "0.1"}, "RoleArn": "r"},
                 "HyperParameterTuningJobConfig": {}}
    tuning, training = step_type("Tuning"), step_type("Training")
    assert (tuning.job, step_type("Processing").job) == ("Training", "Processing")
    assert tuning.job_arguments(arguments) == {"HyperParameters": {"eta": "0.1"}, "RoleArn": "r"}
    assert arguments["TrainingJobDefinition"]["StaticHyperParameters"] == {"eta": "0.1"}  # not changed in place
    assert training.job_arguments(arguments) is arguments


@pytest.mark.parametrize("value, spelled", [
    ({"Get": "Parameters.MseThreshold"}, "Get(Parameters.MseThreshold)"),
    ({"Std:Join": {"On": "/", "Values": ["s3://b", {"Get": "Execution.PipelineExecutionId"}]}},
     'Join("/", ["s3://b", Get(Execution.PipelineExecutionId)])'),
    ({"Std:JsonGet": {"PropertyFile": {"Get": "Steps.E.PropertyFiles.R"}, "Path": "mse"}},
     "JsonGet(Get(Steps.E.PropertyFiles.R), mse)"),
    ([1, "a"], '[1, "a"]'),
    ({"b": 1, "a": "ü"}, '{a: "ü", b: 1}'),
    (None, "null"),
])
def test_values_are_spelled_compactly_with_expressions_by_name(value, spelled):
    assert show(value) == spelled


@pytest.mark.parametrize("path, value, spelled", [
    ("Arguments.HyperParameters.num_round", '"50"', "50"),
    ("Arguments.HyperParameters.objective", '"reg:squarederror"', "reg:squarederror"),
    ("Arguments.HyperParameters.raw", "not json", "not json"),
    ("Arguments.HyperParameters.layers", "[1, 2]", "[1, 2]"),
    ("Arguments.Environment.N", '"50"', '"\\"50\\""'),  # only hyperparameters are stored JSON-encoded
])
def test_hyperparameters_are_shown_as_written_in_the_config(path, value, spelled):
    assert show_leaf(path, value) == spelled
    assert decode_hyperparameter(7) == 7


def test_flatten_keys_named_list_items_by_name_and_keeps_expressions_whole():
    body = {"ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": "s3://c"}},
                                 {"InputName": "raw", "S3Input": {"S3Uri": {"Get": "Parameters.Raw"}}}],
            "Args": [{"x": 1}, {"x": 2}], "Empty": {}, "Scalars": [1, 2]}
    assert flatten(body) == {"ProcessingInputs[code].InputName": "code", "ProcessingInputs[code].S3Input.S3Uri": "s3://c",
                             "ProcessingInputs[raw].InputName": "raw",
                             "ProcessingInputs[raw].S3Input.S3Uri": {"Get": "Parameters.Raw"},
                             "Args[0].x": 1, "Args[1].x": 2, "Empty": {}, "Scalars": [1, 2]}


@pytest.mark.parametrize("value, rewritten", [
    ("Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri",
     "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"),
    ("Steps.Prep['x']", "Steps.Preprocess['x']"),
    ("Prep", "Preprocess"),
    ("Prep (if CheckMse)", "Preprocess (if CheckMse)"),
    ("Steps.Preparation.X", "Steps.Preparation.X"),  # another step whose name starts alike
    ({"Get": ["Steps.Prep.X", 3]}, {"Get": ["Steps.Preprocess.X", 3]}),
])
def test_renamed_steps_are_rewritten_wherever_they_are_referred_to(value, rewritten):
    assert rewrite(value, {"Prep": "Preprocess"}) == rewritten


@pytest.mark.parametrize("path, found", [
    ("ResourceConfig.InstanceType", "ml.m5.xlarge"), ("ResourceConfig.Missing", None), ("Name.Deeper", None)])
def test_dig_reads_a_dotted_path(path, found):
    assert dig({"ResourceConfig": {"InstanceType": "ml.m5.xlarge"}, "Name": "x"}, path) == found


@pytest.mark.parametrize("seconds, spelled", [(0, "0 s"), (59, "59 s"), (3600, "1 h"), (5400, "1 h 30 min"),
                                              (3661, "1 h 1 min 1 s")])
def test_durations_are_spelled_for_a_reviewer(seconds, spelled):
    assert duration(seconds) == spelled


def test_leaf_changes_are_sorted_categorised_and_a_whole_new_item_is_one_change():
    before = {"Arguments": {"ProcessingInputs": [{"InputName": "a", "S3Input": {"S3Uri": "s3://b/x"}},
                                                 {"InputName": "old", "S3Input": {"S3Uri": "s3://b/o"}}],
                            "HyperParameters": {"n": '"5"', "same": '"1"'}}}
    after = {"Arguments": {"ProcessingInputs": [{"InputName": "a", "S3Input": {"S3Uri": "s3://b/y"}},
                                                {"InputName": "new", "S3Input": {"S3Uri": "s3://b/z", "LocalPath": "/opt"}}],
                           "HyperParameters": {"n": '"6"', "same": '"1"'}}}
    assert leaf_changes(before, after) == [
        Change(Category.HYPERPARAMETERS, "Arguments.HyperParameters.n", "5", "6"),
        Change(Category.INPUTS_OUTPUTS, "Arguments.ProcessingInputs[a].S3Input.S3Uri", '"s3://b/x"', '"s3://b/y"'),
        Change(Category.INPUTS_OUTPUTS, "Arguments.ProcessingInputs[new]", MISSING,
               '{InputName: "new", S3Input.LocalPath: "/opt", S3Input.S3Uri: "s3://b/z"}'),
        Change(Category.INPUTS_OUTPUTS, "Arguments.ProcessingInputs[old]",
               '{InputName: "old", S3Input.S3Uri: "s3://b/o"}', MISSING),
    ]
    assert leaf_changes(before, before) == []
