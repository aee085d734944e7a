"""Executing the definition's DAG: independent steps in parallel, condition branches, caching,
resume, and SageMaker's failure semantics (no new steps after a failure, running ones finish)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from smpipe_gen.definition import Definition, Step
from smpipe_gen.errors import SmpipeError, StepsRefused, shorten
from smpipe_gen.json_values import as_list, dig, thaw
from smpipe_gen.local import sandbox
from smpipe_gen.local.api import argument_problem
from smpipe_gen.local.cache import Cache, Reuse
from smpipe_gen.local.code import CodeArtifacts
from smpipe_gen.local.expressions import FOREIGN_HINT, Resolver
from smpipe_gen.local.jobs import JobContext, StepFailed, StepResult
from smpipe_gen.local.jobs import lambda_function
from smpipe_gen.local import stand_in
from smpipe_gen.local.run_state import Node, RunRecords, State
from smpipe_gen.local.store import Store
from smpipe_gen.manifest import Manifest
from smpipe_gen.parameters import parameter_values
from smpipe_gen.steps import resolve, step_type

if TYPE_CHECKING:
    from smpipe_gen.local.endpoint import Endpoint


@dataclass
class RunOptions:
    parameters: dict[str, str] = field(default_factory=dict)
    max_parallel: int = os.cpu_count() or 1
    use_cache: bool = True
    from_step: str | None = None
    data: dict[str, Path] = field(default_factory=dict)
    use_namespace: bool = True
    pass_aws: bool = False  # jobs get the host's AWS_* variables and ~/.aws
    functions: dict[str, lambda_function.Function] = field(default_factory=dict)  # Lambda functions by name
    stand_ins: dict[str, stand_in.StandIn] = field(default_factory=dict)  # step name -> its stand-in


def build_graph(definition: Definition, options: RunOptions | None = None) -> dict[str, Node]:
    """One node per step, condition branches flattened, each with the steps it waits for (the
    model has refused unknown references and cycles); every step this runner cannot execute
    (a type the registry has no local runner for, a Lambda function it does not know) and no
    stand-in replaces is refused, one line each, before anything runs."""
    options = options or RunOptions()
    refused = stand_in.refusals(definition, options.stand_ins, options.functions)
    if refused:  # the run stops here: name the steps the precheck would refuse too, not one blocker at a time
        refused += _prechecked(definition, options.stand_ins)
        raise refused[0] if len(refused) == 1 else StepsRefused(refused)
    nodes: dict[str, Node] = {}
    for step in definition:
        branch_of = (step.condition, step.branch == "if") if step.condition else None
        nodes[step.name] = Node(step=step, deps=set(step.upstream), branch_of=branch_of)
    return nodes


def _prechecked(definition: Definition, stand_ins: Mapping[str, Any]) -> list[SmpipeError]:
    """What each step type's precheck refuses (a built-in algorithm, a @step function), for the
    steps outside condition branches that no stand-in replaces."""
    refused = (precheck_refusal(step) for step in definition if step.name not in stand_ins and not step.condition)
    return [error for error in refused if error is not None]


def precheck_refusal(step: Step) -> SmpipeError | None:
    """Why the step's type refuses it on the arguments as the definition writes them, or None."""
    kind = step_type(step.type)
    if not kind.precheck:
        return None
    return resolve(kind.precheck)(kind.job_arguments(thaw(step.arguments)), f"step {step.name}")


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
        self.records = RunRecords(self.run_root, manifest.pipeline.name, manifest.pipeline.region)
        self.execution_id, self.run_dir = self.records.execution_id, self.records.run_dir
        self.reuse = Reuse(Cache(self.run_root / "cache", self.store), definition, self.records, self.code,
                           use_cache=options.use_cache, from_step=options.from_step)
        self.resolver = Resolver(self.parameters, self.records.execution, self._properties, self._property_file,
                                 self._read_uri)
        self._prechecking = False
        self._stop = False
        self._lock = threading.Lock()  # the nodes' states, once steps run
        self._running: dict[str, Node] = {}
        self._idle = threading.Event()  # set when no step runs and none can start
        self._broken: BaseException | None = None
        self._pool: ThreadPoolExecutor | None = None
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
        spec = next((p for p in as_list(self.nodes[step].step.body.get("PropertyFiles")) if dig(p, "PropertyFileName") == name),
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

    # ---- checks before anything runs
    def precheck(self) -> None:
        """Before anything runs: refuse the steps that cannot run locally (the steps that do not
        depend on them still run, then the run fails naming them), and fail fast on inputs that
        are known now, missing from the store, and that no earlier job may write (those are
        checked when the step reads them)."""
        self._prechecking = True
        try:
            for node in self.nodes.values():
                if node.name in self.options.stand_ins:  # not run: nothing to check
                    continue
                args = thaw(node.step.arguments)
                kind = step_type(node.type)
                refused = precheck_refusal(node.step)
                if refused is not None and not node.branch_of:  # in a branch: fails if the branch is taken
                    self._refuse(node, refused)
                    continue
                for value in kind.input_uris(args):
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
        node.state, node.error, node.message = State.FAILED, error, error.one_line()
        if self.failure is None:
            self.failure = node
        self.on_change(node)

    def _written_upstream(self, node: Node) -> bool:
        """Whether a step ``node`` waits for runs a job, which may write what ``node`` reads: to an
        output prefix or with boto3 through the loopback endpoint (SageMaker runs such a pipeline)."""
        return any(step_type(self.nodes[name].type).job for name in self.definition.ancestors(node.name))

    # ---- execution
    def run(self) -> dict[str, Any]:
        try:
            return self._run()
        finally:
            self._remover.close()

    def _run(self) -> dict[str, Any]:
        self.precheck()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.records.write_last_run(self.status)
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
                        node.state, node.message = State.FAILED, "interrupted"
                sandbox.terminate_all()
                self._write_record()
                raise
        for node in self.nodes.values():
            if node.state == State.PENDING:
                node.state = State.NOT_STARTED
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
            node.state, node.started = State.RUNNING, time.time()
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
            if node.state != State.PENDING or len(ready) + len(self._running) >= self.options.max_parallel:
                continue
            if node.branch_of:
                parent = self.nodes[node.branch_of[0]]
                if parent.result is None or parent.result.branch != node.branch_of[1]:
                    continue
            if all(self.nodes[d].state.succeeded for d in node.deps):
                ready.append(node)
        return ready

    def _propagate_skips(self) -> None:
        changed = True
        while changed:
            changed = False
            for node in self.nodes.values():
                if node.state != State.PENDING:
                    continue
                untaken = False
                if node.branch_of:
                    parent = self.nodes[node.branch_of[0]]
                    untaken = parent.state.succeeded and parent.result.branch != node.branch_of[1]
                if untaken or any(self.nodes[d].state == State.SKIPPED for d in node.deps):
                    node.state = State.SKIPPED
                    self.on_change(node)
                    changed = True

    def _finish(self, node: Node, result: tuple[StepResult, str | None] | None, error: BaseException | None) -> None:
        node.duration = time.time() - (node.started or time.time())
        if error is None:
            node.result, cached_from = result
            node.state = State.CACHED if cached_from else State.DONE
            node.cached_from = cached_from
            if node.name in self.options.stand_ins:  # shown as stood in, naming the file
                node.state, node.message = State.STOOD_IN, self.options.stand_ins[node.name].note
        else:
            node.state = State.FAILED
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

    def _execute(self, node: Node) -> tuple[StepResult, str | None]:
        if node.name in self.options.stand_ins:  # --stand-in: the step is not run
            return self.options.stand_ins[node.name].result(), None
        where = f"step {node.name}"
        step_dir = self.records.step_dir(node.name)
        step_dir.mkdir(parents=True, exist_ok=True)
        raw = thaw(node.step.arguments)
        kind = step_type(node.type)
        arguments = {} if kind.branches else self.resolver.resolve(raw, where)  # a Condition resolves its own
        key = None
        if kind.cacheable:
            key = self.reuse.key(node, arguments)
            hit = self.reuse.lookup(node, key)
            if hit:
                return hit
        with open(step_dir / "log.txt", "wb") as log:
            ctx = JobContext(step=node.step, arguments=arguments, execution_id=self.execution_id,
                             pipeline_name=self.manifest.pipeline.name, region=self.manifest.pipeline.region,
                             store=self.store, code=self.code, resolver=self.resolver, step_dir=step_dir, log=log,
                             run_root=self.run_root, use_namespace=self.options.use_namespace,
                             max_parallel=self.options.max_parallel, pass_aws=self.options.pass_aws,
                             endpoint=self.endpoint if not self.options.pass_aws else None,
                             functions=self.options.functions)
            try:
                result = resolve(kind.runner)(ctx)
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
            self.reuse.cache.save(node.name, key, self.execution_id, result)
        # outputs are in the store now; the job's working copies of inputs and code only take space
        # (a failed step keeps its directory for inspection)
        self._remover.remove(step_dir / "opt")
        return result, None

    def _write_record(self) -> dict[str, Any]:
        return self.records.write(self.status, self.nodes.values(), self.parameters, self.failure, self.store)

    def log_tail(self, node: Node, lines: int = 20) -> str:
        return self.records.log_tail(node.name, lines)


def _located(error: SmpipeError, step: str) -> SmpipeError:
    """``error``, naming ``step`` when the check that raised it (deep in the store) named no place."""
    error.where = error.where or f"step {step}"
    return error
