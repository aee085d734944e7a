"""The plan's rules as tables: which category a changed leaf belongs to, which categories are
risks on their own, and which changes to a cached step wait for it to run again (each step
type's own facts, its cache key among them, are in smpipe_gen/steps/).

First matching row wins; every row is (test, result) so a new rule is one line.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from smpipe_gen.plan.model import MISSING, Category, Change, RiskKind
from smpipe_gen.steps import step_type

CODE_URI = re.compile(r"s3://.*/[0-9a-f]{32,}/")
_IO_WORDS = ("ProcessingInputs", "ProcessingOutputConfig", "InputDataConfig", "OutputDataConfig",
             "TransformInput", "TransformOutput", "PropertyFiles")
_NETWORK_WORDS = ("VpcConfig", "NetworkConfig", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption")


def _last(path: str) -> str:
    return re.split(r"[.\[]", path)[-1]


def _has(*words: str) -> Callable[[str, list[str]], bool]:
    return lambda path, _texts: any(word in path for word in words)


# (test(path, [before text, after text]), category); the first match wins.
CATEGORY_RULES: list[tuple[Callable[[str, list[str]], bool], Category]] = [
    (_has("Kms"), Category.KMS),
    (lambda path, _t: _last(path).endswith("RoleArn"), Category.ROLE),
    (_has(*_NETWORK_WORDS), Category.NETWORK),
    (lambda path, texts: any(CODE_URI.search(t) for t in texts)
     or "sagemaker_submit_directory" in path or "sagemaker_program" in path, Category.CODE),
    (lambda path, _t: "InstanceType" in _last(path), Category.INSTANCE_TYPE),
    (lambda path, _t: "InstanceCount" in _last(path) or "VolumeSizeInGB" in _last(path), Category.RESOURCES),
    (lambda path, _t: _last(path) in ("ImageUri", "TrainingImage", "Image"), Category.IMAGE),
    (_has("HyperParameters"), Category.HYPERPARAMETERS),
    (_has("Environment"), Category.ENVIRONMENT),
    (lambda path, _t: path.startswith("CacheConfig"), Category.CACHE),
    (lambda path, _t: path.startswith("RetryPolicies"), Category.RETRY),
    (lambda path, _t: path.startswith("DependsOn"), Category.DEPENDENCIES),
    (lambda path, _t: path.startswith("Gate"), Category.GATE),
    (_has(*_IO_WORDS), Category.INPUTS_OUTPUTS),
    (_has("Conditions"), Category.CONDITION),
    (_has("ModelApprovalStatus"), Category.APPROVAL),
    (_has("ContainerEntrypoint", "ContainerArguments", "AppSpecification"), Category.COMMAND),
]


def categorize(path: str, before: str, after: str) -> Category:
    texts = [before, after]
    return next((category for test, category in CATEGORY_RULES if test(path, texts)), Category.OTHER)


def _verb(change: Change) -> str:
    return "removed" if change.after == MISSING else "added" if change.before == MISSING else "changed"


def _network_label(path: str) -> str:
    return ("network isolation" if "Isolation" in path else "inter-container encryption" if "Encryption" in path
            else "subnets" if "Subnets" in path else "security groups" if "SecurityGroup" in path
            else "VPC configuration")


# Categories that are risks whatever the step: category -> (risk kind, message of the change).
# Messages carry no step name, so one change made to many steps is one risk listing them.
RISK_RULES: dict[Category, tuple[RiskKind, Callable[[Change], str]]] = {
    Category.ROLE: (RiskKind.ROLE, lambda c: f"execution role changes: {c.before} -> {c.after}"),
    Category.KMS: (RiskKind.KMS, lambda c: f"KMS key {_verb(c)}: {c.before} -> {c.after}"),
    Category.NETWORK: (RiskKind.NETWORK, lambda c: f"{_network_label(c.path)} changes: {c.before} -> {c.after}"),
}

# Step properties that stay the same when the step runs again: none of SageMaker's. A
# re-run gets a new job name, so its model artifacts, model name and package ARN are new; an
# output path is new only when it contains an execution variable (cache.py checks those).
OUTPUT_PATHS = (re.compile(r"^ProcessingOutputConfig\.Outputs\['(?P<name>[^']+)'\]\.S3Output\.S3Uri$"),
                re.compile(r"^TransformOutput\.S3OutputPath$"))


def in_cache_key(kind: str, path: str) -> bool:
    """Whether a changed leaf of a step (``Arguments.ResourceConfig.InstanceType``) is part of
    SageMaker's cache key for its type (the registry's ``cache_key``: what SageMaker keys on;
    everything else, instance type and count, output paths, role, KMS, stopping condition,
    tags, can change and the step still hits)."""
    if not path.startswith("Arguments."):
        return False
    argument = path[len("Arguments."):]
    return any(argument == key or argument.startswith((key + ".", key + "["))
               for key in step_type(kind).cache_key or ())


def waits_for_rerun(kind: str, change: Change) -> bool:
    """Whether a change to a cached step is used only when the step runs again: an argument
    outside its cache key (instance type, role, output path, ...) or its retry policy. Cache
    policy, dependencies and gates act on the next execution itself."""
    if change.category in (Category.CACHE, Category.DEPENDENCIES, Category.GATE):
        return False
    return change.category is Category.RETRY or (step_type(kind).cacheable and change.path.startswith("Arguments.")
                                                 and not in_cache_key(kind, change.path))


def spelled(value: Any, model: Any) -> str:
    """A value as configured: a parameter reference as its default and name."""
    if isinstance(value, dict) and isinstance(value.get("Get"), str) and value["Get"].startswith("Parameters."):
        name = value["Get"][len("Parameters."):]
        default = next((p.default for p in model.parameters if p.name == name), None)
        return f"{default} by default (parameter {name})" if default is not None else f"parameter {name}"
    return value if isinstance(value, str) else json.dumps(value)
