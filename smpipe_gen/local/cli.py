"""``smpipe-gen run --local``: execute the committed definition and manifest on this machine, or
any SDK definition (``--definition FILE --code DIR``) or SDK pipeline program (``--pipeline``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from smpipe_gen import artifacts
from smpipe_gen.cli_options import ENVIRONMENT, OUTPUT_DIR, PROJECT_DIR, flag
from smpipe_gen.errors import SmpipeError
from smpipe_gen.parameters import parse_assignments
from smpipe_gen.project import Project

if TYPE_CHECKING:
    from smpipe_gen.definition import Definition


def rendered_inputs(project: Project) -> tuple[Definition, artifacts.Manifest, Path]:
    """The project's rendered definition and manifest, and the root their code paths are under."""
    from smpipe_gen import definition

    model = definition.load(project, hint="run `smpipe-gen render`, or run any SDK definition with --definition "
                                          "FILE --code DIR or an SDK program with --pipeline FILE.py")
    return model, model.manifest, project.root


def foreign_inputs(definition_file: Path, code_dir: Path | None, name: str | None = None,
                   region: str | None = None) -> tuple[Definition, artifacts.Manifest, Path]:
    """Any SDK definition, its code objects served from ``code_dir`` (see local/foreign.py)."""
    from smpipe_gen import definition
    from smpipe_gen.local.foreign import derived_manifest, pipeline_name

    model = definition.load_file(definition_file, shown=f"--definition {definition_file}",
                                 hint="pass the JSON of Pipeline.definition()")
    folder = code_dir or definition_file.parent
    if not folder.is_dir():
        raise SmpipeError(f"{folder} is not a directory", where="--code", hint="the folder holding the code objects")
    region = region or os.environ.get("SMP_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    manifest = derived_manifest(model, folder, name or pipeline_name(definition_file), region)
    return model, manifest, folder.resolve()


def captured_inputs(spec: str, work: Path) -> tuple[Definition, artifacts.Manifest, Path]:
    """Run an SDK pipeline program in a child process (local/capture.py) and take what it built."""
    import json
    import shutil
    import subprocess
    import sys

    source = spec.partition(":")[0]
    if not Path(source).is_file():
        raise SmpipeError(f"{source} not found", where="--pipeline", hint="FILE.py or FILE.py:FUNCTION")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "smpipe_gen.local.capture", spec, str(work)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
        raise SmpipeError(f"building the pipeline failed: {lines[-1]}", where=f"--pipeline {spec}",
                          hint="the program must build its Pipeline without calling AWS (upsert/start belong "
                               "under if __name__ == '__main__')")
    meta = json.loads((work / "pipeline.json").read_text(encoding="utf-8"))
    return foreign_inputs(work / "definition.json", work / "objects", meta["name"], meta["region"])


def run_local(project: Project, *, params: list[str], max_parallel: int, no_cache: bool, from_step: str | None,
              data: list[str], run_root: Path | None, use_namespace: bool = True,
              definition_file: Path | None = None, code_dir: Path | None = None,
              pipeline_program: str | None = None, pass_aws: bool = False) -> dict:
    """Run the pipeline and print progress and a summary; returns the run record."""
    from smpipe_gen.local.progress import Progress
    from smpipe_gen.local.scheduler import RunOptions, Runner
    from smpipe_gen.local.store import split_uri

    root = run_root or project.root / ".smpipe"
    if code_dir and not definition_file:
        raise SmpipeError("--code serves the code objects of a --definition", where="--code",
                          hint="add --definition FILE, or drop --code to run the rendered pipeline")
    if pipeline_program:
        definition, manifest, repo_root = captured_inputs(pipeline_program, root / "captured")
    elif definition_file:
        definition, manifest, repo_root = foreign_inputs(definition_file, code_dir)
    else:
        definition, manifest, repo_root = rendered_inputs(project)
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
                         use_cache=not no_cache, from_step=from_step, data=seeds, use_namespace=use_namespace,
                         pass_aws=pass_aws)
    progress = Progress(names={step.name: step.display_name for step in definition})
    runner = Runner(definition, manifest, repo_root, root, options, on_change=progress.change)
    progress.start(list(runner.nodes.values()),
                   f"running {manifest.pipeline.name} locally: execution {runner.execution_id} "
                   f"(run root {root}, up to {max_parallel} steps at a time)")
    try:
        record = runner.run()
    except KeyboardInterrupt:
        progress.stop()
        progress.say(f"interrupted: running jobs stopped, execution {runner.execution_id} recorded as "
                     "Stopped; run again to resume from the steps that finished")
        raise
    finally:
        progress.stop()
    progress.summary(record)
    progress.say(f"run record: {runner.run_dir / 'run.json'}")
    if runner.failure is not None:
        node = runner.failure
        if node.error is not None:
            raise node.error
        tail = runner.log_tail(node)
        if tail:
            progress.say(f"--- last lines of the {progress.shown(node.name)} log ---\n{tail}")
        raise SmpipeError(f"execution failed: {node.message}", where=f"step {node.name}",
                          hint=f"see {runner.run_dir / 'steps'} for the step logs")
    return record


def register(app: click.Group) -> None:
    @app.command("run")
    @flag("--local", "Run on this machine (the only mode for now).")
    @click.option("--param", multiple=True, metavar="<str>", help="Override a pipeline parameter: NAME=VALUE.")
    @click.option("--max-parallel", type=int, default=os.cpu_count() or 1, show_default=True, metavar="<int>",
                  help="Steps to run at once.")
    @flag("--no-cache", "Run every step even when a cached result matches.")
    @click.option("--from-step", metavar="<str>", help="Re-run this step and everything after it.")
    @click.option("--data", multiple=True, metavar="<str>", help="Seed the local store: s3://bucket/prefix=./local/dir.")
    @click.option("--run-root", type=click.Path(path_type=Path), metavar="<path>",
                  help="Local store and run records (default <project>/.smpipe).")
    @PROJECT_DIR
    @OUTPUT_DIR
    @click.option("--definition", type=click.Path(path_type=Path), metavar="<path>",
                  help="Run this definition JSON (from any SDK program) instead of the rendered one.")
    @click.option("--code", type=click.Path(path_type=Path), metavar="<path>",
                  help="With --definition: folder serving its code objects by S3 key suffix (default: the definition's folder).")
    @click.option("--pipeline", metavar="<str>", help="Run an SDK pipeline program: FILE.py or FILE.py:FUNCTION(session).")
    @flag("--pass-aws-credentials", "Give jobs the host's AWS_* variables and ~/.aws (off: jobs see no credentials).")
    @ENVIRONMENT
    @flag("--no-namespace", "Don't give jobs a private /opt/ml; rewrite /opt/ml paths in arguments and environment.")
    def run(local: bool, param: tuple[str, ...], max_parallel: int, no_cache: bool, from_step: str | None,
            data: tuple[str, ...], run_root: Path | None, project_dir: Path, out: Path, definition: Path | None,
            code: Path | None, pipeline: str | None, pass_aws_credentials: bool, environment: str | None,
            no_namespace: bool) -> None:
        """Execute the rendered pipeline (definition.json + manifest.json) locally, without Docker or AWS."""
        if not local:
            raise SmpipeError("only local runs are supported", where="run", hint="pass --local")
        run_local(Project.at(project_dir, out, environment), params=list(param), max_parallel=max_parallel,
                  no_cache=no_cache, from_step=from_step, data=list(data), run_root=run_root,
                  use_namespace=not no_namespace, definition_file=definition, code_dir=code,
                  pipeline_program=pipeline, pass_aws=pass_aws_credentials)
