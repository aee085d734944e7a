"""The ``smpipe-gen`` command line. Exit codes: 0 ok, 1 error, 2 differences found.

Commands import their machinery lazily so that commands which only read the rendered
artifacts (plan, apply, graph, run --local) never import the SageMaker SDK, and a command
imports only the module that defines it (``--help`` and unknown commands import them all).
Help is plain click text: rich's formatting would cost more than many commands' own work.
"""

from __future__ import annotations

import importlib
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
    rich_markup_mode=None,
)

# The module that registers each command; the order of the modules is the order --help lists them.
COMMAND_MODULES = {
    "validate": "smpipe_gen.render_cli", "schema": "smpipe_gen.render_cli",
    "render": "smpipe_gen.render_cli", "check": "smpipe_gen.render_cli",
    "run": "smpipe_gen.local.cli",
    "apply": "smpipe_gen.deploy_cli", "delete": "smpipe_gen.deploy_cli",
    "plan": "smpipe_gen.deploy_cli", "graph": "smpipe_gen.deploy_cli",
}
_registered: set[str] = set()

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


def _register_commands(argv: list[str]) -> None:
    """Register the module of the command ``argv`` names, or every module. Each module at most
    once per process: main() may be called again in-process (the fuzzer does), and typer would
    otherwise accumulate a copy of every command on each call."""
    named = COMMAND_MODULES.get(argv[0]) if argv else None
    for module in [named] if named else dict.fromkeys(COMMAND_MODULES.values()):
        if module not in _registered:
            importlib.import_module(module).register(app)
            _registered.add(module)


def main() -> None:
    _register_commands(sys.argv[1:])
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
