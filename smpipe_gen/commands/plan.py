"""``smpipe-gen plan``: what merging or applying would change, for a reviewer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from smpipe_gen.commands.options import ASSUME_ROLE, EACH_ENVIRONMENT, OUTPUT_DIR, PROJECT_DIR, flag
from smpipe_gen.errors import SmpipeError
from smpipe_gen.project import Project

PLAN_FORMATS = ("text", "markdown", "json")


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
def command(project_dir: Path, out: Path, base: str | None, deployed: bool, base_definition: Path | None,
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
