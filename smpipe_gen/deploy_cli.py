"""The commands that read the rendered artifacts and talk to SageMaker or git: apply, delete,
plan, graph. None of them imports the SageMaker SDK (apply runs ``check`` in a child process)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from smpipe_gen.cli_options import ASSUME_ROLE, EACH_ENVIRONMENT, ENVIRONMENT, OUTPUT_DIR, PROJECT_DIR, flag
from smpipe_gen.errors import SmpipeError
from smpipe_gen.project import Project

PLAN_FORMATS = ("text", "markdown", "json")
GRAPH_FORMATS = ("mermaid", "dot")


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


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
def apply_command(project_dir: Path, out: Path, start: bool, param: tuple[str, ...], wait: bool, dry_run: bool,
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

    outcome = deploy.apply(loaded, deployer, dry_run=dry_run, confirm=None if (yes or dry_run or not _interactive())
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


@click.command("delete")
@PROJECT_DIR
@OUTPUT_DIR
@flag("--yes", "Delete without asking.", "-y")
@ENVIRONMENT
@ASSUME_ROLE
def delete_command(project_dir: Path, out: Path, yes: bool, environment: str | None, assume_role: str | None) -> None:
    """Delete the pipeline named in the manifest (its executions' jobs and S3 objects stay)."""
    from smpipe_gen import apply as deploy

    project = Project.at(project_dir, out, environment)
    manifest = deploy.load(project).manifest
    name = manifest.pipeline.name
    if not yes and not _interactive():
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


@click.command("plan")
@PROJECT_DIR
@OUTPUT_DIR
@click.option("--base", metavar="<str>", help="Git ref to compare with (default: the merge base with the PR's "
                                              "target branch in CI, else with main).")
@flag("--deployed", "Compare with the deployed pipeline (DescribePipeline).")
@click.option("--base-definition", type=click.Path(path_type=Path), metavar="<path>",
              help="Compare with a definition JSON file (e.g. the original framework's pipeline_definition.json).")
@click.option("--format", "output_format", type=click.Choice(PLAN_FORMATS), default="text", show_default=True,
              help="Output format.")
@flag("--cache-history", "Forecast the cache from the deployed pipeline's executions within each step's "
                        "ExpireAfter (read access to SageMaker); --deployed always does.")
@EACH_ENVIRONMENT
@ASSUME_ROLE
@flag("--comment", "Also post the markdown plan on the GitHub pull request, as one comment updated in place "
                   "(GITHUB_TOKEN, CodeBuild's PR variables); also when planning fails, saying why.")
@click.option("--note", "notes", multiple=True, metavar="<str>",
              help="With --comment: a line to show above the plan (what else the build found); repeatable.")
def plan_command(project_dir: Path, out: Path, base: str | None, deployed: bool, base_definition: Path | None,
                 output_format: str, cache_history: bool, environment: str | None, assume_role: str | None,
                 comment: bool, notes: tuple[str, ...]) -> None:
    """Show what the definition changes: steps, parameters, risks, downstream steps; one section
    per environment.

    Exit 0 when nothing changes, 2 when something does."""
    import os

    from smpipe_gen import plan

    if sum(map(bool, (base, deployed, base_definition))) > 1:
        raise SmpipeError("--base, --deployed and --base-definition exclude each other", where="plan",
                          hint="pick one")
    if assume_role and not (deployed or cache_history):
        raise SmpipeError("--assume-role needs --deployed or --cache-history", where="plan",
                          hint="only the comparison with the deployed pipeline and the cache history read AWS")
    if notes and not comment:
        raise SmpipeError("--note needs --comment", where="plan", hint="add --comment")
    pull_request = None
    if comment:
        from smpipe_gen import github

        pull_request = github.pull_request(os.environ)  # before any work: a misconfigured build fails fast
    try:
        results = _plans(project_dir, out, environment, base, deployed, base_definition, cache_history, assume_role)
    except SmpipeError as error:
        if pull_request is not None:  # the PR still learns why there is no plan
            github.upsert_comment(pull_request, _comment_head(notes) + f"**No plan**: `{error.one_line()}`\n")
        raise
    click.echo(plan.format_plans(results, output_format), nl=False)
    if pull_request is not None:
        sections = [plan.format_plans([result], "markdown") for result in results]
        url = github.upsert_comment(pull_request, _comment_head(notes) + github.fit(sections))
        click.echo(f"plan posted: {url}", err=True)
    raise click.exceptions.Exit(2 if any(result.has_changes for result in results) else 0)


def _plans(project_dir: Path, out: Path, environment: str | None, base: str | None, deployed: bool,
           base_definition: Path | None, cache_history: bool, assume_role: str | None) -> list:
    from smpipe_gen import plan

    def echo(line: str) -> None:
        click.echo(line, err=True)

    def reader(project: Project) -> Any:  # what ran, for the cache forecast
        return plan.history_reader(project, assume_role=assume_role, echo=echo) if cache_history else None

    projects = Project.each(project_dir, out, environment)
    if base_definition:
        return [plan.against_definition(p, base_definition, reader(p)) for p in projects]
    if deployed:
        return [plan.against_deployed(p, assume_role=assume_role, echo=echo) for p in projects]
    return [plan.against_ref(p, base, reader(p)) for p in projects]


def _comment_head(notes: tuple[str, ...]) -> str:
    return "".join(f"> {note}\n>\n" for note in notes) + ("\n" if notes else "")


@click.command("graph")
@PROJECT_DIR
@OUTPUT_DIR
@click.option("--format", "output_format", type=click.Choice(GRAPH_FORMATS), default="mermaid", show_default=True,
              help="Output format.")
@ENVIRONMENT
def graph_command(project_dir: Path, out: Path, output_format: str, environment: str | None) -> None:
    """Draw the DAG of the rendered definition (steps, data and DependsOn edges, condition branches)."""
    from smpipe_gen import definition, drawing

    draw = drawing.mermaid if output_format == "mermaid" else drawing.dot
    click.echo(draw(definition.load(Project.at(project_dir, out, environment))), nl=False)


def register(app: click.Group) -> None:
    for command in (apply_command, delete_command, plan_command, graph_command):
        app.add_command(command)
