"""``smpipe-gen check``: whether the committed artifacts are what the config renders to."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from smpipe_gen.canonical import versionless
from smpipe_gen.commands.options import EACH_ENVIRONMENT, OUTPUT_DIR, OVERRIDES, PROJECT_DIR, flag
from smpipe_gen.parameters import parse_assignments
from smpipe_gen.project import Project, renders_of_another_layout

if TYPE_CHECKING:
    from smpipe_gen.render.engine import Rendered



@click.command("check")
@PROJECT_DIR
@OUTPUT_DIR
@OVERRIDES
@EACH_ENVIRONMENT
@flag("--full", "Always render, even when this machine already verified exactly these inputs and artifacts.")
def command(project_dir: Path, out: Path, env: tuple[str, ...], environment: str | None, full: bool) -> None:
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


def _differences(project: Project, rendered: Rendered) -> list[str]:
    """A unified diff per rendered file that differs from the committed one."""
    diffs = []
    for name, text in rendered.files().items():
        path = project.output_dir / name
        committed = path.read_text(encoding="utf-8") if path.is_file() else ""
        if versionless(committed) != versionless(text):
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

