"""One module per step type. Each exposes ``run(ctx) -> StepResult``."""

from __future__ import annotations

import hashlib
import json
import os
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from smpipe_gen.definition import Step
from smpipe_gen.errors import SmpipeError
from smpipe_gen.local import isolation
from smpipe_gen.local.bootstrap import Prepared
from smpipe_gen.local.code import CodeArtifacts
from smpipe_gen.local.expressions import Resolver
from smpipe_gen.local.sandbox import MaxRuntimeExceeded, Overlay, Sandbox, host_env, python_env
from smpipe_gen.local.store import Store, warn_damaged


@dataclass
class StepResult:
    properties: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)  # published S3 URI -> content digest
    metrics: dict[str, float] = field(default_factory=dict)
    branch: bool | None = None  # condition steps: the outcome


@dataclass
class CacheInputs:
    """What a step's local cache key holds besides its arguments (a step type's
    ``local_cache_inputs``): input digests, code digests, and literal argument text replaced by
    a placeholder (a model name new on every run)."""

    inputs: dict[str, str] = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)
    masks: dict[str, str] = field(default_factory=dict)


class StepFailed(Exception):
    """The step's own work failed (non-zero exit, Fail step); message names the reason."""


@dataclass
class JobContext:
    step: Step
    arguments: dict[str, Any]  # resolved
    execution_id: str
    pipeline_name: str
    region: str
    store: Store
    code: CodeArtifacts
    resolver: Resolver
    step_dir: Path
    log: IO[bytes]
    run_root: Path
    use_namespace: bool
    max_parallel: int
    pass_aws: bool = False  # --pass-aws-credentials
    endpoint: Any = None  # the loopback AWS endpoint (local/endpoint.Endpoint); None with --pass-aws-credentials
    functions: dict[str, Any] = field(default_factory=dict)  # Lambda functions by name (jobs/lambda_function.py)
    process_seconds: float = 0.0  # time spent in the job's own processes (for benchmarks)
    _told_no_namespace: bool = False

    @property
    def name(self) -> str:
        return self.step.name

    @property
    def job_name(self) -> str:
        return job_name(f"pipelines-{self.execution_id}-{self.name}")  # unique per step: output paths use it

    def say(self, text: str) -> None:
        """A runner message in the step log, marked so it is not mistaken for job output."""
        self.log.write(f"[smpipe-gen] {text}\n".encode())
        self.log.flush()

    def sandbox(self, sub: str = "") -> Sandbox:
        box = Sandbox(self.step_dir / sub if sub else self.step_dir, self.use_namespace)
        if not box.isolated and not self._told_no_namespace:
            self.say("no private mount namespace here: /opt/ml paths are rewritten in arguments and "
                     "environment; scripts that hard-code /opt/ml will not find their files")
            self._told_no_namespace = True
        return box

    def env(self, extra: dict[str, str], overlay: Overlay | None = None) -> dict[str, str]:
        """The job's environment: the allowed host variables (sandbox.HOST_VARIABLES; AWS_* only
        with --pass-aws-credentials, else the loopback endpoint's), then the job's own variables;
        the packages and commands of ``overlay`` (its requirements, see local/requirements.py)
        come before the host's."""
        guard, hidden = isolation.guard(self.run_root, self.code.repo_root)
        aws = self.endpoint.env() if self.endpoint is not None else {}
        env = python_env({**host_env(self.pass_aws), **hidden, **aws, **{k: str(v) for k, v in extra.items()}},
                         self.run_root / "bin", overlay.bin if overlay else None)
        # any other ``pip install`` the job runs goes to a prefix of its own, never into the
        # interpreter running smpipe-gen; the repository is seen only through the bundle (isolation.py)
        prefix = self.step_dir / "pip"
        sites = pip_sites(prefix)
        path = [str(guard), *([str(overlay.site)] if overlay else []), *sites,
                *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
        return {**env, **pip_prefix_env(prefix), "PYTHONPATH": os.pathsep.join(path),
                "PATH": os.pathsep.join([str(prefix / "bin"), env["PATH"]])}

    def materialize_input(self, box: Sandbox, uri: str, target: Path, what: str,
                          prepared: Prepared | None = None) -> None:
        """Copy an input from the store (or the code manifest) into the job, or fail naming it.
        ``prepared``: what the runner did for a bootstrap among the inputs (see local/bootstrap.py)."""
        artifact = self.code.get(uri)
        if artifact is not None:
            box_rewrite = None if box.isolated else str(box.opt_ml)
            self._warn_drift(artifact)
            self.code.materialize(artifact, target, box_rewrite, prepared)
            return
        target.mkdir(parents=True, exist_ok=True)
        if self.store.materialize(uri, target) == 0:
            raise SmpipeError(f"{what} {uri} is not in the local store", where=f"step {self.name}",
                              hint="the step producing it wrote nothing there; or seed it with the manifest's "
                                   "local_data or --data S3URI=./local/dir")

    def mount_unpacked(self, box: Sandbox, uri: str, container_dir: str) -> str | None:
        """Show a code bundle input, unpacked once per digest, read-only at ``container_dir``
        instead of copying it for the job to unpack; returns the bundle's name, or None when
        ``uri`` is no bundle or there is no namespace to mount in (then it is copied)."""
        artifact = self.code.get(uri)
        if not box.isolated or artifact is None or not self.code.is_bundle(artifact):
            return None
        self._warn_drift(artifact)
        box.mount_readonly(self.code.unpacked(artifact), container_dir)
        return artifact.s3_uri.rsplit("/", 1)[-1]

    def _warn_drift(self, artifact: Any) -> None:
        drift = self.code.drift(artifact)
        if drift:
            self.say(f"warning: {', '.join(drift)} changed since the render; running the current files")

    def run_process(self, box: Sandbox, argv: list[str], env: dict[str, str], cwd: str,
                    stopping: Any = None) -> None:
        """Run the job's process; raises StepFailed on a non-zero exit, or when it runs past the
        ``MaxRuntimeInSeconds`` of ``stopping`` (the job's StoppingCondition)."""
        self.say("$ " + " ".join(box.visible(a) for a in argv))
        limit = _seconds(stopping.get("MaxRuntimeInSeconds") if isinstance(stopping, dict) else None)
        started = time.perf_counter()
        try:
            code = box.run(argv, env, cwd, self.log, max_runtime=limit)
        except MaxRuntimeExceeded:
            raise StepFailed(f"Stopped: MaxRuntimeExceeded - the job stopped because it exceeded the maximum "
                             f"allowed runtime (MaxRuntimeInSeconds {limit:g})") from None
        finally:
            self.process_seconds += time.perf_counter() - started
        if code != 0:
            failure = box.opt_ml / "output" / "failure"
            reason = failure.read_text(errors="replace").strip()[:500] if failure.is_file() else ""
            explained = self._explain()
            raise StepFailed(f"process exited with code {code}" + (f": {reason}" if reason else "")
                             + (f"; {explained}" if explained else ""))

    def _explain(self) -> str:
        """What the job lacked locally, read from its log: a file the repository holds but its
        bundle leaves out (local/missing.py), or the framework its image ships (local/frameworks.py)."""
        from smpipe_gen.local import frameworks, missing

        with open(self.log.name, "rb") as handle:
            log = handle.read()[-20000:].decode(errors="replace")
        return (missing.explain(log, self.arguments, map(self.code.get, missing.code_uris(self.arguments)),
                                self.code.repo_root)
                or frameworks.explain(log, frameworks.image_of(self.arguments)))


def pip_sites(prefix: Path) -> list[str]:
    """The site directories of ``prefix`` (pip installs pure and platform packages there), made."""
    sites = dict.fromkeys(sysconfig.get_path(kind, "posix_prefix", vars={"base": str(prefix), "platbase": str(prefix)})
                          for kind in ("purelib", "platlib"))
    for site in sites:
        Path(site).mkdir(parents=True, exist_ok=True)
    return list(sites)


def pip_prefix_env(prefix: Path) -> dict[str, str]:
    """pip's settings that install into ``prefix`` whatever the interpreter already has. Not
    PIP_TARGET: pip builds a source package by running ``pip install --prefix`` with the job's
    environment, and a target with a prefix is pip's error (``Cannot set --home and --prefix
    together``); a prefix given on that command line overrides PIP_PREFIX instead."""
    return {"PIP_PREFIX": str(prefix), "PIP_IGNORE_INSTALLED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _seconds(value: Any) -> float | None:
    """A positive number of seconds (a parameter may give it as text), or None."""
    try:
        seconds = float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
    return seconds if seconds and seconds > 0 and seconds != float("inf") else None


JOB_NAME_LIMIT = 63  # SageMaker's limit for a job's name


def job_name(name: str, limit: int = JOB_NAME_LIMIT) -> str:
    """``name`` as a job's name: at most ``limit`` characters, a longer one shortened with a digest
    of the whole (output keys hold it: a 5,000-character step name is no file name)."""
    if len(name) <= limit:
        return name
    return f"{name[:limit - 17]}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def read_state(path: Path, what: str, shape: type = dict) -> Any | None:
    """A JSON file the runner wrote earlier under its run root, or None when it is absent or
    damaged (foreign bytes, truncated, another shape): the run root is a cache, so damage is
    warned about on stderr and treated as absence, never a traceback."""
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        warn_damaged(path, what, type(error).__name__)
        return None
    if not isinstance(data, shape):
        warn_damaged(path, what, f"a JSON {type(data).__name__}, not a {shape.__name__}")
        return None
    return data


def write_json(path: Path, data: Any) -> None:
    """A job's config file, compact: json's C encoder runs only without indent (a fifth of the time,
    on the path of every step)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, default=str), encoding="utf-8")
