"""The commands that read the YAML: validate, schema, render, check.

In a repository with environments each command covers every environment unless -E names one."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import List, Optional

import typer

from smpipe_gen.artifacts import write_atomic
from smpipe_gen.cli_options import EACH_ENVIRONMENT, OUTPUT_DIR, PROJECT_DIR
from smpipe_gen.parameters import parse_assignments
from smpipe_gen.project import Project

_VERSION_LINE = re.compile(r"smpipe-gen \d+\.\d+\.\d+\S*")


def _prefix(project: Project) -> str:
    return f"{project.environment}: " if project.environment else ""


def register(app: typer.Typer) -> None:
    env_option = typer.Option(None, "--env", "-e", help="Override a framework variable: SMP_NAME=value.")

    @app.command()
    def validate(project_dir: Path = PROJECT_DIR, env: Optional[List[str]] = env_option,
                 environment: Optional[str] = EACH_ENVIRONMENT) -> None:
        """Check the config (types, names, references, cycles) without rendering."""
        from smpipe_gen.render.engine import validate_project

        for project in Project.each(project_dir, environment=environment):
            resolved = validate_project(project.root, parse_assignments(env, "--env"), project.environment)
            typer.echo(f"{_prefix(project)}ok: pipeline {resolved.spec.pipeline.pipelineName!r}, "
                       f"{len(resolved.steps)} steps, {len(resolved.spec.models)} model(s)")

    @app.command()
    def schema() -> None:
        """Print the JSON Schema of a model config file (for editor completion)."""
        from smpipe_gen.config.schema import config_schema

        typer.echo(json.dumps(config_schema(), indent=2, sort_keys=True))

    @app.command()
    def render(project_dir: Path = PROJECT_DIR, out: Path = OUTPUT_DIR,
               env: Optional[List[str]] = env_option, environment: Optional[str] = EACH_ENVIRONMENT) -> None:
        """Write pipeline.py, definition.json and manifest.json (offline, byte-stable).

        Also the way to resolve a merge conflict in rendered files: render, then `git add pipeline/`."""
        from smpipe_gen.render.engine import render_project

        projects = Project.each(project_dir, out, environment)
        renders = [(p, render_project(p.root, parse_assignments(env, "--env"), p.environment)) for p in projects]
        for project, rendered in renders:  # write only once every environment rendered
            for name, text in rendered.files().items():
                write_atomic(project.output_dir / name, text)
            typer.echo(f"rendered {project.relative(project.output_dir)}/: {', '.join(rendered.files())}")

    @app.command()
    def check(project_dir: Path = PROJECT_DIR, out: Path = OUTPUT_DIR,
              env: Optional[List[str]] = env_option, environment: Optional[str] = EACH_ENVIRONMENT) -> None:
        """Exit 0 if the committed artifacts match a fresh render, 2 (with a diff) if not."""
        from smpipe_gen.render.engine import render_project

        diffs = []
        projects = Project.each(project_dir, out, environment)
        for project in projects:
            rendered = render_project(project.root, parse_assignments(env, "--env"), project.environment)
            for name, text in rendered.files().items():
                path = project.output_dir / name
                committed = path.read_text(encoding="utf-8") if path.is_file() else ""
                if _comparable(committed) != _comparable(text):
                    shown = project.relative(path)
                    diffs.append("".join(difflib.unified_diff(
                        committed.splitlines(keepends=True), text.splitlines(keepends=True),
                        fromfile=f"a/{shown}" if committed else "/dev/null", tofile=f"b/{shown}")))
        if diffs:
            typer.echo("".join(diffs), nl=False)
            typer.echo("stale: the committed artifacts differ from the config; run `smpipe-gen render` "
                       "and commit the result", err=True)
            raise typer.Exit(2)
        names = [p.environment for p in projects if p.environment]
        typer.echo("ok: rendered artifacts are current" + (f" ({', '.join(names)})" if names else ""))


def _comparable(text: str) -> str:
    """The tool version in headers and manifests does not count as drift."""
    return _VERSION_LINE.sub("smpipe-gen", text)
