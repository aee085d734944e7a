"""The ``smpipe-gen`` command line. Exit codes: 0 ok, 1 error, 2 differences found.

Commands import their machinery lazily so that commands which only read the rendered
artifacts (plan, apply, graph, run --local) never import the SageMaker SDK, and a command
imports only its own module, smpipe_gen/commands/<command>.py (``--help`` and unknown
commands import them all).
Plain click: typer converts every parameter through pydantic (~0.2 s of imports on every
start), more than many commands' own work.
"""

from __future__ import annotations

import importlib
import sys

import click

from smpipe_gen import __version__
from smpipe_gen.errors import SmpipeError


class _Commands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # as registered: the order of COMMANDS, not sorted


@click.group(name="smpipe-gen", cls=_Commands, no_args_is_help=True,
             help="Render SageMaker Pipelines from YAML into reviewed artifacts; check, plan, apply, run locally.")
@click.version_option(__version__, "--version", prog_name="smpipe-gen", message="%(prog)s %(version)s",
                      help="Print the version and exit.")
def app() -> None:
    """smpipe-gen: SageMaker Pipelines as reviewed, reproducible code."""


# The order of the commands is the order --help lists them; each is smpipe_gen/commands/<name>.py.
COMMANDS = ("validate", "schema", "render", "check", "run", "apply", "delete", "plan", "graph")
_registered: set[str] = set()


def _register_commands(argv: list[str]) -> None:
    """Register the command ``argv`` names, or every command. Each at most once per process:
    main() may be called again in-process (the fuzzer does)."""
    named = argv[0] if argv and argv[0] in COMMANDS else None
    for name in [named] if named else COMMANDS:
        if name not in _registered:
            app.add_command(importlib.import_module(f"smpipe_gen.commands.{name}").command)
            _registered.add(name)


def main() -> None:
    _register_commands(sys.argv[1:])
    try:
        exit_code = app.main(args=sys.argv[1:], prog_name="smpipe-gen", standalone_mode=False)
    except SmpipeError as error:
        for line in error.lines():
            click.secho(f"error: {line}", err=True, fg="red")
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.Abort as abort:
        interrupted = isinstance(abort.__cause__, KeyboardInterrupt)  # click turns Ctrl-C into Abort
        click.echo("interrupted" if interrupted else "aborted", err=True)
        sys.exit(130 if interrupted else 1)
    except click.ClickException as usage:
        usage.show()  # click exits 2 for usage errors, which here means "differences found"
        sys.exit(1)
    sys.exit(exit_code if isinstance(exit_code, int) else 0)
