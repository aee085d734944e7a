"""``smpipe-gen validate``: check the config without rendering."""

from __future__ import annotations

from pathlib import Path

import click

from smpipe_gen.commands.options import EACH_ENVIRONMENT, OVERRIDES, PROJECT_DIR, environment_prefix
from smpipe_gen.parameters import parse_assignments
from smpipe_gen.project import Project


@click.command("validate")
@PROJECT_DIR
@OVERRIDES
@EACH_ENVIRONMENT
def command(project_dir: Path, env: tuple[str, ...], environment: str | None) -> None:
    """Check the config (types, names, references, cycles) without rendering; warn about files
    the code refers to that its step's bundle leaves out."""
    from smpipe_gen.errors import SmpipeError
    from smpipe_gen.render.engine import unshipped_code, validate_project
    from smpipe_gen.render.unshipped import HINT

    warned: set[str] = set()
    for project in Project.each(project_dir, environment=environment):
        resolved = validate_project(project.root, parse_assignments(env, "--env"), project.environment)
        click.echo(f"{environment_prefix(project)}ok: pipeline {resolved.spec.pipeline.pipelineName!r}, "
                   f"{len(resolved.steps)} steps, {len(resolved.spec.models)} model(s)")
        for item in unshipped_code(resolved, project.renders_dir):
            line = f"warning: {SmpipeError(item.message(), where=item.where, hint=HINT)}"
            if line not in warned:  # the same code in every environment: once
                warned.add(line)
                click.echo(line, err=True)
