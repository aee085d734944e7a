"""``smpipe-gen apply``: upload the code, create or update the pipeline, optionally start it.
It never imports the SageMaker SDK (it runs ``check`` in a child process)."""

from __future__ import annotations

from pathlib import Path

import click

from smpipe_gen.commands.options import ASSUME_ROLE, ENVIRONMENT, OUTPUT_DIR, PROJECT_DIR, flag, interactive
from smpipe_gen.errors import SmpipeError
from smpipe_gen.project import Project


@click.command("apply")
@PROJECT_DIR
@OUTPUT_DIR
@flag("--start", "Start an execution after the upsert and print its ARN.")
@click.option("--param", multiple=True, metavar="<str>",
              help="Execution parameter NAME=VALUE (with --start); repeatable.")
@flag("--wait", "With --start: wait for the execution, showing step progress.")
@flag("--dry-run", "Show what would change; upload nothing, change nothing.")
@flag("--yes", "Do not ask before changing the pipeline.", "-y")
@flag("--skip-check", "Trust that `smpipe-gen check` already passed in this build.")
@click.option("--poll-seconds", "poll", type=float, default=15.0, hidden=True, help="Polling interval for --wait.")
@ENVIRONMENT
@ASSUME_ROLE
def command(project_dir: Path, out: Path, start: bool, param: tuple[str, ...], wait: bool, dry_run: bool,
                  yes: bool, skip_check: bool, poll: float, environment: str | None, assume_role: str | None) -> None:
    """Upload the code artifacts and create or update the pipeline from the committed definition.

    Refuses a stale definition (as `check` sees it) or code files changed since the render.
    Asks before changing the pipeline only when run from a terminal (CI never blocks)."""
    from smpipe_gen import apply as deploy

    if wait and not start:
        raise SmpipeError("--wait needs --start", where="apply", hint="add --start or drop --wait")
    if param and not start:
        raise SmpipeError("--param needs --start", where="apply", hint="add --start")
    project = Project.at(project_dir, out, environment)
    loaded = deploy.load(project)
    parameters = deploy.typed_parameters(loaded.definition, param)
    if not skip_check:
        deploy.ensure_fresh(project)
    deploy.verify_sources(loaded)
    deployer = deploy.connect(loaded.manifest, assume_role=assume_role, echo=click.echo)

    def confirm(changes: list[str]) -> bool:
        return click.confirm(f"apply to pipeline {loaded.manifest.pipeline.name} ({', '.join(changes)})?")

    outcome = deploy.apply(loaded, deployer, dry_run=dry_run, confirm=None if (yes or dry_run or not interactive())
                           else confirm)
    name = loaded.manifest.pipeline.name
    verb = "would upload" if dry_run else "uploaded"
    click.echo(f"code: {verb} {len(outcome.uploaded)}, already present {len(outcome.present)}")
    if outcome.definition_s3_uri:
        click.echo(f"definition is over 100 KiB: passed via {outcome.definition_s3_uri}")
    if outcome.action == "unchanged":
        click.echo(f"pipeline {name}: no changes ({outcome.pipeline_arn})")
    else:
        click.echo(f"pipeline {name}: {outcome.action} ({', '.join(outcome.changes)})"
                   + (f" {outcome.pipeline_arn}" if outcome.pipeline_arn else ""))
    if not start:
        return
    if dry_run:
        click.echo(f"would start an execution of {name}"
                   + (f" with {', '.join(p['Name'] + '=' + p['Value'] for p in parameters)}" if parameters else ""))
        return
    arn = deploy.start(deployer, parameters)
    click.echo(f"started execution: {arn}")
    if wait:
        status = deploy.wait(deployer, arn, interval=poll)
        click.echo(f"execution {status}: {arn}")
        if status != "Succeeded":
            raise SmpipeError(f"execution ended {status}", where=arn,
                              hint="see the failed step in SageMaker Studio or `aws sagemaker list-pipeline-execution-steps`")
