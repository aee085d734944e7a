"""Options every command shares, defined once so they read and behave the same everywhere."""

from pathlib import Path

import typer

from smpipe_gen.artifacts import DEFAULT_OUTPUT_DIR

PROJECT_DIR = typer.Option(Path("."), "--project-dir", "-C", help="Root of the model repository.")
OUTPUT_DIR = typer.Option(Path(DEFAULT_OUTPUT_DIR), "--out",
                          help="Directory of the rendered artifacts, relative to the project.")
ENVIRONMENT = typer.Option(None, "--environment", "-E",
                           help="Environment (environments/<NAME>.env); needed when there are several.")
EACH_ENVIRONMENT = typer.Option(None, "--environment", "-E",
                                help="Only this environment (environments/<NAME>.env); default: every one.")
