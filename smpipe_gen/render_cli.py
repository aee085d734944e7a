"""The commands that read the YAML: validate, schema, render, check.

In a repository with environments each command covers every environment unless -E names one."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from smpipe_gen.artifacts import write_atomic
from smpipe_gen.cli_options import EACH_ENVIRONMENT, OUTPUT_DIR, OVERRIDES, PROJECT_DIR, flag
from smpipe_gen.parameters import parse_assignments
from smpipe_gen.project import Project, renders_of_another_layout

if TYPE_CHECKING:
    from smpipe_gen.render.engine import Rendered

# The tool's version (headers, manifest) and the SDK's (manifest) do not count as drift themselves.
_VERSION_LINE = re.compile(r"smpipe-gen \d+(?:\.\d+)+\S*|(?<=\"sagemaker_version\": )\"[^\"]*\"")


def _prefix(project: Project) -> str:
    return f"{project.environment}: " if project.environment else ""


def register(app: click.Group) -> None:
    @app.command()
    @PROJECT_DIR
    @OVERRIDES
    @EACH_ENVIRONMENT
    def validate(project_dir: Path, env: tuple[str, ...], environment: str | None) -> None:
        """Check the config (types, names, references, cycles) without rendering; warn about files
        the code refers to that its step's bundle leaves out."""
        from smpipe_gen.errors import SmpipeError
        from smpipe_gen.render.engine import unshipped_code, validate_project
        from smpipe_gen.render.unshipped import HINT

        warned: set[str] = set()
        for project in Project.each(project_dir, environment=environment):
            resolved = validate_project(project.root, parse_assignments(env, "--env"), project.environment)
            click.echo(f"{_prefix(project)}ok: pipeline {resolved.spec.pipeline.pipelineName!r}, "
                       f"{len(resolved.steps)} steps, {len(resolved.spec.models)} model(s)")
            for item in unshipped_code(resolved, project.renders_dir):
                line = f"warning: {SmpipeError(item.message(), where=item.where, hint=HINT)}"
                if line not in warned:  # the same code in every environment: once
                    warned.add(line)
                    click.echo(line, err=True)

    @app.command()
    def schema() -> None:
        """Print the JSON Schema of a model config file (for editor completion)."""
        from smpipe_gen.config.schema import config_schema

        click.echo(json.dumps(config_schema(), indent=2, sort_keys=True))

    @app.command()
    @PROJECT_DIR
    @OUTPUT_DIR
    @OVERRIDES
    @EACH_ENVIRONMENT
    def render(project_dir: Path, out: Path, env: tuple[str, ...], environment: str | None) -> None:
        """Write pipeline.py, definition.json and manifest.json (offline, byte-stable).

        Also the way to resolve a merge conflict in rendered files: render, then `git add pipeline/`."""
        from smpipe_gen import fingerprint
        from smpipe_gen.render.engine import render_project

        overrides = parse_assignments(env, "--env")
        projects = Project.each(project_dir, out, environment)
        renders = [(p, fingerprint.inputs_digest(p, overrides),
                    render_project(p.root, overrides, p.environment, p.renders_dir)) for p in projects]
        for project, inputs, rendered in renders:  # write only once every environment rendered
            for name, text in rendered.files().items():
                if not _same_but_versions(project.output_dir / name, text):
                    write_atomic(project.output_dir / name, text)
            fingerprint.remember(project, overrides, inputs, rendered.code_directories)
            click.echo(f"rendered {project.relative(project.output_dir)}/: {', '.join(rendered.files())}")
        if environment is None:  # every environment rendered: what no environment wrote goes
            for leftover in renders_of_another_layout(project_dir, out):
                leftover.unlink()
                _remove_if_empty(leftover.parent)
                click.echo(f"removed {projects[0].relative(leftover)}: a render of a layout this repository no "
                           "longer has (commit the removal)")

    @app.command()
    @PROJECT_DIR
    @OUTPUT_DIR
    @OVERRIDES
    @EACH_ENVIRONMENT
    @flag("--full", "Always render, even when this machine already verified exactly these inputs and artifacts.")
    def check(project_dir: Path, out: Path, env: tuple[str, ...], environment: str | None, full: bool) -> None:
        """Exit 0 if the committed artifacts match a fresh render, 2 (with a diff) if not.

        Renders only when something a render reads (config, env files, variables, code, the tool,
        the SDK) or the committed artifacts changed since this machine last verified them; a fresh
        checkout, as in CI, always renders."""
        from smpipe_gen import fingerprint

        overrides = parse_assignments(env, "--env")
        diffs, drift = [], set()
        projects = Project.each(project_dir, out, environment)
        for project in projects:
            if not full and fingerprint.verified(project, overrides):
                continue
            from smpipe_gen.render.engine import render_project  # only now: it loads the SDK

            inputs = fingerprint.inputs_digest(project, overrides)
            rendered = render_project(project.root, overrides, project.environment, project.renders_dir)
            stale = _differences(project, rendered)
            if stale:
                diffs.extend(stale)
                drift.update(_sdk_drift(project, rendered))
            else:
                fingerprint.remember(project, overrides, inputs, rendered.code_directories)
        leftovers = renders_of_another_layout(project_dir, out) if environment is None else []
        for leftover in leftovers:
            click.echo(f"stale: {projects[0].relative(leftover)} is a render of a layout this repository no longer "
                       "has: nothing checks or applies it (hint: `smpipe-gen render` removes it; commit the removal)",
                       err=True)
        if diffs:
            click.echo("".join(diffs), nl=False)
            for recorded, installed in sorted(drift):
                click.echo(f"stale: SDK drift: the committed artifacts were rendered with sagemaker {recorded}, "
                           f"this render used the installed sagemaker {installed}", err=True)
                click.echo(f"hint: if the config did not change, the diff above comes from the SDK: re-render "
                           f"with `smpipe-gen render` and commit the result, or install sagemaker=={recorded} "
                           "(pin it in requirements.txt)", err=True)
            if not drift:
                click.echo("stale: the committed artifacts differ from the config; run `smpipe-gen render` "
                           "and commit the result", err=True)
            raise click.exceptions.Exit(2)
        if leftovers:
            raise click.exceptions.Exit(2)
        names = [p.environment for p in projects if p.environment]
        click.echo("ok: rendered artifacts are current" + (f" ({', '.join(names)})" if names else ""))


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:  # not empty (other files of the user's): keep it
        pass


def _differences(project: Project, rendered: Rendered) -> list[str]:
    """A unified diff per rendered file that differs from the committed one."""
    diffs = []
    for name, text in rendered.files().items():
        path = project.output_dir / name
        committed = path.read_text(encoding="utf-8") if path.is_file() else ""
        if _comparable(committed) != _comparable(text):
            shown = project.relative(path)
            diffs.append("".join(difflib.unified_diff(
                committed.splitlines(keepends=True), text.splitlines(keepends=True),
                fromfile=f"a/{shown}" if committed else "/dev/null", tofile=f"b/{shown}")))
    return diffs


def _sdk_drift(project: Project, rendered: Rendered) -> set[tuple[str, str]]:
    """(recorded, installed) SageMaker SDK versions when the committed render names another one."""
    try:
        recorded = json.loads(project.manifest_json.read_text(encoding="utf-8")).get("sagemaker_version")
        installed = json.loads(rendered.manifest_json).get("sagemaker_version")
    except (OSError, ValueError, AttributeError):
        return set()
    if isinstance(recorded, str) and isinstance(installed, str) and recorded != installed:
        return {(recorded, installed)}
    return set()


def _comparable(text: str) -> str:
    return _VERSION_LINE.sub("version", text)


def _same_but_versions(path: Path, text: str) -> bool:
    """Whether ``path`` already holds ``text`` but for the tool's and the SDK's versions: then render
    leaves it as it is, so a teammate's other tool build (every commit has its own version) or SDK
    patch release writes no diff into the pull request when the pipeline is the same."""
    try:
        return _comparable(path.read_text(encoding="utf-8")) == _comparable(text)
    except (OSError, UnicodeDecodeError):
        return False
