"""Options every command shares, defined once so they read and behave the same everywhere."""

from pathlib import Path

import typer

from smpipe_gen.artifacts import DEFAULT_OUTPUT_DIR

PROJECT_DIR = typer.Option(Path("."), "--project-dir", "-C", help="Root of the model repository.")
OUTPUT_DIR = typer.Option(Path(DEFAULT_OUTPUT_DIR), "--out",
                          help="Directory of the rendered artifacts, relative to the project.")
