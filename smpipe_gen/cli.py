"""The ``smpipe-gen`` command line. Exit codes: 0 ok, 1 error, 2 differences found.

Commands import their machinery lazily so that commands which only read the rendered
artifacts (plan, apply, graph, run --local) never import the SageMaker SDK.
"""

from __future__ import annotations

import functools
import sys
from typing import Optional

import typer

from smpipe_gen import __version__
from smpipe_gen.errors import SmpipeError

app = typer.Typer(
    name="smpipe-gen",
    help="Render SageMaker Pipelines from YAML into reviewed artifacts; check, plan, apply, run locally.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _version(value: bool) -> None:
    if value:
        typer.echo(f"smpipe-gen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                           help="Print the version and exit."),
) -> None:
    """smpipe-gen: SageMaker Pipelines as reviewed, reproducible code."""


@functools.cache
def _register_commands() -> None:
    """Once per process: main() may be called again in-process (the fuzzer does), and typer
    would otherwise accumulate a copy of every command on each call."""
    from smpipe_gen import deploy_cli, render_cli
    from smpipe_gen.local import cli as local_cli

    for group in (render_cli, local_cli, deploy_cli):
        group.register(app)


def main() -> None:
    _register_commands()
    try:
        exit_code = app(standalone_mode=False)  # click returns Exit's code instead of raising
    except SmpipeError as error:
        for line in error.lines():
            typer.secho(f"error: {line}", err=True, fg="red")
        sys.exit(error.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as usage:
        # Usage errors (typer ships its own copy of click, so match by shape): click exits 2
        # for them, which here means "differences found"; report them as errors instead.
        if not (hasattr(usage, "show") and hasattr(usage, "exit_code")):
            raise
        usage.show()
        sys.exit(1)
    sys.exit(exit_code if isinstance(exit_code, int) else 0)
