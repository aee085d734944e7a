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
