"""Executing the definition's DAG: independent steps in parallel, condition branches, caching,
resume, and SageMaker's failure semantics (no new steps after a failure, running ones finish)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import shutil
import string
import subprocess
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from smpipe_gen import artifacts
from smpipe_gen.artifacts import Manifest
from smpipe_gen.definition import Definition, as_list, dig, expire_seconds
from smpipe_gen.errors import ConfigErrors, SmpipeError, shorten
from smpipe_gen.local import sandbox
from smpipe_gen.local.api import argument_problem
from smpipe_gen.local.cache import CACHEABLE, Cache, cache_key
from smpipe_gen.local.code import CodeArtifacts
from smpipe_gen.local.expressions import FOREIGN_HINT, Resolver
from smpipe_gen.parameters import parameter_values
from smpipe_gen.paths import file_name
from smpipe_gen.local.jobs import JobContext, StepFailed, StepResult, read_state
from smpipe_gen.local.jobs import condition, fail, model, processing, register, training, transform, tuning
from smpipe_gen.local.jobs import lambda_function
from smpipe_gen.local import stand_in
from smpipe_gen.local.store import Store

if TYPE_CHECKING:
    from smpipe_gen.local.endpoint import Endpoint

RUNNERS: dict[str, Callable[[JobContext], StepResult]] = {
    "Processing": processing.run, "Training": training.run, "Tuning": tuning.run, "Model": model.run,
    "Transform": transform.run, "RegisterModel": register.run, "Condition": condition.run, "Fail": fail.run,
    "Lambda": lambda_function.run,
}
JOB_TYPES = frozenset({"Processing", "Training", "Tuning", "Transform"})  # steps whose processes may write to S3
PENDING, RUNNING, DONE, CACHED, FAILED, SKIPPED, NOT_STARTED = (
    "pending", "running", "done", "cached", "failed", "skipped", "not started")
STOOD_IN = stand_in.STATE  # --stand-in: not run, its properties a file's (local/stand_in.py)
FINISHED = (DONE, CACHED, STOOD_IN)  # states whose properties the steps after them read


@dataclass
class Node:
    step: dict[str, Any]
    deps: set[str]
    branch_of: tuple[str, bool] | None  # (condition step, True for IfSteps)
    state: str = PENDING
    started: float | None = None
    duration: float | None = None
    result: StepResult | None = None
    message: str | None = None
    cached_from: str | None = None
    error: SmpipeError | None = None
    process_seconds: float | None = None

    @property
    def name(self) -> str:
        return self.step["Name"]

    @property
    def type(self) -> str:
        return self.step["Type"]


@dataclass
class RunOptions:
    parameters: dict[str, str] = field(default_factory=dict)
    max_parallel: int = os.cpu_count() or 1
    use_cache: bool = True
    from_step: str | None = None
    data: dict[str, Path] = field(default_factory=dict)
    use_namespace: bool = True
    pass_aws: bool = False  # jobs get the host's AWS_* variables and ~/.aws
    # ---- wiring for issue 21 (Lambda steps, --stand-in): the lead moves these into the step registry
    functions: dict[str, lambda_function.Function] = field(default_factory=dict)  # Lambda functions by name
    stand_ins: dict[str, stand_in.StandIn] = field(default_factory=dict)  # step name -> its stand-in


def build_graph(definition: Definition, options: RunOptions | None = None) -> dict[str, Node]:
    """One node per step, condition branches flattened, each with the steps it waits for (the
    model has refused unknown references and cycles); every step this runner cannot execute
    (and no stand-in replaces) is refused before anything runs, one line each."""
    options = options or RunOptions()
    problems = stand_in.refusals(definition, RUNNERS, options.stand_ins, options.functions)  # issue 21 wiring
    if problems:
        raise problems[0] if len(problems) == 1 else ConfigErrors(problems)
    nodes: dict[str, Node] = {}
    for step in definition:
        branch_of = (step.condition, step.branch == "if") if step.condition else None
        nodes[step.name] = Node(step=step.json(), deps=set(step.upstream), branch_of=branch_of)
    return nodes


def _new_execution_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(12))


def input_uris(step_type: str, args: dict[str, Any]) -> list[Any]:
    """The arguments a step reads data from (cache keys hash their contents)."""
    if step_type == "Processing":
        return [dig(i, "S3Input", "S3Uri") for i in as_list(args.get("ProcessingInputs")) if dig(i, "S3Input") is not None]
    if step_type == "Training":
        return [dig(c, "DataSource", "S3DataSource", "S3Uri") for c in as_list(args.get("InputDataConfig"))]
    if step_type == "Tuning":
        return input_uris("Training", dig(args, "TrainingJobDefinition") or {})
    if step_type == "Transform":
        return [dig(args, "TransformInput", "DataSource", "S3DataSource", "S3Uri")]
    return []


class _Remover:
    """Deletes finished jobs' working copies in a helper process (``xargs rm -rf``), so no step
    waits for the disk (deleting a job directory can cost as much as starting the job) and no
    thread of the runner competes with the steps for the interpreter (a deleting thread made
    every step start wait for it); the run waits for the deletions only once, at its end."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def remove(self, path: Path) -> None:
        with self._lock:
            try:
                if self._process is None:  # its own session: Ctrl-C stops the run, not the deleting
                    command = [shutil.which("xargs") or "xargs", "-0", "-n", "1", shutil.which("rm") or "rm", "-rf", "--"]
                    self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                                     stderr=subprocess.DEVNULL, start_new_session=True)
                self._process.stdin.write(os.fsencode(path) + b"\0")
                self._process.stdin.flush()
                return
            except OSError:  # no xargs on this machine, or it is gone: delete in the step's own time
                pass
        shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        if self._process is not None:
            self._process.stdin.close()
            self._process.wait()
            self._process = None


class _Deferred(Exception):
    """An expression that needs a step that has not run yet."""


class Runner:
    """One local execution of a rendered pipeline."""

    def __init__(self, definition: Definition, manifest: Manifest, repo_root: Path, run_root: Path,
                 options: RunOptions, on_change: Callable[[Node], None] = lambda node: None,
                 endpoint: Endpoint | None = None):
        self.definition = definition
        self.manifest = manifest
        self.repo_root = Path(repo_root)
        self.run_root = Path(run_root).resolve()
        self.options = options
        self.on_change = on_change
        self.nodes = build_graph(definition, options)
        if options.from_step:
            step = definition.named(options.from_step)
            if step is None:
                raise SmpipeError(f"no step named {options.from_step!r}", where="--from-step",
                                  hint=f"steps: {', '.join(dict.fromkeys(s.display_name for s in definition))}")
            self.options = options = dataclasses.replace(options, from_step=step.name)
        self.parameters = parameter_values(definition.data, options.parameters)
        seeds = {uri: (self.repo_root / path) for uri, path in manifest.local_data.items()}
        seeds.update(options.data)
        self.store = Store(self.run_root / "s3", seeds)
        self.endpoint = endpoint  # the loopback AWS endpoint jobs call (local/endpoint.py), serving the store
        if endpoint is not None:
            endpoint.hold(self.store.root, self.store.seeds)
        self.code = CodeArtifacts(manifest, self.repo_root, self.run_root / "code")
        self.cache = Cache(self.run_root / "cache", self.store)
        self.execution_id = _new_execution_id()
        self.run_dir = self.run_root / "runs" / self.execution_id
        name = manifest.pipeline.name
        region = manifest.pipeline.region
        self.execution = {
            "PipelineExecutionId": self.execution_id, "PipelineName": name,
            "PipelineExecutionArn": f"arn:aws:sagemaker:{region}:000000000000:pipeline/{name}/execution/{self.execution_id}",
            "PipelineArn": f"arn:aws:sagemaker:{region}:000000000000:pipeline/{name}",
            "StartDateTime": datetime.now(timezone.utc).isoformat(), "CurrentDateTime": datetime.now(timezone.utc).isoformat(),
        }
        self.resolver = Resolver(self.parameters, self.execution, self._properties, self._property_file, self._read_uri)
        self._prechecking = False
        self._stop = False
        self._lock = threading.Lock()  # the nodes' states, once steps run
        self._running: dict[str, Node] = {}
        self._idle = threading.Event()  # set when no step runs and none can start
        self._broken: BaseException | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._from_ancestors: set[str] = set()
        self._previous_ids = {p.name for p in (self.run_root / "runs").iterdir()} if (self.run_root / "runs").is_dir() else set()
        self._resumable = self._load_resumable()
        self.started = time.time()
        self.status = "Executing"
        self.failure: Node | None = None
        self._remover = _Remover()

    # ---- expression callbacks (their errors name no place: the step resolving the expression is it)
    def _properties(self, name: str) -> dict[str, Any]:
        node = self.nodes.get(name)
        if node is None:
            raise SmpipeError(f"Get: unknown step {name!r}")
        if node.result is None:
            if self._prechecking:
                raise _Deferred(name)
            raise SmpipeError(f"Get: step {name!r} has not run (its branch was not taken?)")
        return node.result.properties

    def _property_file(self, step: str | None, name: str) -> Path:
        if step is None:
            raise SmpipeError(f"JsonGet names the property file {name!r} but not the step that writes it")
        props = self._properties(step)
        spec = next((p for p in as_list(self.nodes[step].step.get("PropertyFiles")) if dig(p, "PropertyFileName") == name),
                    None)
        if spec is None:
            raise SmpipeError(f"JsonGet: step {step!r} declares no property file {name!r}")
        outputs = as_list(dig(props, "ProcessingOutputConfig", "Outputs"))
        output = next((o for o in outputs if dig(o, "OutputName") == dig(spec, "OutputName")), None)
        uri, file = dig(output, "S3Output", "S3Uri"), dig(spec, "FilePath")
        if not isinstance(uri, str) or not isinstance(file, str):
            raise SmpipeError(f"JsonGet: property file {name!r} of step {step!r} names no output the step wrote")
        return self.store.path(uri.rstrip("/") + "/" + file)

    def _read_uri(self, uri: str) -> Path:
        objects = self.store.objects(uri) if isinstance(uri, str) else {}
        if len(objects) != 1:
            raise SmpipeError(f"JsonGet: {shorten(str(uri))} is not one object in the local store")
        return next(iter(objects.values()))

    # ---- resume bookkeeping
    def _load_resumable(self) -> set[str]:
        """Executions a re-run may resume from: the unbroken series of unsuccessful runs before this one."""
        last = read_state(self.run_root / "last-run.json", "run bookmark") or {}
        resumable = last.get("resumable", [])
        if last.get("status") == "Succeeded" or not isinstance(resumable, list):
            return set()
        return {r for r in resumable if isinstance(r, str)}

    def _write_last_run(self) -> None:
        resumable = [] if self.status == "Succeeded" else sorted(self._resumable | {self.execution_id})
        artifacts.write_atomic(self.run_root / "last-run.json", json.dumps(
            {"execution_id": self.execution_id, "status": self.status, "resumable": resumable}, indent=1))

    # ---- checks before anything runs
    def precheck(self) -> None:
        """Before anything runs: refuse the steps that cannot run locally (the steps that do not
        depend on them still run, then the run fails naming them), and fail fast on inputs that
        are known now, missing from the store, and that no earlier job may write (those are
        checked when the step reads them)."""
        self._prechecking = True
        try:
            for node in self.nodes.values():
                if node.name in self.options.stand_ins:  # issue 21 wiring: not run, nothing to check
                    continue
                args = node.step.get("Arguments", {})
                if node.type in ("Training", "Tuning"):
                    spec = dig(args, "TrainingJobDefinition") if node.type == "Tuning" else args
                    hps = dig(spec, "StaticHyperParameters" if node.type == "Tuning" else "HyperParameters")
                    spec = {**(spec if isinstance(spec, dict) else {}), "HyperParameters": hps if isinstance(hps, dict) else {}}
                    refused = training.refusal(spec, f"step {node.name}")
                    if refused is not None and not node.branch_of:  # in a branch: fails if the branch is taken
                        self._refuse(node, refused)
                        continue
                for value in input_uris(node.type, args):
                    try:
                        uri = self.resolver.resolve(value, f"step {node.name}")
                        present = not isinstance(uri, str) or self.code.get(uri) or self.store.objects(uri)
                    except _Deferred:  # produced by an earlier step: checked when it is read
                        continue
                    except SmpipeError as error:  # a URI the store refuses
                        raise _located(error, node.name) from None
                    if not present and not self._written_upstream(node):
                        raise SmpipeError(f"input {uri} is not in the local store", where=f"step {node.name}",
                                          hint="add it to the manifest's local_data or pass --data S3URI=./local/dir")
        finally:
            self._prechecking = False

    def _refuse(self, node: Node, error: SmpipeError) -> None:
        node.state, node.error, node.message = FAILED, error, error.one_line()
        if self.failure is None:
            self.failure = node
        self.on_change(node)

    def _written_upstream(self, node: Node) -> bool:
        """Whether a step ``node`` waits for runs a job, which may write what ``node`` reads: to an
        output prefix or with boto3 through the loopback endpoint (SageMaker runs such a pipeline)."""
        return any(self.nodes[name].type in JOB_TYPES for name in self.definition.ancestors(node.name))

    # ---- execution
    def run(self) -> dict[str, Any]:
        try:
            return self._run()
        finally:
            self._remover.close()

    def _run(self) -> dict[str, Any]:
        self.precheck()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._write_last_run()
        if self.options.from_step:
            self._from_ancestors = set(self.definition.ancestors(self.options.from_step))
        with ThreadPoolExecutor(max(1, self.options.max_parallel), thread_name_prefix="smpipe-step") as self._pool:
            try:
                with self._lock:
                    self._advance(None, None, None)
                self._idle.wait()
                if self._broken is not None:
                    raise self._broken
            except KeyboardInterrupt:
                with self._lock:
                    self._stop, self.status = True, "Stopped"
                    for node in self._running.values():
                        node.state, node.message = FAILED, "interrupted"
                sandbox.terminate_all()
                self._write_record()
                raise
        for node in self.nodes.values():
            if node.state == PENDING:
                node.state = NOT_STARTED
                self.on_change(node)
        self.status = "Failed" if self.failure else "Succeeded"
        return self._write_record()

    def _work(self, node: Node) -> None:
        """Run ``node``, then, on this same thread, a step it made ready: between the steps of a
        chain there is no handoff to a scheduling thread and back, each of which waits for the
        other thread to be scheduled (milliseconds on a busy machine)."""
        while node is not None:
            try:
                result, error = self._execute(node), None
            except BaseException as failure:  # whatever it is, it is this step's outcome
                result, error = None, failure
            with self._lock:
                try:
                    node = self._advance(node, result, error)
                except BaseException as broken:  # the runner's own bug: the waiting run raises it
                    self._broken = broken
                    self._idle.set()
                    raise

    def _advance(self, finished: Node | None, result: tuple[StepResult, str | None] | None,
                 error: BaseException | None) -> Node | None:
        """Record a finished step and start every step that is ready now (caller holds _lock);
        returns the one the calling step thread runs next, if any (``finished`` given)."""
        if finished is not None:
            del self._running[finished.name]
            if self.status == "Stopped":  # interrupted: the record is written
                return None
            self._finish(finished, result, error)
        self._propagate_skips()
        ready = [] if self._stop else self._ready()
        for node in ready:
            node.state, node.started = RUNNING, time.time()
            self._running[node.name] = node
            self.on_change(node)
        keep = ready.pop(0) if ready and finished is not None else None
        for node in ready:
            self._pool.submit(self._work, node)
        if not self._running:
            self._idle.set()
        return keep

    def _ready(self) -> list[Node]:
        ready = []
        for node in self.nodes.values():
            if node.state != PENDING or len(ready) + len(self._running) >= self.options.max_parallel:
                continue
            if node.branch_of:
                parent = self.nodes[node.branch_of[0]]
                if parent.result is None or parent.result.branch != node.branch_of[1]:
                    continue
            if all(self.nodes[d].state in FINISHED for d in node.deps):
                ready.append(node)
        return ready

    def _propagate_skips(self) -> None:
        changed = True
        while changed:
            changed = False
            for node in self.nodes.values():
                if node.state != PENDING:
                    continue
                untaken = False
                if node.branch_of:
                    parent = self.nodes[node.branch_of[0]]
                    untaken = parent.state in FINISHED and parent.result.branch != node.branch_of[1]
                if untaken or any(self.nodes[d].state == SKIPPED for d in node.deps):
                    node.state = SKIPPED
                    self.on_change(node)
                    changed = True

    def _finish(self, node: Node, result: tuple[StepResult, str | None] | None, error: BaseException | None) -> None:
        node.duration = time.time() - (node.started or time.time())
        if error is None:
            node.result, cached_from = result
            node.state = CACHED if cached_from else DONE
            node.cached_from = cached_from
            if node.name in self.options.stand_ins:  # issue 21 wiring: shown as stood in, naming the file
                node.state, node.message = STOOD_IN, self.options.stand_ins[node.name].note
        else:
            node.state = FAILED
            if isinstance(error, SmpipeError):
                node.error, node.message = _located(error, node.name), error.one_line()
            elif isinstance(error, StepFailed):
                node.message = str(error)
            else:
                node.message = f"internal error: {error!r} (traceback in the step log)"
            if self.failure is None:
                self.failure = node
            self._stop = True
        self.on_change(node)

    def step_dir(self, name: str) -> Path:
        """A step's working directory: its own for every distinct name, whatever the name holds."""
        return self.run_dir / "steps" / file_name(name)

    def _execute(self, node: Node) -> tuple[StepResult, str | None]:
        if node.name in self.options.stand_ins:  # issue 21 wiring: --stand-in, the step is not run
            return self.options.stand_ins[node.name].result(), None
        where = f"step {node.name}"
        step_dir = self.step_dir(node.name)
        step_dir.mkdir(parents=True, exist_ok=True)
        raw = node.step.get("Arguments", {})
        arguments = {} if node.type == "Condition" else self.resolver.resolve(raw, where)
        key = None
        if node.type in CACHEABLE:
            key = self._key(node, arguments)
            hit = self._lookup(node, key)
            if hit:
                return hit
        with open(step_dir / "log.txt", "wb") as log:
            ctx = JobContext(step=node.step, arguments=arguments, execution_id=self.execution_id,
                             pipeline_name=self.manifest.pipeline.name, region=self.manifest.pipeline.region,
                             store=self.store, code=self.code, resolver=self.resolver, step_dir=step_dir, log=log,
                             run_root=self.run_root, use_namespace=self.options.use_namespace,
                             max_parallel=self.options.max_parallel, pass_aws=self.options.pass_aws,
                             aws_env=self.endpoint.env() if self.endpoint and not self.options.pass_aws else {},
                             functions=self.options.functions)
            try:
                result = RUNNERS[node.type](ctx)
            except (StepFailed, SmpipeError) as error:
                ctx.say(f"step failed: {error.one_line() if isinstance(error, SmpipeError) else error}")
                raise
            except Exception:
                log.write(traceback.format_exc().encode())
                problem = argument_problem(node.type, arguments)
                if problem:  # the definition's fault, not the runner's: say which argument
                    raise SmpipeError(f"SageMaker would refuse these arguments: {problem}", where=where,
                                      hint=FOREIGN_HINT) from None
                raise
            finally:
                node.process_seconds = round(ctx.process_seconds, 3)
                if self.endpoint is not None:  # what the job wrote with boto3 is in the store for the next step
                    for note in self.endpoint.sync():
                        ctx.say(note)
        if key is not None:
            self.cache.save(node.name, key, self.execution_id, result)
        # outputs are in the store now; the job's working copies of inputs and code only take space
        # (a failed step keeps its directory for inspection)
        self._remover.remove(step_dir / "opt")
        return result, None

    def _key(self, node: Node, arguments: dict[str, Any]) -> str:
        """Resolved arguments with execution ids masked, plus code and input digests."""
        ids = self._previous_ids | {self.execution_id}
        text = json.dumps(arguments, sort_keys=True, default=str)
        masked = re.sub("|".join(map(re.escape, sorted(ids))), "<execution>", text) if ids else text
        strings = set(re.findall(r's3://[^"\\]+', text))
        code = {uri: self.code.digest(uri) for uri in strings if self.code.get(uri)}
        inputs = {}
        for value in input_uris(node.type, arguments):
            if isinstance(value, str) and not self.code.get(value):
                inputs[re.sub("|".join(map(re.escape, sorted(ids))), "<execution>", value)] = self.store.digest(value)
        if node.type == "Transform":
            spec = model.load_model(self.run_root, arguments["ModelName"], f"step {node.name}")
            container = spec.get("PrimaryContainer") or spec["Containers"][0]
            inputs["model"] = self.store.digest(container["ModelDataUrl"]) if container.get("ModelDataUrl") else ""
            submit = container.get("Environment", {}).get("SAGEMAKER_SUBMIT_DIRECTORY", "")
            code["inference"] = self.code.digest(submit)
            masked = re.sub(re.escape(arguments["ModelName"]), "<model>", masked)
        return cache_key(node.type, masked, code, inputs)

    def _lookup(self, node: Node, key: str) -> tuple[StepResult, str] | None:
        if node.name in self._from_ancestors:
            hit = self.cache.lookup(node.name, key)
            if hit is None:
                raise SmpipeError(f"no earlier result of step {node.name!r} matches its current inputs",
                                  where="--from-step", hint="run without --from-step first")
            return hit
        if not self.options.use_cache or self.options.from_step == node.name:
            return None
        if self.options.from_step and node.name in self.definition.downstream(self.options.from_step):
            return None
        config = node.step.get("CacheConfig")
        if dig(config, "Enabled"):
            hit = self.cache.lookup(node.name, key, expire_seconds(dig(config, "ExpireAfter")))
            if hit:
                return hit
        if self._resumable:
            return self.cache.lookup(node.name, key, executions=self._resumable)
        return None

    # ---- record
    def _write_record(self) -> dict[str, Any]:
        ended = time.time()
        record = {
            "execution_id": self.execution_id, "pipeline": self.manifest.pipeline.name, "status": self.status,
            "started": datetime.fromtimestamp(self.started, timezone.utc).isoformat(),
            "duration_seconds": round(ended - self.started, 3), "parameters": self.parameters,
            "failed_step": self.failure.name if self.failure else None,
            "message": self.failure.message if self.failure else None,
            "steps": {n.name: {
                "type": n.type, "status": n.state, "duration_seconds": None if n.duration is None else round(n.duration, 3),
                "log": str(self.step_dir(n.name) / "log.txt")
                if n.state in (DONE, FAILED) else None,
                "process_seconds": n.process_seconds, "cached_from": n.cached_from, "message": n.message,
                "outputs": {uri: str(self.store.path(uri)) for uri in sorted(n.result.outputs)} if n.result else {},
                "metrics": n.result.metrics if n.result else {},
                "properties": _public(n.result.properties) if n.result else None,
            } for n in self.nodes.values()},
        }
        artifacts.write_atomic(self.run_dir / "run.json", json.dumps(record, indent=2, default=str) + "\n")
        self._write_last_run()
        return record

    def log_tail(self, node: Node, lines: int = 20) -> str:
        path = self.step_dir(node.name) / "log.txt"
        if not path.is_file():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _located(error: SmpipeError, step: str) -> SmpipeError:
    """``error``, naming ``step`` when the check that raised it (deep in the store) named no place."""
    error.where = error.where or f"step {step}"
    return error


def _public(props: dict[str, Any]) -> dict[str, Any]:
    keep = ("ProcessingJobName", "TrainingJobName", "ModelArtifacts", "FinalMetricDataList", "ModelName",
            "ModelPackageArn", "TransformJobName", "Outcome", "BestTrainingJob", "HyperParameterTuningJobName",
            "OutputParameters")
    return {k: v for k, v in props.items() if k in keep}
