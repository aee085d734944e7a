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

from smpipe_gen import __version__, seal
from smpipe_gen.project import DEFAULT_OUTPUT_DIR, DEFINITION_JSON, MANIFEST_JSON, PIPELINE_PY
from smpipe_gen.canonical import canonical_json, definition_json
from smpipe_gen.manifest import Manifest, PipelineSettings, StepSource
from smpipe_gen.config.loader import load_config
from smpipe_gen.config.resolve import ResolvedPipeline, resolve
from smpipe_gen.errors import SmpipeError
from smpipe_gen.fingerprint import installed_sdk_version
from smpipe_gen.paths import bundle_files
from smpipe_gen.render.bundles import code_bundles, unshipped_references
from smpipe_gen.render.unshipped import Unshipped
from smpipe_gen.render.codegen import generate
from smpipe_gen.render.literals import comment_text, py

GENERATOR = f"smpipe-gen {__version__}"


@dataclass(frozen=True)
class Rendered:
    """The three artifacts as text, keyed by file name."""

    pipeline_py: str
    definition_json: str
    manifest_json: str
    code_directories: tuple[str, ...] = ()  # the source directories the code bundles come from

    def files(self) -> dict[str, str]:
        return {PIPELINE_PY: self.pipeline_py, DEFINITION_JSON: self.definition_json,
                MANIFEST_JSON: self.manifest_json}


def validate_project(root: Path, overrides: Mapping[str, str] | None = None,
                     environment: str | None = None) -> ResolvedPipeline:
    return resolve(load_config(root, overrides, environment=environment))


def unshipped_code(resolved: ResolvedPipeline, output_dir: Path | None = None) -> list[Unshipped]:
    """Files the code a step ships refers to that its bundle leaves out (render/unshipped.py)."""
    files = code_files(resolved, output_dir)
    return unshipped_references(resolved, files, code_bundles(resolved, files))


def render_project(root: Path, overrides: Mapping[str, str] | None = None,
                   environment: str | None = None, output_dir: Path | None = None) -> Rendered:
    """``output_dir`` (besides the default pipeline/) is kept out of the code bundles, so a
    ``source_directory: .`` does not pack the previous render and make ``check`` stale."""
    resolved = validate_project(root, overrides, environment)
    files = code_files(resolved, output_dir)
    source = pipeline_source(resolved, code_bundles(resolved, files))
    definition_text, manifest_text = rendered_texts(*build_definition(source, resolved, files))
    return Rendered(source, definition_text, manifest_text,
                    tuple(sorted({model.source_directory for model in resolved.spec.models.values()})))


def rendered_texts(definition: dict, manifest: Manifest) -> tuple[str, str]:
    """definition.json's and manifest.json's text as render writes them, the manifest sealed to
    that definition text (the tests write their SDK-built pipelines with it too)."""
    definition_text = definition_json(definition)
    return definition_text, canonical_json(seal.sealed(manifest, definition_text).to_json())


def code_files(resolved: ResolvedPipeline, output_dir: Path | None = None) -> dict[str, list[str]]:
    """Per source directory, the files its code bundles may hold (paths.bundle_files),
    repository-relative; the output directories are never among them."""
    root = resolved.root
    excluded = {root / DEFAULT_OUTPUT_DIR, *([output_dir] if output_dir else [])}
    return {directory: bundle_files(root, directory, excluded)
            for directory in sorted({m.source_directory for m in resolved.spec.models.values()})}


def pipeline_source(resolved: ResolvedPipeline, bundles: Mapping[str, list[str] | None]) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("smpipe_gen.render", "templates"),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
    )
    environment.filters["pyrepr"] = py
    environment.filters["comment"] = comment_text
    template = environment.get_template("pipeline.py.j2")
    return template.render(version=__version__, config_files=resolved.spec.config_files,
                           pipeline_name=resolved.spec.pipeline.pipelineName, code=generate(resolved, bundles))


def build_definition(source: str, resolved: ResolvedPipeline,
                     files: Mapping[str, list[str]]) -> tuple[dict, Manifest]:
    """Execute the generated module offline and collect the definition and the uploads."""
    from smpipe_gen.render.manifest import code_artifacts
    from smpipe_gen.render.offline import offline_sdk, pipeline_session

    spec = resolved.spec
    with _staged_sources(resolved, files) as staging, offline_sdk(staging) as recorder:
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
        steps=step_sources(definition, resolved),
        sagemaker_version=installed_sdk_version(),
    )
    return definition, manifest


def step_sources(definition: dict, resolved: ResolvedPipeline) -> dict[str, StepSource]:
    """For each step of the definition (a ModelStep's X-CreateModel, X-RepackModel-0, ...), the
    config step it comes from: consumers show steps by model and by the config's step class."""
    from smpipe_gen.definition import config_step_name
    from smpipe_gen.steps import step_type

    found: dict[str, StepSource] = {}

    def visit(items: list[dict]) -> None:
        for item in items:
            config = resolved.steps.get(config_step_name(item["Name"], set(resolved.steps)))
            if config is not None:
                found[item["Name"]] = StepSource(step=config.name, model=config.model, step_class=config.cls.value,
                                                 section=config.section_name)
            if step_type(item.get("Type", "")).branches:
                visit(item.get("Arguments", {}).get("IfSteps", []))
                visit(item.get("Arguments", {}).get("ElseSteps", []))

    visit(definition.get("Steps", []))
    return dict(sorted(found.items()))


@contextmanager
def _staged_sources(resolved: ResolvedPipeline, files: Mapping[str, list[str]]) -> Iterator[Path]:
    """A copy of exactly the files the code bundles may hold (see code_files): the SDK tars
    what it finds here, and the manifest lists what it tarred, so the two agree."""
    root = resolved.root
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="smpipe-render-") as tmp:
        staging = Path(tmp)
        for directory, names in files.items():
            (staging / directory).mkdir(parents=True, exist_ok=True)
            for name in names:
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(root / name, staging / name)
        _require_entry_points(resolved, staging)
        os.chdir(staging)
        try:
            yield staging
        finally:
            os.chdir(previous)


def _require_entry_points(resolved: ResolvedPipeline, staging: Path) -> None:
    """Validate saw each entry point in the working tree; the bundle holds only what git tracks,
    so an entry point nobody has added yet would reach the SDK as a missing file."""
    for step in resolved.steps.values():
        entry = getattr(step.section, "entry_point", None)
        directory = resolved.model(step).source_directory
        if isinstance(entry, str) and not (staging / directory / entry).is_file():
            raise SmpipeError(f"{directory}/{entry} is not in the code bundle: git does not track it",
                              where=f"step {step.name}",
                              hint=f"git add {directory}/{entry} (code bundles hold only the files git tracks)")
