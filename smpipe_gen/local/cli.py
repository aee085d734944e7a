"""``smpipe-gen run --local``: execute the committed definition and manifest on this machine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from smpipe_gen import artifacts
from smpipe_gen.cli_options import ENVIRONMENT, OUTPUT_DIR, PROJECT_DIR
from smpipe_gen.errors import SmpipeError
from smpipe_gen.parameters import parse_assignments
from smpipe_gen.project import Project


def run_local(project: Project, *, params: list[str], max_parallel: int, no_cache: bool, from_step: str | None,
              data: list[str], run_root: Path | None, use_namespace: bool = True) -> dict:
    """Run the pipeline and print progress and a summary; returns the run record."""
    from smpipe_gen.local.progress import Progress
    from smpipe_gen.local.scheduler import RunOptions, Runner
    from smpipe_gen.local.store import split_uri

    for path in (project.definition_json, project.manifest_json):
        if not path.is_file():
            raise SmpipeError(f"{project.relative(path)} not found", where=str(project.root),
                              hint="render the pipeline first: smpipe-gen render")
    try:
        definition = artifacts.read_definition(project.definition_json)
        manifest = artifacts.read_manifest(project.manifest_json)
    except ValueError as error:
        raise SmpipeError(f"cannot read the rendered artifacts: {str(error).splitlines()[0]}",
                          where=project.relative(project.output_dir), hint="re-render the pipeline") from None
    seeds = {}
    for uri, local in parse_assignments(data, "--data", "s3://bucket/prefix=./local/dir", split_last=True).items():
        split_uri(uri)
        path = Path(local) if Path(local).is_absolute() else Path.cwd() / local
        if not path.exists():
            raise SmpipeError(f"{local} does not exist", where=f"--data {uri}", hint="point it at a local file or directory")
        seeds[uri] = path
    if max_parallel < 1:
        raise SmpipeError("must be at least 1", where="--max-parallel", hint="pass --max-parallel 1 or more")
    if manifest.pipeline.parallelism:  # the pipeline's own ParallelismConfiguration, as SageMaker honours it
        max_parallel = min(max_parallel, manifest.pipeline.parallelism)
    options = RunOptions(parameters=parse_assignments(params, "--param"), max_parallel=max_parallel,
                         use_cache=not no_cache, from_step=from_step, data=seeds, use_namespace=use_namespace)
    root = run_root or project.root / ".smpipe"
    progress = Progress()
    runner = Runner(definition, manifest, project.root, root, options, on_change=progress.change)
    progress.start(list(runner.nodes.values()),
                   f"running {manifest.pipeline.name} locally: execution {runner.execution_id} "
                   f"(run root {root}, up to {max_parallel} steps at a time)")
    try:
        record = runner.run()
    except KeyboardInterrupt:
        progress.stop()
        progress.console.print(f"interrupted: running jobs stopped, execution {runner.execution_id} recorded as "
                               "Stopped; run again to resume from the steps that finished", highlight=False)
        raise
    finally:
        progress.stop()
    progress.summary(record)
    progress.console.print(f"run record: {runner.run_dir / 'run.json'}", highlight=False)
    if runner.failure is not None:
        node = runner.failure
        if node.error is not None:
            raise node.error
        tail = runner.log_tail(node)
        if tail:
            progress.console.print(f"--- last lines of the {node.name} log ---\n{tail}", highlight=False, markup=False)
        raise SmpipeError(f"execution failed: {node.message}", where=f"step {node.name}",
                          hint=f"see {runner.run_dir / 'steps'} for the step logs")
    return record


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        local: bool = typer.Option(False, "--local", help="Run on this machine (the only mode for now)."),
        param: List[str] = typer.Option([], "--param", help="Override a pipeline parameter: NAME=VALUE."),
        max_parallel: int = typer.Option(os.cpu_count() or 1, "--max-parallel", help="Steps to run at once."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Run every step even when a cached result matches."),
        from_step: Optional[str] = typer.Option(None, "--from-step", help="Re-run this step and everything after it."),
        data: List[str] = typer.Option([], "--data", help="Seed the local store: s3://bucket/prefix=./local/dir."),
        run_root: Optional[Path] = typer.Option(None, "--run-root", help="Local store and run records (default <project>/.smpipe)."),
        project_dir: Path = PROJECT_DIR,
        out: Path = OUTPUT_DIR,
        environment: Optional[str] = ENVIRONMENT,
        no_namespace: bool = typer.Option(False, "--no-namespace",
                                          help="Don't give jobs a private /opt/ml; rewrite /opt/ml paths in arguments and environment."),
    ) -> None:
        """Execute the rendered pipeline (definition.json + manifest.json) locally, without Docker or AWS."""
        if not local:
            raise SmpipeError("only local runs are supported", where="run", hint="pass --local")
        run_local(Project.at(project_dir, out, environment), params=param, max_parallel=max_parallel, no_cache=no_cache,
                  from_step=from_step, data=data, run_root=run_root, use_namespace=not no_namespace)
