"""``smpipe-gen render``: write the reviewed artifacts (each environment's, unless -E names one)."""

from __future__ import annotations

from pathlib import Path

import click

from smpipe_gen.canonical import versionless
from smpipe_gen.commands.options import EACH_ENVIRONMENT, OUTPUT_DIR, OVERRIDES, PROJECT_DIR
from smpipe_gen.parameters import parse_assignments
from smpipe_gen.paths import write_atomic
from smpipe_gen.project import Project, renders_of_another_layout


@click.command("render")
@PROJECT_DIR
@OUTPUT_DIR
@OVERRIDES
@EACH_ENVIRONMENT
def command(project_dir: Path, out: Path, env: tuple[str, ...], environment: str | None) -> None:
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


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:  # not empty (other files of the user's): keep it
        pass


def _same_but_versions(path: Path, text: str) -> bool:
    """Whether ``path`` already holds ``text`` but for the tool's and the SDK's versions: then render
    leaves it as it is, so a teammate's other tool build (every commit has its own version) or SDK
    patch release writes no diff into the pull request when the pipeline is the same."""
    try:
        return versionless(path.read_text(encoding="utf-8")) == versionless(text)
    except (OSError, UnicodeDecodeError):
        return False
