"""Capture an SDK pipeline program's definition and code (``run --local --pipeline FILE.py``).

Run in a child process (``python -m smpipe_gen.local.capture FILE[:FUNCTION] OUT``) because it
imports the SageMaker SDK and the user's module, which the runner never does. The module runs
under the offline session render uses: ``PipelineSession()`` and ``LocalPipelineSession()`` made by
the program are that session, ``get_execution_role()`` is a placeholder, and every object the SDK
uploads is written to ``OUT/objects/<bucket>/<key>`` instead of S3. With ``:FUNCTION`` the function
is called with the session (or is itself the Pipeline); otherwise the module's one ``Pipeline``
object is taken. The module runs with ``__name__`` set to ``__smpipe_capture__``, so its
``if __name__ == "__main__":`` block (upsert, start) does not run.
Writes ``OUT/definition.json`` and ``OUT/pipeline.json`` (name, region)."""

from __future__ import annotations

import json
import os
import runpy
import shutil
import sys
from pathlib import Path

BUCKET = "smpipe-local"


def _store_uploads(objects: Path):
    """Make the recorder keep a copy of each upload (the SDK deletes its temporary tarballs)."""
    from smpipe_gen.render import offline

    record_file, record_put = offline._RecordedObject.upload_file, offline._RecordedObject.put

    def target(s3_uri: str) -> Path:
        path = objects.joinpath(*s3_uri[len("s3://"):].split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def upload_file(self, filename, **kwargs):
        record_file(self, filename, **kwargs)
        shutil.copyfile(filename, target(self.s3_uri))

    def put(self, Body, **kwargs):  # noqa: N803 (boto3 API)
        record_put(self, Body, **kwargs)
        target(self.s3_uri).write_bytes(Body if isinstance(Body, bytes) else Body.encode())

    offline._RecordedObject.upload_file, offline._RecordedObject.put = upload_file, put


def _always(session, *classes) -> None:
    """Make constructing any of ``classes`` yield ``session``. The classes stay the SDK's own
    (its isinstance checks look them up at call time), only their construction changes."""
    for cls in classes:
        cls.__new__ = staticmethod(lambda _cls, *args, **kwargs: session)
        cls.__init__ = lambda self, *args, **kwargs: None  # ``session`` is initialized already


def _find_pipeline(namespace: dict, target: str | None, session, source: str):
    from sagemaker.workflow.pipeline import Pipeline

    if target:
        if target not in namespace:
            raise SystemExit(f"{source} defines no {target!r}")
        found = namespace[target]
        found = found if isinstance(found, Pipeline) else found(session)
        if not isinstance(found, Pipeline):
            raise SystemExit(f"{source}:{target} returned {type(found).__name__}, not a sagemaker Pipeline")
        return found
    pipelines = {id(v): v for v in namespace.values() if isinstance(v, Pipeline)}
    if len(pipelines) != 1:
        raise SystemExit(f"{source} has {len(pipelines)} Pipeline objects at module level; "
                         f"name the function that builds it: --pipeline {source}:FUNCTION")
    return next(iter(pipelines.values()))


def capture(spec: str, out: Path) -> None:
    from smpipe_gen.render.offline import offline_sdk, pipeline_session

    source, _, target = spec.partition(":")
    region = os.environ.get("SMP_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    _store_uploads(out / "objects")
    with offline_sdk(Path.cwd()) as recorder:
        import sagemaker
        import sagemaker.session
        from sagemaker.workflow import pipeline_context

        session = pipeline_session(region, BUCKET, recorder)
        role = "arn:aws:iam::000000000000:role/smpipe-local"
        _always(session, pipeline_context.PipelineSession, pipeline_context.LocalPipelineSession)
        sagemaker.get_execution_role = sagemaker.session.get_execution_role = lambda *a, **k: role
        sys.path.insert(0, str(Path(source).resolve().parent))
        namespace = runpy.run_path(source, run_name="__smpipe_capture__")
        pipeline = _find_pipeline(namespace, target or None, session, source)
        definition = json.loads(pipeline.definition())
    (out / "definition.json").write_text(json.dumps(definition, indent=2, sort_keys=True), encoding="utf-8")
    (out / "pipeline.json").write_text(json.dumps({"name": pipeline.name, "region": region}), encoding="utf-8")


if __name__ == "__main__":
    capture(sys.argv[1], Path(sys.argv[2]))
