"""Options every command shares, defined once so they read and behave the same everywhere."""

import sys
from pathlib import Path

import click

from smpipe_gen.project import DEFAULT_OUTPUT_DIR

PROJECT_DIR = click.option("--project-dir", "-C", "project_dir", type=click.Path(path_type=Path), default=Path("."),
                           show_default=True, metavar="<path>", help="Root of the model repository.")
OUTPUT_DIR = click.option("--out", "out", type=click.Path(path_type=Path), default=Path(DEFAULT_OUTPUT_DIR),
                          show_default=True, metavar="<path>",
                          help="Directory of the rendered artifacts, relative to the project.")
ENVIRONMENT = click.option("--environment", "-E", "environment", default=None, metavar="<str>",
                           help="Environment (environments/<NAME>.env); needed when there are several.")
EACH_ENVIRONMENT = click.option("--environment", "-E", "environment", default=None, metavar="<str>",
                                help="Only this environment (environments/<NAME>.env); default: every one.")
ASSUME_ROLE = click.option("--assume-role", metavar="ARN",
                           help="Assume this IAM role (STS) first, e.g. the deploy role in the render's account; "
                                "credentials of another account than the render's are refused either way.")
OVERRIDES = click.option("--env", "-e", "env", multiple=True, metavar="<str>",
                         help="Override a framework variable: SMP_NAME=value.")


def flag(name: str, text: str, *short: str):
    """A boolean ``--name`` switch, off by default."""
    return click.option(name, *short, is_flag=True, default=False, help=text)


def interactive() -> bool:
    """Whether a person can be asked (stdin is a terminal)."""
    return sys.stdin is not None and sys.stdin.isatty()


def environment_prefix(project) -> str:
    """How a command's line names the environment it is about, in a repository with several."""
    return f"{project.environment}: " if project.environment else ""
