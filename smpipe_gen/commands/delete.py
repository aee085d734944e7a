"""``smpipe-gen delete``: delete the deployed pipeline."""

from __future__ import annotations

from pathlib import Path

import click

from smpipe_gen.commands.options import ASSUME_ROLE, ENVIRONMENT, OUTPUT_DIR, PROJECT_DIR, flag, interactive
from smpipe_gen.errors import SmpipeError
from smpipe_gen.project import Project


@click.command("delete")
@PROJECT_DIR
@OUTPUT_DIR
@flag("--yes", "Delete without asking.", "-y")
@ENVIRONMENT
@ASSUME_ROLE
def command(project_dir: Path, out: Path, yes: bool, environment: str | None, assume_role: str | None) -> None:
    """Delete the pipeline named in the manifest (its executions' jobs and S3 objects stay)."""
    from smpipe_gen import apply as deploy

    project = Project.at(project_dir, out, environment)
    manifest = deploy.load(project).manifest
    name = manifest.pipeline.name
    if not yes and not interactive():
        raise SmpipeError("refusing to delete without confirmation (no terminal to ask on)",
                          where=f"pipeline {name}", hint="pass --yes to delete from CI")
    deployer = deploy.connect(manifest, assume_role=assume_role, echo=click.echo)  # before asking anything
    if deployer.describe() is None:
        click.echo(f"pipeline {name}: not found, nothing to delete")
        return
    if not yes and not click.confirm(f"delete pipeline {name} in account {deploy.render_account(manifest.pipeline)}, "
                                     f"{manifest.pipeline.region}?"):
        raise SmpipeError("delete declined", where=f"pipeline {name}", hint="nothing was changed")
    deleted = deployer.call("DeletePipeline", deployer.sagemaker.delete_pipeline, PipelineName=name)
    click.echo(f"pipeline {name}: deleted ({deleted.get('PipelineArn', '')})")
