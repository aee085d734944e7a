"""Jobs get an explicit environment: the host's AWS credentials stay out unless asked for."""

from __future__ import annotations

import os
import re

from local_support import project, run_local

SECRET = "planted-secret-do-not-leak"
PRINT_ENV = """import os, pathlib
pathlib.Path("/opt/ml/processing/output/train").mkdir(parents=True, exist_ok=True)
pathlib.Path("/opt/ml/processing/output/test").mkdir(parents=True, exist_ok=True)
for key, value in sorted(os.environ.items()):
    print(f"{key}={value}")
import sys; sys.exit(3)  # stop here: the log is what matters
"""


def run_printing_env(tmp_path, *extra: str) -> str:
    repo = project(tmp_path)
    (repo / "scripts" / "preprocess.py").write_text(PRINT_ENV)
    env = {**os.environ, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_ACCESS_KEY_ID": "AKIAPLANTED",
           "GITHUB_TOKEN": SECRET + "-gh", "COLUMNS": "200"}
    run_local("-C", str(repo), *extra, env=env, expect=1)
    (log,) = (repo / ".smpipe" / "runs").glob("*/steps/Preprocess/log.txt")
    return log.read_text()


def test_jobs_do_not_see_host_credentials_but_the_loopback_endpoint(tmp_path):
    log = run_printing_env(tmp_path)
    assert "PATH=" in log  # the script ran and printed its environment
    assert SECRET not in log and "AKIAPLANTED" not in log
    assert "AWS_SHARED_CREDENTIALS_FILE=/dev/null" in log and "AWS_EC2_METADATA_DISABLED=true" in log
    # boto3 in the job calls the run's endpoint on 127.0.0.1 with throwaway keys (local/endpoint.py)
    assert re.search(r"^AWS_ENDPOINT_URL=http://127\.0\.0\.1:\d+$", log, re.M)
    assert "AWS_ACCESS_KEY_ID=smpipe-local" in log and "AWS_DEFAULT_REGION=us-east-1" in log


def test_credentials_pass_when_asked(tmp_path):
    log = run_printing_env(tmp_path, "--pass-aws-credentials")
    assert f"AWS_SECRET_ACCESS_KEY={SECRET}" in log
    assert SECRET + "-gh" not in log  # only AWS_* crosses over


PIP_IN_JOB = """import os, pathlib, subprocess, sys
for sub in ("train", "test"):
    pathlib.Path(f"/opt/ml/processing/output/{sub}").mkdir(parents=True, exist_ok=True)
wheel = "WHEEL"
pip = [sys.executable, "-m", "pip", "install", "--no-index", "--quiet"]
subprocess.run([*pip, wheel], check=True)  # the job's own install
print("imported", subprocess.run([sys.executable, "-c", "import smpipe_probe; print(smpipe_probe.VALUE)"],
                                 capture_output=True, text=True, check=True).stdout.strip())
# what pip runs to build a source package: an install with --prefix, in the job's environment
subprocess.run([*pip, "--prefix", "/opt/ml/processing/build-env", wheel], check=True)
print("build-env install", sorted(p.name for p in pathlib.Path("/opt/ml/processing/build-env").rglob("smpipe_probe*.py")))
"""


def probe_wheel(directory) -> str:
    """A one-module wheel, built by hand: no index, no build backend needed."""
    import base64
    import hashlib
    import zipfile

    files = {"smpipe_probe.py": b"VALUE = 'from the job prefix'\n",
             "smpipe_probe-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: smpipe-probe\nVersion: 1.0\n",
             "smpipe_probe-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                                 b"Tag: py3-none-any\n"}
    record = "".join(f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
                     f"{len(data)}\n" for name, data in files.items()) + "smpipe_probe-1.0.dist-info/RECORD,,\n"
    path = directory / "smpipe_probe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in {**files, "smpipe_probe-1.0.dist-info/RECORD": record.encode()}.items():
            wheel.writestr(name, data)
    return str(path)


def test_a_jobs_own_pip_install_goes_to_its_prefix_and_pips_build_installs_work(tmp_path):
    """Found running teams' pipelines: a script's own `pip install` of a package built from source
    failed (PIP_TARGET reached pip's build-environment install, which passes --prefix: "Cannot set
    --home and --prefix together"). The job installs into a prefix of its own, which it imports
    from; the interpreter running smpipe-gen is untouched."""
    import importlib.util

    repo = project(tmp_path)
    (tmp_path / "wheels").mkdir()
    (repo / "scripts" / "preprocess.py").write_text(PIP_IN_JOB.replace("WHEEL", probe_wheel(tmp_path / "wheels")))
    run_local("-C", str(repo), env={**os.environ, "COLUMNS": "200"}, expect=1)  # Train finds no rows: stops there
    (log,) = (repo / ".smpipe" / "runs").glob("*/steps/Preprocess/log.txt")
    text = log.read_text()
    assert "imported from the job prefix" in text
    assert "build-env install ['smpipe_probe.py']" in text
    assert "Cannot set --home and --prefix together" not in text
    assert importlib.util.find_spec("smpipe_probe") is None  # not installed where smpipe-gen runs
