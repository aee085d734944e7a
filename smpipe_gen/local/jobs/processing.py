"""Processing steps: inputs at their LocalPath, the container entrypoint run as a process,
outputs published to their S3 URIs when it exits 0."""

from __future__ import annotations

from typing import Any

from smpipe_gen.errors import SmpipeError, shorten
from smpipe_gen.json_values import dig
from smpipe_gen.local import bootstrap, requirements, stand_in
from smpipe_gen.local.algorithms import SERVICE_IMAGES, service_image_of
from smpipe_gen.local.bootstrap import Prepared
from smpipe_gen.local.jobs import JobContext, StepResult, write_json
from smpipe_gen.local.sandbox import Overlay
from smpipe_gen.local.sandbox import OPT_ML, under_opt_ml

WORKING_DIR = OPT_ML + "/processing"  # where the job's process starts


def _local_path(ctx: JobContext, path: str, what: str) -> str:
    """A LocalPath normalised, and refused unless it lies under /opt/ml."""
    normal = under_opt_ml(path)
    if normal is None:
        raise SmpipeError(f"{what} LocalPath {shorten(repr(path))} is outside /opt/ml", where=f"step {ctx.name}",
                          hint="SageMaker processing paths live under /opt/ml/processing")
    return normal


def _output(ctx: JobContext, item: dict) -> tuple[str, str]:
    """(S3 URI, normalised LocalPath) of a processing output."""
    name = item.get("OutputName", "output")
    if "S3Output" not in item:
        raise SmpipeError(f"output {name!r} is not an S3 output", where=f"step {ctx.name}",
                          hint="only S3Output processing outputs run locally")
    return item["S3Output"]["S3Uri"], _local_path(ctx, item["S3Output"].get("LocalPath"), f"output {name!r}")


def _requirements(ctx: JobContext, inputs: list[tuple[str, str, str]], prepared: Prepared) -> Overlay | None:
    """Satisfy the requirements.txt a bootstrap among the inputs installs from its code bundle
    (see local/requirements.py), and note it in ``prepared`` so the bootstrap leaves it out."""
    for _name, uri, _local in inputs:
        script = ctx.code.get(uri)
        directory = bootstrap.requirements_dir(script.content or "") if script and script.kind == "inline" else None
        if directory is None:
            continue
        code = next((ctx.code.get(u) for _n, u, local in inputs if local.rstrip("/") == directory), None)
        if code is None or not ctx.code.is_bundle(code):
            return None
        if not (any(f.arcname == bootstrap.REQUIREMENTS for f in code.files) if code.kind == "sourcedir"
                else (ctx.code.unpacked(code) / bootstrap.REQUIREMENTS).is_file()):
            return None
        overlay = requirements.prepare(ctx, ctx.code.unpacked(code) / bootstrap.REQUIREMENTS, bootstrap.REQUIREMENTS)
        prepared.installed.add(directory)
        return overlay
    return None


def refusal(arguments: dict[str, Any], where: str) -> SmpipeError | None:
    """Why a processing job cannot run locally, or None: its image runs a program of its own
    (Spark, Clarify, Model Monitor: algorithms.SERVICE_IMAGES), or it names no command, so the
    image's default entrypoint would run."""
    image = str(dig(arguments, "AppSpecification", "ImageUri") or "?")
    service = service_image_of(image)
    if service is not None:
        return SmpipeError(f"processing image {image} runs {SERVICE_IMAGES[service]}, which has no local version",
                           where=where, hint=f"the steps that do not depend on it run; {stand_in.hint(where)}")
    if not dig(arguments, "AppSpecification", "ContainerEntrypoint"):
        return SmpipeError(f"no ContainerEntrypoint: the default entrypoint of image {image} would run, which cannot "
                           "run locally", where=where, hint=f"give the processor a command, or {stand_in.hint(where)}")
    return None


def run(ctx: JobContext) -> StepResult:
    args = ctx.arguments
    box = ctx.sandbox()
    inputs = []
    for item in args.get("ProcessingInputs", []):
        name = item.get("InputName", "input")
        if "S3Input" not in item:
            raise SmpipeError(f"input {name!r} is not an S3 input", where=f"step {ctx.name}",
                              hint="only S3Input processing inputs run locally")
        s3 = item["S3Input"]
        inputs.append((name, s3["S3Uri"], _local_path(ctx, s3.get("LocalPath"), f"input {name!r}")))
    # code bundles first: a bootstrap among the other inputs then skips unpacking them again,
    # and installing the requirements.txt the runner has already satisfied
    prepared = Prepared()
    for name, uri, local in inputs:
        bundle = ctx.mount_unpacked(box, uri, local.rstrip("/"))
        if bundle:
            prepared.unpacked[local.rstrip("/")] = bundle
    overlay = _requirements(ctx, inputs, prepared)
    for name, uri, local in inputs:
        if local.rstrip("/") not in prepared.unpacked:
            ctx.materialize_input(box, uri, box.host(local), f"input {name!r}", prepared)
    outputs = [_output(ctx, item) for item in args.get("ProcessingOutputConfig", {}).get("Outputs", [])]
    for _uri, local in outputs:
        box.host(local).mkdir(parents=True, exist_ok=True)
    box.host(WORKING_DIR).mkdir(parents=True, exist_ok=True)  # there even for a job with no inputs or outputs
    write_json(box.opt_ml / "config" / "processingjobconfig.json", {**args, "ProcessingJobName": ctx.job_name})
    write_json(box.opt_ml / "config" / "resourceconfig.json", {"current_host": "algo-1", "hosts": ["algo-1"]})

    refused = refusal(args, f"step {ctx.name}")
    if refused is not None:
        raise refused
    app = args.get("AppSpecification", {})
    argv = [str(a) for a in [*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])]]
    env = ctx.env({k: str(v) for k, v in args.get("Environment", {}).items()}, overlay)
    ctx.run_process(box, argv, env, WORKING_DIR, args.get("StoppingCondition"))

    published: dict[str, str] = {}
    for uri, local in outputs:
        ctx.store.publish_dir(box.host(local), uri)
        published[uri] = ctx.store.digest(uri)
    props = {**args, "ProcessingJobName": ctx.job_name, "ProcessingJobStatus": "Completed"}
    return StepResult(properties=props, outputs=published)
