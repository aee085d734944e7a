"""CreateModel steps: the model's container spec is recorded under the run root so transform
steps (possibly in a later run, after a cache hit) can find it by name, and created in the loopback
endpoint's SageMaker, where a later job or Lambda function may look it up or deploy it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smpipe_gen import canonical
from smpipe_gen.local.endpoint import ACCOUNT
from smpipe_gen.errors import SmpipeError
from smpipe_gen.paths import file_name, write_atomic
from smpipe_gen.local.jobs import JobContext, StepResult, read_state


def model_file(run_root: Path, name: str) -> Path:
    return Path(run_root) / "models" / file_name(f"{name}.json")  # a foreign ModelName may say ../..


def load_model(run_root: Path, name: str, where: str) -> dict[str, Any]:
    path = model_file(run_root, name)
    model = read_state(path, "model record")
    if model is None:
        raise SmpipeError(f"model {name!r} was not created by a local run", where=where,
                          hint="the ModelName must come from a Model step of this pipeline")
    return model


def run(ctx: JobContext) -> StepResult:
    args = ctx.arguments
    containers = [args["PrimaryContainer"]] if "PrimaryContainer" in args else args.get("Containers", [])
    if len(containers) != 1:
        raise SmpipeError("only single-container models run locally", where=f"step {ctx.name}",
                          hint="use one container per model")
    name = ctx.job_name
    props = {**args, "ModelName": name, "ModelArn": f"arn:aws:sagemaker:{ctx.region}:{ACCOUNT}:model/{name}"}
    write_atomic(model_file(ctx.run_root, name), canonical.canonical_json(props))
    if ctx.endpoint is not None:  # later jobs and Lambda functions may call SageMaker about it
        ctx.endpoint.create_model(name, args)
    return StepResult(properties=props)
