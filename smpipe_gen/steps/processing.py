"""Processing: a processing job (CreateProcessingJob)."""

from __future__ import annotations

from typing import Any, Mapping

from smpipe_gen.json_values import as_list, dig
from smpipe_gen.steps import StepType, submit_directories

CODE_INPUTS = ("code", "entrypoint")  # processing inputs that carry the job's code


def input_uris(arguments: Mapping[str, Any]) -> list[Any]:
    return [dig(i, "S3Input", "S3Uri") for i in as_list(arguments.get("ProcessingInputs")) if dig(i, "S3Input") is not None]


def code_uris(arguments: Mapping[str, Any]) -> list[str]:
    """The SDK's code inputs (``code``, ``entrypoint``) besides any submit directory."""
    found = submit_directories(arguments)
    for item in as_list(arguments.get("ProcessingInputs")):
        uri = dig(item, "S3Input", "S3Uri")
        if dig(item, "InputName") in CODE_INPUTS and isinstance(uri, str) and uri.startswith("s3://"):
            found.append(uri)
    return found


STEP = StepType(
    name="Processing",
    cache_key=("AppSpecification", "Environment", "ProcessingInputs"),
    job="Processing",
    resources=(("ProcessingResources.ClusterConfig",), "StoppingCondition.MaxRuntimeInSeconds"),
    input_uris=input_uris,
    code_uris=code_uris,
    operation=("CreateProcessingJob", "ProcessingJobName"),
    runner="smpipe_gen.local.jobs.processing:run",
    precheck="smpipe_gen.local.jobs.processing:refusal",
)
