"""``smpipe-gen run --local``: execute the committed definition and manifest on this machine, or
any SDK definition (``--definition FILE --code DIR``) or SDK pipeline program (``--pipeline``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from smpipe_gen import manifest
from smpipe_gen.commands.options import ENVIRONMENT, OUTPUT_DIR, PROJECT_DIR, flag
from smpipe_gen.errors import SmpipeError
from smpipe_gen.parameters import parse_assignments
from smpipe_gen.project import Project

if TYPE_CHECKING:
    from smpipe_gen.definition import Definition
    from smpipe_gen.local.endpoint import Endpoint


def rendered_inputs(project: Project) -> tuple[Definition, manifest.Manifest, Path]:
    """The project's rendered definition and manifest, and the root their code paths are under."""
    from smpipe_gen import definition

    model = definition.load(project, hint="run `smpipe-gen render`, or run any SDK definition with --definition "
                                          "FILE --code DIR or an SDK program with --pipeline FILE.py")
    return model, model.manifest, project.root


def default_region() -> str:
    """The region of a run without a rendered manifest (a foreign definition, an SDK program)."""
    return os.environ.get("SMP_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def foreign_inputs(definition_file: Path, code_dir: Path | None, seeds: dict[str, Path], name: str | None = None,
                   region: str | None = None) -> tuple[Definition, manifest.Manifest, Path]:
    """Any SDK definition, its code objects served from ``code_dir`` or the ``--data`` ``seeds``
    (see local/foreign.py); ``name`` given for a captured program's."""
    from smpipe_gen import definition
    from smpipe_gen.local.foreign import derived_manifest, pipeline_name

    model = definition.load_file(definition_file, shown=f"--definition {definition_file}",
                                 hint="pass the JSON of Pipeline.definition()")
    folder = code_dir or definition_file.parent
    if not folder.is_dir():
        raise SmpipeError(f"{folder} is not a directory", where="--code", hint="the folder holding the code objects")
    manifest = derived_manifest(model, folder, name or pipeline_name(definition_file), region or default_region(),
                                seeds, captured=name is not None)
    return model, manifest, folder.resolve()


def pipeline_kwargs(text: str | None, program: str | None) -> str:
    """``--kwargs`` checked: a JSON object, for a ``--pipeline`` program."""
    if text is None:
        return "{}"
    if not program:
        raise SmpipeError("keyword arguments go to the function of a --pipeline program", where="--kwargs",
                          hint="add --pipeline MODULE:FUNCTION, or drop --kwargs")
    import json

    try:
        value = json.loads(text)
    except ValueError as error:
        value = error
    if not isinstance(value, dict):
        raise SmpipeError("not a JSON object", where="--kwargs", hint='pass --kwargs \'{"region": "us-east-1"}\'')
    return text


def captured_inputs(spec: str, kwargs: str, work: Path, endpoint: Endpoint,
                    data: dict[str, Path]) -> tuple[Definition, manifest.Manifest, Path, dict[str, Path]]:
    """Run an SDK pipeline program in a child process (local/capture.py) with its AWS calls sent to
    ``endpoint``, and take what it built: the definition, and every object it put in S3 (served as
    code objects and as data: the returned seeds); a code object it did not upload is looked for
    in the ``--data`` seeds ``data``."""
    import json
    import shutil
    import subprocess
    import sys

    from smpipe_gen.local.sandbox import NO_AWS

    source = spec.partition(":")[0]
    if (source.endswith(".py") or os.sep in source) and not Path(source).is_file():
        raise SmpipeError(f"{source} not found", where="--pipeline",
                          hint="FILE.py[:FUNCTION], or a module pkg.module[:FUNCTION] importable from here")
    shutil.rmtree(work, ignore_errors=True)
    (work / "objects").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({**NO_AWS, **endpoint.env()})
    endpoint.start()  # beside the program's SDK import: it calls AWS as soon as it builds
    with open(work / "build.log", "wb") as log:
        done = subprocess.run([sys.executable, "-m", "smpipe_gen.local.capture", spec, str(work), kwargs],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    endpoint.dump(work / "objects")
    endpoint.functions(work / "functions")  # the Lambda functions it created, for its Lambda steps
    if endpoint.failure:
        raise SmpipeError(endpoint.failure, where=f"--pipeline {spec}",
                          hint="moto, flask and flask-cors (dependencies of smpipe-gen) serve it: reinstall smpipe-gen")
    if done.returncode != 0:
        raise _build_failure(spec, work)
    meta = json.loads((work / "pipeline.json").read_text(encoding="utf-8"))
    seeds = {f"s3://{bucket.name}": bucket for bucket in sorted((work / "objects").iterdir()) if bucket.is_dir()}
    return (*foreign_inputs(work / "definition.json", work / "objects", data, meta["name"], meta["region"]), seeds)


def _build_failure(spec: str, work: Path) -> SmpipeError:
    """The program's exception and the line it came through, or this tool's own message."""
    from smpipe_gen.local.jobs import read_state

    log = work / "build.log"
    report = read_state(work / "error.json", "capture report") or {}
    if not report:
        lines = log.read_text(errors="replace").strip().splitlines() if log.is_file() else []
        report = {"error": lines[-1] if lines else "(no output)"}
    where = f" ({report['where']})" if report.get("where") else ""
    hint = f"the program's output and traceback are in {log}"
    if "missing" in report["error"] and "required" in report["error"] and "argument" in report["error"]:
        hint = "pass the function's arguments as --kwargs JSON; " + hint
    elif report["error"].startswith(f"ModuleNotFoundError: No module named '{spec.partition(':')[0]}'"):
        hint = "a module is imported from the working directory: run from the folder holding its package"
    elif report.get("bucket"):  # made in the user's account beforehand: --data makes it here, even an empty folder
        hint = f"make the bucket with --data s3://{report['bucket']}/=./DIR (an empty folder will do); " + hint
    return SmpipeError(f"building the pipeline failed: {report['error']}{where}", where=f"--pipeline {spec}",
                       hint=hint)


def data_seeds(data: list[str]) -> dict[str, Path]:
    """``--data s3://bucket/prefix=./local/dir`` as store seeds, each path checked."""
    from smpipe_gen.local.store import split_uri

    seeds = {}
    for uri, local in parse_assignments(data, "--data", "s3://bucket/prefix=./local/dir", split_last=True).items():
        split_uri(uri)
        path = Path(local) if Path(local).is_absolute() else Path.cwd() / local
        if not path.exists():
            raise SmpipeError(f"{local} does not exist", where=f"--data {uri}", hint="point it at a local file or directory")
        seeds[uri] = path
    return seeds


def run_local(project: Project, *, params: list[str], max_parallel: int, no_cache: bool, from_step: str | None,
              data: list[str], run_root: Path | None, use_namespace: bool = True,
              definition_file: Path | None = None, code_dir: Path | None = None,
              pipeline_program: str | None = None, kwargs: str | None = None, pass_aws: bool = False,
              lambdas: tuple[str, ...] = (), stand_ins: tuple[str, ...] = ()) -> dict:
    """Run the pipeline and print progress and a summary; returns the run record."""
    from smpipe_gen.local.endpoint import Endpoint

    root = run_root or project.root / ".smpipe"
    if code_dir and not definition_file:
        raise SmpipeError("--code serves the code objects of a --definition", where="--code",
                          hint="add --definition FILE, or drop --code to run the rendered pipeline")
    kwargs = pipeline_kwargs(kwargs, pipeline_program)
    seeds = data_seeds(data)
    endpoint = Endpoint(default_region(), root / "endpoint.log")
    try:
        endpoint.hold(root / "s3", seeds)  # a program being captured may read its data set from S3
        if pipeline_program:
            definition, manifest, repo_root, captured = captured_inputs(pipeline_program, kwargs, root / "captured",
                                                                        endpoint, seeds)
            seeds = {**captured, **seeds}
        elif definition_file:
            definition, manifest, repo_root = foreign_inputs(definition_file, code_dir, seeds)
        else:
            definition, manifest, repo_root = rendered_inputs(project)
        endpoint.region = manifest.pipeline.region
        steps = _lambda_and_stand_ins(project, definition, root if pipeline_program else None, lambdas, stand_ins)
        return _execute(definition, manifest, repo_root, root, endpoint, seeds=seeds, params=params,
                        max_parallel=max_parallel, no_cache=no_cache, from_step=from_step,
                        use_namespace=use_namespace, pass_aws=pass_aws, **steps)
    finally:
        endpoint.close()


def _lambda_and_stand_ins(project: Project, definition: Definition, captured_root: Path | None,
                          lambdas: tuple[str, ...], stand_ins: tuple[str, ...]) -> dict:
    """The Lambda functions of the run (a captured program's, then ``--lambda``'s) and the
    ``--stand-in`` steps, as RunOptions fields."""
    from smpipe_gen.local import stand_in
    from smpipe_gen.local.jobs import lambda_function

    functions = lambda_function.captured(captured_root / "captured" / "functions") if captured_root else {}
    given = lambda_function.from_options(lambdas, project.root)
    lambda_function.check_invoked(given, [step.body for step in definition])
    functions.update(given)
    return {"functions": functions, "stand_ins": stand_in.load(stand_ins, definition, project.root)}


def _execute(definition: Definition, manifest: manifest.Manifest, repo_root: Path, root: Path, endpoint: Endpoint, *,
             seeds: dict[str, Path], params: list[str], max_parallel: int, no_cache: bool, from_step: str | None,
             use_namespace: bool, pass_aws: bool, functions: dict, stand_ins: dict) -> dict:
    from smpipe_gen.local.progress import Progress
    from smpipe_gen.local.scheduler import RunOptions, Runner

    if max_parallel < 1:
        raise SmpipeError("must be at least 1", where="--max-parallel", hint="pass --max-parallel 1 or more")
    if manifest.pipeline.parallelism:  # the pipeline's own ParallelismConfiguration, as SageMaker honours it
        max_parallel = min(max_parallel, manifest.pipeline.parallelism)
    options = RunOptions(parameters=parse_assignments(params, "--param"), max_parallel=max_parallel,
                         use_cache=not no_cache, from_step=from_step, data=seeds, use_namespace=use_namespace,
                         pass_aws=pass_aws, functions=functions, stand_ins=stand_ins)
    progress = Progress(names={step.name: step.display_name for step in definition})
    runner = Runner(definition, manifest, repo_root, root, options, on_change=progress.change, endpoint=endpoint)
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


@click.command("run")
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
@click.option("--pipeline", metavar="<str>",
              help="Run an SDK pipeline program: FILE.py[:FUNCTION] or a module pkg.module[:FUNCTION].")
@click.option("--kwargs", metavar="<json>", help="With --pipeline: keyword arguments of its function, as a JSON object.")
@flag("--pass-aws-credentials", "Give jobs the host's AWS_* variables and ~/.aws (off: jobs see no credentials).")
@click.option("--lambda", "lambdas", multiple=True, metavar="<str>",
              help="Run a Lambda step's function from a local file: NAME_OR_ARN=FILE.py:HANDLER.")
@click.option("--stand-in", "stand_ins", multiple=True, metavar="<str>",
              help="Don't run a step; take its properties from a JSON file: STEP=FILE.json.")
@ENVIRONMENT
@flag("--no-namespace", "Don't give jobs a private /opt/ml; rewrite /opt/ml paths in arguments and environment.")
def command(local: bool, param: tuple[str, ...], max_parallel: int, no_cache: bool, from_step: str | None,
        data: tuple[str, ...], run_root: Path | None, project_dir: Path, out: Path, definition: Path | None,
        code: Path | None, pipeline: str | None, kwargs: str | None, pass_aws_credentials: bool,
        environment: str | None, no_namespace: bool, lambdas: tuple[str, ...], stand_ins: tuple[str, ...]) -> None:
    """Execute the rendered pipeline (definition.json + manifest.json) locally, without Docker or AWS."""
    if not local:
        raise SmpipeError("only local runs are supported", where="run", hint="pass --local")
    run_local(Project.at(project_dir, out, environment), params=list(param), max_parallel=max_parallel,
              no_cache=no_cache, from_step=from_step, data=list(data), run_root=run_root,
              use_namespace=not no_namespace, definition_file=definition, code_dir=code,
              pipeline_program=pipeline, kwargs=kwargs, pass_aws=pass_aws_credentials, lambdas=lambdas,
              stand_ins=stand_ins)
