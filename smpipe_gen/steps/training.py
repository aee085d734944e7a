"""Training: a training job (CreateTrainingJob)."""

from __future__ import annotations

from typing import Any, Mapping

from smpipe_gen.json_values import as_list, dig
from smpipe_gen.steps import StepType

RESOURCES = (("ResourceConfig", "HyperParameterTuningResourceConfig"), "StoppingCondition.MaxRuntimeInSeconds")


def input_uris(arguments: Mapping[str, Any]) -> list[Any]:
    return [dig(c, "DataSource", "S3DataSource", "S3Uri") for c in as_list(arguments.get("InputDataConfig"))]


STEP = StepType(
    name="Training",
    cache_key=("AlgorithmSpecification", "CheckpointConfig", "DebugHookConfig", "DebugRuleConfigurations",
               "Environment", "HyperParameters", "InputDataConfig"),
    job="Training",
    resources=RESOURCES,
    input_uris=input_uris,
    operation=("CreateTrainingJob", "TrainingJobName"),
    runner="smpipe_gen.local.jobs.training:run",
    precheck="smpipe_gen.local.jobs.training:refusal",
    local_cache_inputs="smpipe_gen.local.jobs.training:cache_inputs",
)
