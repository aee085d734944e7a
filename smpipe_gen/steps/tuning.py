"""Tuning: a hyperparameter tuning job (CreateHyperParameterTuningJob) running training jobs."""

from __future__ import annotations

from typing import Any, Mapping

from smpipe_gen.json_values import dig
from smpipe_gen.steps import StepType, training


def job_arguments(arguments: dict) -> dict:
    """The arguments of the training jobs the step runs: its TrainingJobDefinition, their
    hyperparameters its StaticHyperParameters."""
    spec = arguments.get("TrainingJobDefinition")
    spec = dict(spec) if isinstance(spec, Mapping) else {}
    hyperparameters = spec.pop("StaticHyperParameters", {})
    spec["HyperParameters"] = hyperparameters if isinstance(hyperparameters, Mapping) else {}
    return spec


def input_uris(arguments: Mapping[str, Any]) -> list[Any]:
    return training.input_uris(dig(arguments, "TrainingJobDefinition") or {})


STEP = StepType(
    name="Tuning",
    cache_key=("HyperParameterTuningJobConfig", "TrainingJobDefinition.AlgorithmSpecification",
               "TrainingJobDefinition.HyperParameterRanges", "TrainingJobDefinition.InputDataConfig",
               "TrainingJobDefinition.StaticHyperParameters", "TrainingJobDefinition.TuningObjective",
               "TrainingJobDefinitions"),
    job="Training",
    resources=training.RESOURCES,
    job_arguments=job_arguments,
    input_uris=input_uris,
    operation=("CreateHyperParameterTuningJob", "HyperParameterTuningJobName"),
    runner="smpipe_gen.local.jobs.tuning:run",
    precheck="smpipe_gen.local.jobs.training:refusal",
    local_cache_inputs="smpipe_gen.local.jobs.training:cache_inputs",
)
