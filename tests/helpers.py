"""Shared test helpers: the one CLI runner (in process, or as a real process where that is the
point), copying examples, writing config files."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def offline_env(**extra: str) -> dict[str, str]:
    """The environment of a machine with no AWS account: no credentials, and the AWS endpoint
    pointed at a closed loopback port so any network call would fail loudly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMP_"))}
    env.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
               NO_PROXY="*")
    env.update(extra)
    return env


# The console script, reporting at exit whether the SageMaker SDK was imported in its process.
_SDK_PROBE = """\
import atexit, sys
atexit.register(lambda: print("sagemaker imported:", any(m == "sagemaker" or m.startswith("sagemaker.")
                                                         for m in sys.modules), file=sys.stderr))
sys.argv = ["smpipe-gen"] + sys.argv[1:]
from smpipe_gen.cli import main
main()
"""


def smpipe(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 300,
           report_sdk: bool = False) -> subprocess.CompletedProcess:
    """``smpipe-gen ARGS`` as a real process, as CI runs it (stdin not a terminal), in ``env``
    (offline_env() unless given): for the tests where the process is the point (start-up,
    what it imports, signals and process groups of the local runner, hash seeds, stdin). With
    ``report_sdk``, stderr ends with "sagemaker imported: True|False". Every other test runs the
    CLI with smpipe_in_process."""
    command = [sys.executable, "-c", _SDK_PROBE] if report_sdk else [sys.executable, "-m", "smpipe_gen"]
    return subprocess.run([*command, *args], cwd=cwd, env=env or offline_env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


_VERSIONS = re.compile(r'(?<="sagemaker_version": )"[^"]*"|(?<=smpipe-gen )\d+(?:\.\d+)+[^\s"]*')


def without_versions(text: str) -> str:
    """A rendered file with the SDK's and the tool's versions blanked: what depends on the machine's
    SDK install and on the tool's commit (every commit has its own version) rather than on the
    repository (check ignores them too)."""
    return _VERSIONS.sub('""', text)


def smpipe_in_process(*args: str, cwd: Path | None = None,
                      env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``smpipe ARGS`` without a new process: the console script's entry point (cli.main) called
    here with the same arguments, working directory and environment (offline_env() unless given),
    its exit status and output captured. A render in a child process spends seconds importing the
    SageMaker SDK again; here it is imported once per test process. For tests where a separate
    process adds nothing a user meets; each command keeps tests that run it as a real subprocess
    (smpipe). An exception that escapes main() is caught and its traceback written to stderr, as
    the interpreter would; it is also kept as ``.exception``. Runs one at a time: a session
    fixture may call it from a thread while a test calls it (tests/test_template.py)."""
    from smpipe_gen.cli import main

    with _ONE_AT_A_TIME:
        return _in_process(main, args, cwd, env)


_ONE_AT_A_TIME = threading.RLock()  # the process's working directory, environment and sys.stdout


def _in_process(main: Callable[[], None], args: tuple[str, ...], cwd: Path | None,
                env: dict[str, str] | None) -> subprocess.CompletedProcess:
    stdout, stderr = io.StringIO(), io.StringIO()
    saved_argv, saved_cwd, saved_env = sys.argv, os.getcwd(), dict(os.environ)
    escaped = None
    try:
        sys.argv = ["smpipe-gen", *args]
        os.chdir(cwd or saved_cwd)
        os.environ.clear()
        os.environ.update(offline_env() if env is None else env)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                main()
                code = 0
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            except Exception as exc:  # noqa: BLE001 - what a user would see as a traceback
                escaped, code = exc, 1
                traceback.print_exc()
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    result = subprocess.CompletedProcess(["smpipe-gen", *args], code, stdout.getvalue(), stderr.getvalue())
    result.exception = escaped
    return result


def render_each(roots: list[Path]) -> None:
    """``smpipe-gen render`` of every repository in ``roots``, in this process: the test process
    imports the SDK once for all of them (a child process would import it again)."""
    for root in roots:
        done = smpipe_in_process("render", "-C", str(root))
        assert done.returncode == 0, done.stderr


def copy_example(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns(".smpipe", "__pycache__"))
    return target


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


ENV_FILE = """\
export SMP_ACCOUNTID="123456789012"
export SMP_REGION="eu-west-1"
export SMP_S3BUCKETNAME="test-bucket"
export SMP_ROLE="arn:aws:iam::123456789012:role/Test"
export SMP_MODEL_CONFIGPATH="{configpath}"
"""


def make_repo(root: Path, conf: str, configpath: str = "conf/conf.yaml", scripts: tuple[str, ...] = (
        "preprocess.py", "train.py", "evaluate.py", "inference.py")) -> Path:
    """A minimal model repository with one config file and placeholder scripts."""
    write(root / "env.env", ENV_FILE.format(configpath=configpath))
    if configpath == "conf/conf.yaml":
        write(root / "conf" / "conf.yaml", conf)
    for script in scripts:
        write(root / "scripts" / script, f"print({script!r})\n")
    return root


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """The directory ``name``, filled by ``build`` once per test run: under pytest-xdist every
    worker has its own session, so a session fixture alone would repeat an expensive build (an SDK
    render) in each worker. The first worker to ask builds it under a lock in the run's shared
    temporary directory; the others wait for it and read the same directory (treat it as read-only:
    copy it before changing anything)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the directory all workers' basetemps live in
    target, done = base / f"built-{name}", base / f"built-{name}.done"
    with open(base / f"built-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)  # left by a build that failed in another worker
            target.mkdir()
            build(target)
            done.touch()
    return target
