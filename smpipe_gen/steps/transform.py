"""Transform: a batch transform job (CreateTransformJob) with a model a Model step created."""

from __future__ import annotations

from typing import Any, Mapping

from smpipe_gen.json_values import dig
from smpipe_gen.steps import StepType


def input_uris(arguments: Mapping[str, Any]) -> list[Any]:
    return [dig(arguments, "TransformInput", "DataSource", "S3DataSource", "S3Uri")]


STEP = StepType(
    name="Transform",
    cache_key=("DataProcessing", "Environment", "ModelName", "TransformInput"),
    job="Transform",
    resources=(("TransformResources",), None),
    input_uris=input_uris,
    operation=("CreateTransformJob", "TransformJobName"),
    runner="smpipe_gen.local.jobs.transform:run",
    local_cache_inputs="smpipe_gen.local.jobs.transform:cache_inputs",
)
