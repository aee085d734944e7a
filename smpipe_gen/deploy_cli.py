"""The commands that read the rendered artifacts and talk to SageMaker or git: apply, delete,
plan, graph. None of them imports the SageMaker SDK (apply runs ``check`` in a child process)."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import List, Optional

import typer

from smpipe_gen.cli_options import EACH_ENVIRONMENT, ENVIRONMENT, OUTPUT_DIR, PROJECT_DIR
from smpipe_gen.errors import SmpipeError
from smpipe_gen.project import Project



class PlanFormat(str, enum.Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


class GraphFormat(str, enum.Enum):
    mermaid = "mermaid"
    dot = "dot"


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def apply_command(
    project_dir: Path = PROJECT_DIR,
    out: Path = OUTPUT_DIR,
    start: bool = typer.Option(False, "--start", help="Start an execution after the upsert and print its ARN."),
    param: List[str] = typer.Option([], "--param", help="Execution parameter NAME=VALUE (with --start); repeatable."),
    wait: bool = typer.Option(False, "--wait", help="With --start: wait for the execution, showing step progress."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; upload nothing, change nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before changing the pipeline."),
    skip_check: bool = typer.Option(False, "--skip-check",
                                    help="Trust that `smpipe-gen check` already passed in this build."),
    poll: float = typer.Option(15.0, "--poll-seconds", help="Polling interval for --wait.", hidden=True),
    environment: Optional[str] = ENVIRONMENT,
    assume_role: Optional[str] = typer.Option(None, "--assume-role", metavar="ARN",
                                              help="Assume this IAM role (STS) before deploying, e.g. the "
                                                   "environment account's deploy role."),
) -> None:
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
    deployer = deploy.Deployer(loaded.manifest, echo=typer.echo, assume_role=assume_role)
    if project.environment:
        deployer.check_account()

    def confirm(changes: list[str]) -> bool:
        return typer.confirm(f"apply to pipeline {loaded.manifest.pipeline.name} ({', '.join(changes)})?")

    outcome = deploy.apply(loaded, deployer, dry_run=dry_run, confirm=None if (yes or dry_run or not _interactive())
                           else confirm)
    name = loaded.manifest.pipeline.name
    verb = "would upload" if dry_run else "uploaded"
    typer.echo(f"code: {verb} {len(outcome.uploaded)}, already present {len(outcome.present)}")
    if outcome.definition_s3_uri:
        typer.echo(f"definition is over 100 KiB: passed via {outcome.definition_s3_uri}")
    if outcome.action == "unchanged":
        typer.echo(f"pipeline {name}: no changes ({outcome.pipeline_arn})")
    else:
        typer.echo(f"pipeline {name}: {outcome.action} ({', '.join(outcome.changes)})"
                   + (f" {outcome.pipeline_arn}" if outcome.pipeline_arn else ""))
    if not start:
        return
    if dry_run:
        typer.echo(f"would start an execution of {name}"
                   + (f" with {', '.join(p['Name'] + '=' + p['Value'] for p in parameters)}" if parameters else ""))
        return
    arn = deploy.start(deployer, parameters)
    typer.echo(f"started execution: {arn}")
    if wait:
        status = deploy.wait(deployer, arn, interval=poll)
        typer.echo(f"execution {status}: {arn}")
        if status != "Succeeded":
            raise SmpipeError(f"execution ended {status}", where=arn,
                              hint="see the failed step in SageMaker Studio or `aws sagemaker list-pipeline-execution-steps`")


def delete_command(
    project_dir: Path = PROJECT_DIR,
    out: Path = OUTPUT_DIR,
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking."),
    environment: Optional[str] = ENVIRONMENT,
) -> None:
    """Delete the pipeline named in the manifest (its executions' jobs and S3 objects stay)."""
    from smpipe_gen import apply as deploy

    project = Project.at(project_dir, out, environment)
    manifest = deploy.load(project).manifest
    name = manifest.pipeline.name
    if not yes:
        if not _interactive():
            raise SmpipeError("refusing to delete without confirmation (no terminal to ask on)",
                              where=f"pipeline {name}", hint="pass --yes to delete from CI")
        if not typer.confirm(f"delete pipeline {name} in {manifest.pipeline.region}?"):
            raise SmpipeError("delete declined", where=f"pipeline {name}", hint="nothing was changed")
    deployer = deploy.Deployer(manifest, echo=typer.echo)
    if deployer.describe() is None:
        typer.echo(f"pipeline {name}: not found, nothing to delete")
        return
    deleted = deployer.call("DeletePipeline", deployer.sagemaker.delete_pipeline, PipelineName=name)
    typer.echo(f"pipeline {name}: deleted ({deleted.get('PipelineArn', '')})")


def plan_command(
    project_dir: Path = PROJECT_DIR,
    out: Path = OUTPUT_DIR,
    base: Optional[str] = typer.Option(None, "--base", help="Git ref to compare with (default: the merge base "
                                       "with the PR's target branch in CI, else with main)."),
    deployed: bool = typer.Option(False, "--deployed", help="Compare with the deployed pipeline (DescribePipeline)."),
    base_definition: Optional[Path] = typer.Option(
        None, "--base-definition",
        help="Compare with a definition JSON file (e.g. the original framework's pipeline_definition.json)."),
    output_format: PlanFormat = typer.Option(PlanFormat.text, "--format", help="Output format."),
    environment: Optional[str] = EACH_ENVIRONMENT,
    comment: bool = typer.Option(False, "--comment", help="Also post the markdown plan on the GitHub PR, as one "
                                 "comment updated in place (GITHUB_TOKEN, CodeBuild's PR variables)."),
) -> None:
    """Show what the definition changes: steps, parameters, risks, downstream steps; one section
    per environment.

    Exit 0 when nothing changes, 2 when something does."""
    import os

    from smpipe_gen import plan

    if sum(map(bool, (base, deployed, base_definition))) > 1:
        raise SmpipeError("--base, --deployed and --base-definition exclude each other", where="plan",
                          hint="pick one")
    pull_request = None
    if comment:
        from smpipe_gen import github

        pull_request = github.pull_request(os.environ)  # before any work: a misconfigured build fails fast
    projects = Project.each(project_dir, out, environment)
    if base_definition:
        results = [plan.against_definition(p, base_definition) for p in projects]
    else:
        results = [plan.against_deployed(p) if deployed else plan.against_ref(p, base) for p in projects]
    typer.echo(plan.format_plans(results, output_format.value), nl=False)
    if pull_request is not None:
        url = github.upsert_comment(pull_request, plan.format_plans(results, "markdown"))
        typer.echo(f"plan posted: {url}", err=True)
    raise typer.Exit(2 if any(result.has_changes for result in results) else 0)


def graph_command(
    project_dir: Path = PROJECT_DIR,
    out: Path = OUTPUT_DIR,
    output_format: GraphFormat = typer.Option(GraphFormat.mermaid, "--format", help="Output format."),
    environment: Optional[str] = ENVIRONMENT,
) -> None:
    """Draw the DAG of the rendered definition (steps, data and DependsOn edges, condition branches)."""
    from smpipe_gen import definition, drawing

    draw = drawing.mermaid if output_format is GraphFormat.mermaid else drawing.dot
    typer.echo(draw(definition.load(Project.at(project_dir, out, environment))), nl=False)


def register(app: typer.Typer) -> None:
    app.command("apply")(apply_command)
    app.command("delete")(delete_command)
    app.command("plan")(plan_command)
    app.command("graph")(graph_command)
