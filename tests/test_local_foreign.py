"""Definitions this tool did not render run locally: an SDK program written directly with the SDK
(tests/local_fixtures/sdkprog/pipeline.py: processing, training, a PropertyFile condition, a
Model the SDK repacks, a Transform whose handler is transform_fn, a Fail step), run both from its
definition JSON (``--definition --code``) and from the program itself (``--pipeline``). The SDK
only runs in child processes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local_support import FIXTURES, last_record, run_local, statuses

REPO = Path(__file__).resolve().parents[1]
DATA = "s3://smpipe-local/sdkprog/raw"
ALL_DONE = {"Preprocess": "done", "Train": "done", "Evaluate": "done", "CheckMse": "done",
            "abalone-Create-RepackModel-0": "done", "abalone-Create-CreateModel": "done", "Transform": "done",
            "MseTooHigh": "skipped"}

# Builds the program's definition in a child process with the offline session, and lays the
# objects it uploads out FLAT (<hash dir>/<file name>, no bucket or prefix) the way someone who
# downloaded them might: the runner must find each by its key suffix.
BUILDER = r"""
import json, os, shutil, sys
from pathlib import Path
from smpipe_gen.render import offline
out = Path(sys.argv[1])
record = offline._RecordedObject.upload_file
def upload_file(self, filename, **kw):
    record(self, filename, **kw)
    target = out / "code" / "/".join(self.s3_uri.split("/")[-2:])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(filename, target)
offline._RecordedObject.upload_file = upload_file
with offline.offline_sdk(Path.cwd()) as recorder:
    sys.path.insert(0, os.getcwd())
    namespace = {}  # the program up to its module-level PipelineSession() (which would need AWS)
    exec(Path("pipeline.py").read_text().split("\npipeline = build(")[0], namespace)
    build = namespace["build"]
    pipeline = build(offline.pipeline_session("us-east-1", "smpipe-local", recorder))
    (out / "definition.json").write_text(pipeline.definition())
"""


@pytest.fixture
def program(tmp_path: Path) -> Path:
    """The SDK program beside the scripts and data it uses."""
    root = tmp_path / "sdkprog"
    shutil.copytree(FIXTURES / "sdkprog", root)
    shutil.copytree(FIXTURES / "mini" / "scripts", root / "scripts",
                    ignore=shutil.ignore_patterns("_repack*", "__pycache__"))
    shutil.copytree(FIXTURES / "mini" / "data", root / "data")
    return root


def run_in(cwd: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess:
    assert args[:2] == ("run", "--local"), args
    return run_local(*args[2:], expect=expect, cwd=cwd)


def predictions(root: Path) -> list[str]:
    return (root / ".smpipe/s3/smpipe-local/sdkprog/transform/x.csv.out").read_text().splitlines()


def test_sdk_definition_runs_from_its_json_and_a_folder_of_code_objects_or_of_scripts(program):
    built = subprocess.run([sys.executable, "-c", BUILDER, str(program / "built")], cwd=program,
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    assert not (program / "built" / "manifest.json").exists()
    run_in(program, "run", "--local", "--definition", "built/definition.json", "--code", "built/code",
           "--data", f"{DATA}=./data")
    assert statuses(last_record(program)) == ALL_DONE
    lines = predictions(program)
    assert len(lines) == 30 and all(float(v) == pytest.approx(float(v)) for v in lines)
    # the program's own folder instead (scripts/, serve/, no sourcedir.tar.gz): the bundles are
    # built from the folders of the entry points they run, before the first step
    shutil.rmtree(program / ".smpipe")
    shutil.rmtree(program / "built" / "code")
    run_in(program, "run", "--local", "--definition", "built/definition.json", "--code", ".", "--data", f"{DATA}=./data")
    assert statuses(last_record(program)) == ALL_DONE
    assert len(predictions(program)) == 30


def test_sdk_program_runs_unchanged(program):
    result = run_in(program, "run", "--local", "--pipeline", "pipeline.py", "--data", f"{DATA}=./data")
    assert "sdkprog execution" in result.stdout + result.stderr
    assert statuses(last_record(program)) == ALL_DONE
    assert len(predictions(program)) == 30
    # the same pipeline through its build(session) function
    (program / ".smpipe/s3/smpipe-local/sdkprog/transform/x.csv.out").unlink()
    run_in(program, "run", "--local", "--pipeline", "pipeline.py:build", "--data", f"{DATA}=./data")
    assert statuses(last_record(program)) == ALL_DONE
    assert len(predictions(program)) == 30


def test_a_program_that_builds_no_pipeline_fails_in_one_line(program):
    (program / "bad.py").write_text("import boto3\nboto3.client('sts').get_caller_identity()\n")
    result = run_in(program, "run", "--local", "--pipeline", "bad.py", expect=1)
    assert "error: --pipeline bad.py: building the pipeline failed: bad.py has 0 Pipeline objects at module level; " \
           "name the function that builds it: --pipeline bad.py:FUNCTION" in result.stderr
    assert "Traceback" not in result.stderr


def test_definition_options_are_checked_in_one_line(program):
    result = run_in(program, "run", "--local", "--code", "scripts", expect=1)
    assert "--code serves the code objects of a --definition" in result.stderr
    (program / "broken.json").write_bytes(b"\xff{")
    result = run_in(program, "run", "--local", "--definition", "broken.json", expect=1)
    assert "--definition broken.json: cannot read the definition" in result.stderr and "Traceback" not in result.stderr
    result = run_in(program, "run", "--local", "--definition", "missing.json", expect=1)
    assert "error: --definition missing.json: definition not found (hint: pass the JSON" in result.stderr
