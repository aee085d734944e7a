"""``smpipe-gen schema``: the JSON Schema of a model config file."""

from __future__ import annotations

import json

import click


@click.command("schema")
def command() -> None:
    """Print the JSON Schema of a model config file (for editor completion)."""
    from smpipe_gen.config.schema import config_schema

    click.echo(json.dumps(config_schema(), indent=2, sort_keys=True))
