"""``smpipe-gen graph``: draw the rendered definition's DAG."""

from __future__ import annotations

from pathlib import Path

import click

from smpipe_gen.commands.options import ENVIRONMENT, OUTPUT_DIR, PROJECT_DIR
from smpipe_gen.project import Project

GRAPH_FORMATS = ("mermaid", "dot")


@click.command("graph")
@PROJECT_DIR
@OUTPUT_DIR
@click.option("--format", "output_format", type=click.Choice(GRAPH_FORMATS), default="mermaid", show_default=True,
              help="Output format.")
@ENVIRONMENT
def command(project_dir: Path, out: Path, output_format: str, environment: str | None) -> None:
    """Draw the DAG of the rendered definition (steps, data and DependsOn edges, condition branches)."""
    from smpipe_gen import definition, drawing

    draw = drawing.mermaid if output_format == "mermaid" else drawing.dot
    click.echo(draw(definition.load(Project.at(project_dir, out, environment))), nl=False)
