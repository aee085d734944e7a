"""Giving each job its own ``/opt/ml`` without Docker.

On Linux the job runs in a private mount namespace (``unshare -m``, or ``unshare --mount
--map-root-user`` when not root) where a per-job directory is mounted at ``/opt/ml``, so scripts
that hard-code ``/opt/ml/...`` work unmodified and the real ``/opt/ml`` is never written. Where
that is impossible, ``/opt/ml`` is rewritten to the job directory in arguments and environment.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

OPT_ML = "/opt/ml"

# Inside the namespace, one ``mount -a`` over a per-job fstab (one process, whatever the number of
# mounts): if /opt/ml exists, the job's directory is bound over it; otherwise a shadow of /opt
# is mounted (every real entry bound back onto a placeholder) whose ml/ is the job's directory;
# then the read-only binds (shared, once-unpacked code) in the order they were asked for.
# This ``sh`` is the one helper between ``unshare`` and the job: a Python helper would add a
# second interpreter start. Measured per job start on a 2-core machine: setpriv ~1 ms, unshare
# ~2 ms, sh ~1 ms, mount ~3 ms (its own start: with --fake, mounting nothing, it costs the same).
_SETUP = r"""
set -e
mount="$1"; job="$2"; cd_to="$3"; shift 3
"$mount" -a -T "$job/fstab"
cd "$cd_to"
exec "$@"
"""


def under_opt_ml(path: object) -> str | None:
    """``path`` normalised as the container resolves it, when it names a place strictly under
    /opt/ml; else None (a definition nobody reviewed may say ``/opt/ml/processing/../../..``)."""
    if not isinstance(path, str) or not path.startswith("/") or "\x00" in path:
        return None
    normal = posixpath.normpath(path)
    return normal if normal.startswith(OPT_ML + "/") else None


def _fstab_field(path: Path | str) -> str:
    return str(path).replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")


_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _helper(name: str) -> str | None:
    """A helper command's absolute path, looked up once along the runner's PATH: started by name
    with the job's environment, every job start would try each entry of the job's PATH first."""
    return shutil.which(name)


@functools.lru_cache(maxsize=1)
def _death_prefix() -> tuple[str, ...]:
    """Makes a job die with the runner (``setpriv --pdeathsig``), so a killed run leaves no jobs."""
    setpriv = _helper("setpriv")
    if setpriv and subprocess.run([setpriv, "--pdeathsig", "KILL", "true"], capture_output=True).returncode == 0:
        return (setpriv, "--pdeathsig", "KILL")
    return ()


@functools.lru_cache(maxsize=1)
def namespace_prefix() -> tuple[str, ...] | None:
    """The command prefix that enters a private mount namespace, or None if unavailable.
    With a PID namespace too where possible: when the job's first process dies, every process
    it started dies with it."""
    unshare, shell, mount = _helper("unshare"), _helper("sh"), _helper("mount")
    if not sys.platform.startswith("linux") or not (unshare and shell and mount):
        return None
    base = [(unshare, "-m")] if os.geteuid() == 0 else []
    base.append((unshare, "--mount", "--map-root-user"))
    candidates = [(*b, "--pid", "--fork", "--kill-child") for b in base] + base
    for prefix in candidates:
        prefix = (*_death_prefix(), *prefix)
        probe = subprocess.run([*prefix, shell, "-c", '"$0" -t tmpfs none /mnt 2>/dev/null || "$0" --bind / /mnt', mount],
                               capture_output=True)
        if probe.returncode == 0:
            return prefix
    return None


class Sandbox:
    """A job directory whose ``opt/ml`` is what the job sees as ``/opt/ml``."""

    def __init__(self, job_dir: Path, use_namespace: bool = True):
        self.job_dir = Path(job_dir).absolute()  # mount resolves links itself
        self.opt_ml = self.job_dir / "opt" / "ml"
        self.opt_ml.mkdir(parents=True, exist_ok=True)
        self.prefix = namespace_prefix() if use_namespace else None
        self._readonly: list[tuple[Path, str]] = []

    def mount_readonly(self, source: Path, container_path: str) -> None:
        """Show ``source`` read-only at ``container_path`` (under /opt/ml) in the job, without
        copying it; only in a namespace (``isolated``), where nothing the job does can change it."""
        if not self.isolated:
            raise ValueError("read-only mounts need a private mount namespace")
        self.host(container_path).mkdir(parents=True, exist_ok=True)
        self._readonly.append((Path(source), container_path))

    def _write_fstab(self) -> None:
        if os.path.isdir(OPT_ML):
            mounts = [(self.opt_ml, OPT_ML, "rbind")]
        else:
            mounts = []
            for entry in sorted(os.scandir("/opt"), key=lambda e: e.name):
                placeholder = self.job_dir / "opt" / entry.name
                if entry.is_dir():
                    placeholder.mkdir(exist_ok=True)
                elif not placeholder.exists():
                    placeholder.touch()
                mounts.append((entry.path, placeholder, "rbind"))
            mounts.append((self.job_dir / "opt", "/opt", "rbind"))
        mounts += [(source, target, "bind,ro") for source, target in self._readonly]
        (self.job_dir / "fstab").write_text(
            "".join(f"{_fstab_field(src)} {_fstab_field(dst)} none {options} 0 0\n" for src, dst, options in mounts))

    @property
    def isolated(self) -> bool:
        return self.prefix is not None

    def host(self, container_path: str) -> Path:
        """Where a container path under /opt/ml lives on this machine (``..`` resolved as the
        container resolves it: ``/opt/ml/processing/../../..`` is not under /opt/ml)."""
        normal = under_opt_ml(container_path) if container_path != OPT_ML else OPT_ML
        if normal is None:
            raise ValueError(f"{container_path!r} is not under {OPT_ML}")
        return self.opt_ml / normal[len(OPT_ML):].lstrip("/")

    def visible(self, container_path: str) -> str:
        """The path a job process should be given: unchanged in a namespace, rewritten otherwise."""
        if self.isolated:
            return container_path
        return rewrite(container_path, str(self.opt_ml))

    def run(self, argv: list[str], env: dict[str, str], cwd: str, log: IO[bytes],
            max_runtime: float | None = None) -> int:
        """Run a job process with output appended to ``log``; returns its exit code. Past
        ``max_runtime`` seconds the job is stopped as SageMaker stops it, and MaxRuntimeExceeded
        raised: SIGTERM, then SIGKILL after STOP_GRACE_SECONDS (a job that is the first process
        of its PID namespace, as a container's entrypoint is, sees SIGTERM only if it handles it)."""
        if self.isolated:
            self._write_fstab()
            argv = [*self.prefix, _helper("sh"), "-c", _SETUP, "smpipe-job", _helper("mount"), str(self.job_dir), cwd, *argv]
            cwd = str(self.job_dir)
        else:
            argv = [*_death_prefix(), *(rewrite(a, str(self.opt_ml)) for a in argv)]
            env = {k: rewrite(v, str(self.opt_ml)) for k, v in env.items()}
            cwd = rewrite(cwd, str(self.opt_ml))
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        with _running_lock:
            _running.add(process)
        try:
            return process.wait(timeout=max_runtime)
        except subprocess.TimeoutExpired:
            _stop([process], STOP_GRACE_SECONDS)
            raise MaxRuntimeExceeded(max_runtime) from None
        finally:
            with _running_lock:
                _running.discard(process)


class MaxRuntimeExceeded(Exception):
    """A job ran past its MaxRuntimeInSeconds and was stopped."""


STOP_GRACE_SECONDS = 120  # between SIGTERM and SIGKILL, as SageMaker gives a job it stops


def _stop(processes: list[subprocess.Popen], grace: float) -> None:
    """Stop jobs' process groups: SIGTERM, then SIGKILL for any still running ``grace`` seconds
    later (a job that is the first process of its PID namespace, as a container's entrypoint
    is, ignores a SIGTERM it does not handle)."""
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        for process in processes:
            try:
                os.killpg(process.pid, signal_number)
            except ProcessLookupError:
                pass
        if signal_number == signal.SIGKILL:
            for process in processes:
                process.wait()
            return
        deadline = time.monotonic() + grace
        processes = [p for p in processes if not _ended_by(p, deadline)]
        if not processes:
            return


def _ended_by(process: subprocess.Popen, deadline: float) -> bool:
    try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
        return True
    except subprocess.TimeoutExpired:
        return False


_OPT_ML_PATH = re.compile(r"(?<![\w./-])/opt/ml(?=/|$|[\s:;,\"'])")


def rewrite(text: str, opt_ml: str) -> str:
    """/opt/ml -> the job directory wherever it starts a path (already-rewritten paths stay)."""
    return _OPT_ML_PATH.sub(lambda _: opt_ml, text)


INTERRUPT_GRACE_SECONDS = 5  # Ctrl-C: between SIGTERM and SIGKILL (the user asked to stop now)


def terminate_all() -> None:
    """Stop every job process this runner started (on Ctrl-C), with INTERRUPT_GRACE_SECONDS
    between SIGTERM and SIGKILL."""
    with _running_lock:
        processes = list(_running)
    _stop(processes, INTERRUPT_GRACE_SECONDS)


# What a job inherits from the runner's environment: what a process needs to start and find its
# interpreter, locale, temp dir and network proxy. Nothing else crosses over (no tokens, no
# AWS_* credentials): a SageMaker container gets the job's Environment, not the caller's shell.
HOST_VARIABLES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "TEMP", "TMP",
    "PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX", "LD_LIBRARY_PATH", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
})
# Without --pass-aws-credentials, SDK/boto3 calls in a job find no credentials anywhere: not in
# the environment, not in ~/.aws (HOME is passed), not from instance metadata.
NO_AWS = {"AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_CONFIG_FILE": os.devnull,
          "AWS_EC2_METADATA_DISABLED": "true"}


def host_env(pass_aws: bool) -> dict[str, str]:
    """The part of the runner's environment a job receives (see HOST_VARIABLES)."""
    env = {k: v for k, v in os.environ.items() if k in HOST_VARIABLES or k.startswith("LC_")}
    if pass_aws:
        env.update({k: v for k, v in os.environ.items() if k.startswith("AWS_")})
    else:
        env.update(NO_AWS)
    return env


@dataclass(frozen=True)
class Overlay:
    """An environment whose ``site`` goes first on a job's PYTHONPATH (``bin`` on its PATH, for
    the commands the installed packages bring)."""

    root: Path
    site: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"


def python_env(base: dict[str, str], shim_dir: Path, commands: Path | None = None) -> dict[str, str]:
    """Environment whose ``python``/``python3`` is the interpreter running smpipe-gen, then the
    ``commands`` directory (of packages installed for the job)."""
    bin_dir = str(Path(sys.executable).parent)
    shim_dir.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        if not (Path(bin_dir) / name).exists() and not (shim_dir / name).exists():
            shim = shim_dir / name
            shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            shim.chmod(0o755)
    env = dict(base)
    env["PATH"] = os.pathsep.join([bin_dir, str(shim_dir), *([str(commands)] if commands else []), base.get("PATH", os.defpath)])
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONHOME", None)
    return env
