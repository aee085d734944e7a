"""Transform steps: the model created by a Model step, served through the inference toolkit's
handler contract over each input file (SplitType, BatchStrategy, filters, JoinSource,
AssembleWith), one ``<input name>.out`` per input file under the output path."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from smpipe_gen.errors import SmpipeError
from smpipe_gen.local import requirements, stand_in
from smpipe_gen.local.algorithms import BuiltinAlgorithm, algorithm_of
from smpipe_gen.local.algorithms.xgboost_images import xgboost_image
from smpipe_gen.local.jobs import CacheInputs, JobContext, StepResult, write_json
from smpipe_gen.local.jobs.model import load_model
from smpipe_gen.local.sandbox import Overlay
from smpipe_gen.local.store import as_s3_uri

WORKER = Path(__file__).with_name("inference_worker.py")


def inference_requirements(ctx: JobContext, code_dir: Path, env: dict[str, str]) -> Overlay | None:
    """The model server pip-installs the code directory's requirements (``SAGEMAKER_REQUIREMENTS``
    names the file, default requirements.txt) before it loads the module; so does a local run
    (see local/requirements.py). A named file that is missing fails, as in the container."""
    named = env.get("SAGEMAKER_REQUIREMENTS")
    path = code_dir / (named or "requirements.txt")
    if path.is_file():
        return requirements.prepare(ctx, path, path.relative_to(code_dir.parent).as_posix())
    if named:
        raise SmpipeError(f"SAGEMAKER_REQUIREMENTS names {named!r}, which is not in the model's code directory",
                          where=f"step {ctx.name}", hint="ship the file with the inference code or unset the variable")
    return None


def serving_algorithm(container: dict[str, Any], where: str) -> BuiltinAlgorithm | None:
    """The built-in algorithm a model's container serves with: an algorithm image with no
    SAGEMAKER_PROGRAM (the XGBoost image also serves scripts). Only XGBoost's has a local
    version (local/algorithms/xgboost_inference.py); another is refused, naming it."""
    if container.get("Environment", {}).get("SAGEMAKER_PROGRAM"):
        return None
    image = str(container.get("Image") or "")
    builtin = algorithm_of(image)
    if builtin is None:
        return None
    if builtin.name != "xgboost":
        raise SmpipeError(f"the model serves with built-in algorithm {builtin.name} (image {image}), which has no "
                          "local version: of SageMaker's built-in algorithms only XGBoost runs locally", where=where,
                          hint=f"pass {stand_in.option(where)} to run past this step")
    xgboost_image(builtin.tag)  # refuses an image version with no local version
    return builtin


def model_data(container: dict[str, Any]) -> str | None:
    """Where in the store a model's data is, or None: CreateModel takes an https URL of an S3
    object for ModelDataUrl as well as the S3 URI."""
    url = container.get("ModelDataUrl")
    return as_s3_uri(url) if url else None


def cache_inputs(reuse: Any, arguments: dict[str, Any], where: str) -> CacheInputs:
    """A transform's result depends on its model: the model data and the inference code, not
    the model's name (each run creates the model anew)."""
    spec = load_model(reuse.run_root, arguments["ModelName"], where)
    container = spec.get("PrimaryContainer") or spec["Containers"][0]
    submit = container.get("Environment", {}).get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    data_url = model_data(container)
    return CacheInputs(
        inputs={"model": reuse.store.digest(data_url) if data_url else "",
                "image": str(container.get("Image") or "")},
        code={"inference": reuse.code.digest(submit)}, masks={arguments["ModelName"]: "<model>"})


def run(ctx: JobContext) -> StepResult:
    args = ctx.arguments
    where = f"step {ctx.name}"
    model = load_model(ctx.run_root, args["ModelName"], where)
    container = model.get("PrimaryContainer") or model["Containers"][0]
    box = ctx.sandbox()
    model_dir = box.opt_ml / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    data_url = model_data(container)
    if data_url:
        objects = ctx.store.objects(data_url)
        if not objects:
            raise SmpipeError(f"model data {data_url} is not in the local store", where=where,
                              hint="the training step that produced it must have run")
        for source in objects.values():
            with tarfile.open(source) as tar:
                tar.extractall(model_dir, filter="data")
    env = container.get("Environment", {})
    builtin = serving_algorithm(container, where)
    code_dir = model_dir / "code"
    if env.get("SAGEMAKER_SUBMIT_DIRECTORY", "").startswith("s3://"):
        ctx.code.extract(ctx.code.require(env["SAGEMAKER_SUBMIT_DIRECTORY"], where), code_dir)
    overlay = None if builtin else inference_requirements(ctx, code_dir, env)

    tin, tout = args["TransformInput"], args["TransformOutput"]
    source = tin["DataSource"]["S3DataSource"]
    if source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise SmpipeError(f"S3DataType {source['S3DataType']} is not supported locally", where=where,
                          hint="use an S3Prefix input")
    input_dir = box.opt_ml / "transform" / "input"
    ctx.materialize_input(box, source["S3Uri"], input_dir, "transform input")
    output_dir = box.opt_ml / "transform" / "output"
    files = sorted(p.relative_to(input_dir).as_posix() for p in input_dir.rglob("*") if p.is_file())
    processing = args.get("DataProcessing", {})
    spec = {
        "code_dir": box.visible("/opt/ml/model/code"), "model_dir": box.visible("/opt/ml/model"),
        "program": env.get("SAGEMAKER_PROGRAM"), "content_type": tin.get("ContentType", "text/csv"),
        "accept": tout.get("Accept"), "failure_file": box.visible("/opt/ml/output/failure"),
        "split": tin.get("SplitType", "None"), "assemble": tout.get("AssembleWith", "None"),
        "single_record": args.get("BatchStrategy") == "SingleRecord",
        "max_payload": int(args.get("MaxPayloadInMB", 6)) << 20,
        "input_filter": processing.get("InputFilter"), "output_filter": processing.get("OutputFilter"),
        "join": processing.get("JoinSource", "None"),
        "algorithm": {"name": builtin.name, "tag": builtin.tag, "environment": env} if builtin else None,
        "files": [[box.visible(f"/opt/ml/transform/input/{rel}"), box.visible(f"/opt/ml/transform/output/{rel}.out")]
                  for rel in files],
    }
    write_json(box.opt_ml / "transform" / "job.json", spec)
    run_env = ctx.env({**{k: str(v) for k, v in env.items()}, "SM_MODEL_DIR": box.visible("/opt/ml/model")}, overlay)
    isolated = ["-I"] if builtin else []  # the algorithm's server: smpipe-gen's code, no user module (isolation.py)
    ctx.run_process(box, ["python", *isolated, str(WORKER), box.visible("/opt/ml/transform/job.json")], run_env,
                    box.visible("/opt/ml/model" if builtin else "/opt/ml/model/code"))
    uri = tout["S3OutputPath"].rstrip("/")
    ctx.store.publish_dir(output_dir, uri)
    props = {**args, "TransformJobName": ctx.job_name, "TransformJobStatus": "Completed"}
    return StepResult(properties=props, outputs={uri: ctx.store.digest(uri)})
