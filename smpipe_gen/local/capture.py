"""Capture an SDK pipeline program's definition (``run --local --pipeline``).

Run in a child process (``python -m smpipe_gen.local.capture SPEC OUT [KWARGS_JSON]``) because it
imports the SageMaker SDK and the user's module, which the runner never does. The parent gives it
the run's loopback AWS endpoint (local/endpoint.py) and throwaway keys, so every session and
client the program makes (``sagemaker.Session()``, ``PipelineSession()``, boto3's STS, S3, IAM,
Lambda) is answered on this machine and every upload, whichever session made it, lands there;
the parent then writes those objects into ``OUT/objects``. On top of that, the SDK's offline
settings (telemetry off, ``DefaultS3Bucket`` smpipe-local, the user's own SDK config still read),
endpoints the SDK names explicitly (STS's regional one) sent to the loopback endpoint too,
``get_execution_role()`` a placeholder role that exists there, and ``LocalPipelineSession()`` a
``PipelineSession`` (local mode would put ``file://`` code in the definition).

SPEC is ``FILE.py[:FUNCTION]`` or a dotted module ``pkg.mod[:FUNCTION]`` imported from the working
directory (the module runs with its own name, a file as ``__smpipe_capture__``, so ``if __name__
== "__main__":`` blocks do not run). FUNCTION is called with the keyword arguments of KWARGS_JSON,
plus the session for a parameter that takes one (``sagemaker_session``, ``session``, or annotated
with a Session class); without it, the module's one ``Pipeline`` object is taken, or its
``get_pipeline`` called (the Projects seed code's convention). Writes ``OUT/definition.json`` and
``OUT/pipeline.json`` (name, region); a failure writes ``OUT/error.json`` (the exception and the
line of the program it came through) and exits 1.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

BUCKET = "smpipe-local"
SESSION_PARAMETERS = ("sagemaker_session", "session")
_SESSION_CLASSES = ("Session", "PipelineSession", "LocalPipelineSession", "LocalSession")


class CaptureError(Exception):
    """The program ran but does not give a pipeline the way SPEC says (this tool's message)."""


def _loopback_everywhere(url: str) -> None:
    """Send clients the SDK creates with an explicit AWS endpoint (``sts_regional_endpoint``
    overrides AWS_ENDPOINT_URL) to the loopback endpoint as well."""
    import botocore.session

    create_client = botocore.session.Session.create_client

    def loopback_client(self, *args, **kwargs):
        if kwargs.get("endpoint_url"):
            kwargs["endpoint_url"] = url
        return create_client(self, *args, **kwargs)

    botocore.session.Session.create_client = loopback_client


def _cloud_sessions(role: str) -> None:
    """``LocalPipelineSession(...)`` builds a ``PipelineSession`` with the same boto session, bucket
    and prefix (its endpoint is the loopback one anyway, local code is what it avoids);
    ``get_execution_role()`` is ``role``."""
    import sagemaker
    import sagemaker.session
    from sagemaker.workflow import pipeline_context

    def pipeline_session(_cls, boto_session=None, default_bucket=None, s3_endpoint_url=None, disable_local_code=False,
                         default_bucket_prefix=None):
        return pipeline_context.PipelineSession(boto_session=boto_session, default_bucket=default_bucket,
                                                default_bucket_prefix=default_bucket_prefix)

    pipeline_context.LocalPipelineSession.__new__ = staticmethod(pipeline_session)
    sagemaker.get_execution_role = sagemaker.session.get_execution_role = lambda *args, **kwargs: role


def _placeholder_role(name: str) -> str:
    """The role get_execution_role() gives, created at the endpoint so IAM and Lambda know it."""
    import boto3

    iam = boto3.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": ["sagemaker.amazonaws.com", "lambda.amazonaws.com"]}}]}
    try:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]


def load(spec: str) -> tuple[dict[str, Any], str | None, str]:
    """The namespace SPEC's source defines, the function it names, and how to show the source."""
    source, _, function = spec.partition(":")
    if source.endswith(".py") or os.sep in source or Path(source).is_file():
        sys.path.insert(0, str(Path(source).resolve().parent))
        return runpy.run_path(source, run_name="__smpipe_capture__"), function or None, source
    sys.path.insert(0, os.getcwd())
    return vars(importlib.import_module(source)), function or None, source


def takes_session(function) -> str | None:
    """The parameter of ``function`` that takes the SDK session, if any."""
    for name, parameter in inspect.signature(function).parameters.items():
        annotation = parameter.annotation
        shown = annotation.strip("'\"") if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        if name in SESSION_PARAMETERS or shown.rsplit(".", 1)[-1] in _SESSION_CLASSES:
            return name
    return None


def find_pipeline(namespace: dict[str, Any], function: str | None, kwargs: dict[str, Any], session_factory,
                  source: str):
    from sagemaker.workflow.pipeline import Pipeline

    if function is None:
        pipelines = {id(v): v for v in namespace.values() if isinstance(v, Pipeline)}
        if not pipelines and callable(namespace.get("get_pipeline")):
            function = "get_pipeline"
        elif kwargs:
            raise CaptureError(f"--kwargs are passed to a function: name it, --pipeline {source}:FUNCTION")
        elif len(pipelines) != 1:
            raise CaptureError(f"{source} has {len(pipelines)} Pipeline objects at module level; "
                               f"name the function that builds it: --pipeline {source}:FUNCTION")
        else:
            return next(iter(pipelines.values()))
    if function not in namespace:
        raise CaptureError(f"{source} defines no {function!r}")
    found = namespace[function]
    if callable(found) and not isinstance(found, Pipeline):
        parameter = takes_session(found)
        arguments = dict(kwargs)
        if parameter and parameter not in arguments:
            arguments[parameter] = session_factory()
        found = found(**arguments)
    if not isinstance(found, Pipeline):
        raise CaptureError(f"{source}:{function} gave {type(found).__name__}, not a sagemaker Pipeline")
    return found


def capture(spec: str, out: Path, kwargs: dict[str, Any]) -> None:
    from smpipe_gen.render.offline import offline_sdk

    region = os.environ["AWS_DEFAULT_REGION"]
    with offline_sdk(Path.cwd(), default_bucket=BUCKET, user_config=True):
        import boto3

        _loopback_everywhere(os.environ["AWS_ENDPOINT_URL"])
        _cloud_sessions(_placeholder_role("smpipe-local"))
        from sagemaker.workflow.pipeline_context import PipelineSession

        namespace, function, source = load(spec)
        pipeline = find_pipeline(namespace, function, kwargs,
                                 lambda: PipelineSession(boto_session=boto3.Session(region_name=region)), source)
        definition = json.loads(pipeline.definition())
        session = getattr(pipeline, "sagemaker_session", None)
        region = getattr(session, "boto_region_name", None) or region
    (out / "definition.json").write_text(json.dumps(definition, indent=2, sort_keys=True), encoding="utf-8")
    (out / "pipeline.json").write_text(json.dumps({"name": pipeline.name, "region": region}), encoding="utf-8")


def _in_program(filename: str, root: Path) -> bool:
    """Whether a traceback frame's file is the user's (under ``root``), not a library's or ours."""
    path = Path(filename).resolve()
    libraries = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(__file__).resolve().parents[1]}
    return path.is_file() and path.is_relative_to(root) and not any(path.is_relative_to(p) for p in libraries)


def failure(error: BaseException, root: Path) -> dict[str, str]:
    """The exception in one line and where it came through the program: the innermost frame in a
    file under ``root`` (the program, not the SDK), and the frame that raised it if elsewhere."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if _in_program(f.filename, root)]
    place = [f"at {Path(f.filename).resolve().relative_to(root)}:{f.lineno} in {f.name}" for f in ours[-1:]]
    raised = frames[-1] if frames else None
    if raised and (not ours or raised is not ours[-1]) and not raised.filename.startswith("<") \
            and not Path(raised.filename).resolve().is_relative_to(Path(__file__).resolve().parents[1]):
        shown = raised.filename.rsplit("site-packages/", 1)[-1]
        place.append(f"raised in {shown}:{raised.lineno} in {raised.name}")
    message = str(error).strip().splitlines()
    report = {"error": f"{type(error).__name__}: {message[0] if message else ''}".rstrip(": "), "where": ", ".join(place)}
    bucket = missing_bucket(error)
    return {**report, "bucket": bucket} if bucket else report


def missing_bucket(error: BaseException | None) -> str | None:
    """The bucket an S3 call found absent (NoSuchBucket names it), through the exceptions wrapping
    it (boto3's S3UploadFailedError): one the user made in their account before, which the
    loopback account lacks."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        response = getattr(error, "response", None)
        details = response.get("Error", {}) if isinstance(response, dict) else {}
        if details.get("Code") == "NoSuchBucket" and details.get("BucketName"):
            return details["BucketName"]
        error = error.__cause__ or error.__context__
    return None


def main(spec: str, out: str, kwargs: str = "{}") -> None:
    out_dir = Path(out)
    try:
        capture(spec, out_dir, json.loads(kwargs))
    except CaptureError as error:
        report = {"error": str(error), "ours": True}
    except BaseException as error:  # the program's own: shown as it happened, traceback kept in the log
        if isinstance(error, SystemExit) and not error.code:
            report = {"error": "the program exited (sys.exit) before it gave a pipeline", "ours": True}
        else:
            traceback.print_exc()
            report = failure(error, Path.cwd().resolve())
    else:
        return
    (out_dir / "error.json").write_text(json.dumps(report), encoding="utf-8")
    sys.exit(1)


if __name__ == "__main__":
    main(*sys.argv[1:])
