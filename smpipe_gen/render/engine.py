"""Render a model repository: config -> pipeline.py -> definition.json + manifest.json.

The generated pipeline.py is executed with the offline session in a staging copy of the
referenced source directories (same relative paths, minus caches such as __pycache__), so
the SDK's content hashes, and therefore the S3 URIs in the definition, depend only on the
repository's tracked content: not on the checkout directory, not on leftovers of test runs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import jinja2

from smpipe_gen import __version__, artifacts
from smpipe_gen.artifacts import Manifest, PipelineSettings, canonical_json
from smpipe_gen.config.loader import load_config
from smpipe_gen.config.resolve import ResolvedPipeline, resolve
from smpipe_gen.errors import SmpipeError
from smpipe_gen.render.codegen import generate
from smpipe_gen.render.literals import comment_text, py

GENERATOR = f"smpipe-gen {__version__}"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".DS_Store", ".ipynb_checkpoints", ".pytest_cache")


@dataclass(frozen=True)
class Rendered:
    """The three artifacts as text, keyed by file name."""

    pipeline_py: str
    definition_json: str
    manifest_json: str

    def files(self) -> dict[str, str]:
        return {artifacts.PIPELINE_PY: self.pipeline_py, artifacts.DEFINITION_JSON: self.definition_json,
                artifacts.MANIFEST_JSON: self.manifest_json}


def validate_project(root: Path, overrides: Mapping[str, str] | None = None,
                     environment: str | None = None) -> ResolvedPipeline:
    return resolve(load_config(root, overrides, environment=environment))


def render_project(root: Path, overrides: Mapping[str, str] | None = None,
                   environment: str | None = None) -> Rendered:
    resolved = validate_project(root, overrides, environment)
    source = pipeline_source(resolved)
    definition, manifest = build_definition(source, resolved)
    return Rendered(source, canonical_json(definition), canonical_json(manifest.model_dump(exclude_none=True)))


def pipeline_source(resolved: ResolvedPipeline) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("smpipe_gen.render", "templates"),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
    )
    environment.filters["pyrepr"] = py
    environment.filters["comment"] = comment_text
    template = environment.get_template("pipeline.py.j2")
    return template.render(version=__version__, config_files=resolved.spec.config_files,
                           pipeline_name=resolved.spec.pipeline.pipelineName, code=generate(resolved))


def build_definition(source: str, resolved: ResolvedPipeline) -> tuple[dict, Manifest]:
    """Execute the generated module offline and collect the definition and the uploads."""
    from smpipe_gen.render.manifest import code_artifacts
    from smpipe_gen.render.offline import offline_sdk, pipeline_session

    spec = resolved.spec
    with _staged_sources(resolved) as staging, offline_sdk(staging) as recorder:
        namespace: dict = {"__name__": "smpipe_generated_pipeline"}
        exec(compile(source, "pipeline/pipeline.py", "exec"), namespace)  # noqa: S102 (our own output)
        session = pipeline_session(spec.settings.region, spec.settings.bucket, recorder)
        try:
            definition = json.loads(namespace["get_pipeline"](session).definition())
        except (ValueError, TypeError, KeyError) as exc:
            raise SmpipeError(f"the SageMaker SDK rejected the pipeline: {exc}", where=spec.config_files[-1],
                              hint="run `smpipe-gen validate`; if it passes, report this as a bug") from None
        artifacts = code_artifacts(recorder.uploads, staging)
    pipeline = spec.pipeline
    manifest = Manifest(
        generator=GENERATOR, config_files=spec.config_files,
        pipeline=PipelineSettings(name=pipeline.pipelineName, display_name=pipeline.displayName,
                                  description=pipeline.description, role_arn=spec.settings.role,
                                  region=spec.settings.region, bucket=spec.settings.bucket,
                                  tags=pipeline.tags, parallelism=pipeline.parallelism,
                                  kms_key=spec.settings.kms_key, environment=spec.settings.environment),
        artifacts=artifacts, local_data=dict(sorted(pipeline.local_data.items())),
    )
    return definition, manifest


@contextmanager
def _staged_sources(resolved: ResolvedPipeline) -> Iterator[Path]:
    root = resolved.root
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="smpipe-render-") as tmp:
        staging = Path(tmp)
        for directory in sorted({m.source_directory for m in resolved.spec.models.values()}):
            shutil.copytree(root / directory, staging / directory, ignore=_IGNORED, dirs_exist_ok=True)
        os.chdir(staging)
        try:
            yield staging
        finally:
            os.chdir(previous)
