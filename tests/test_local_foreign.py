"""Definitions this tool did not render run locally: an SDK program written directly with the SDK
(tests/local_fixtures/sdkprog/pipeline.py: processing, training, a PropertyFile condition, a
Model the SDK repacks, a Transform whose handler is transform_fn, a Fail step), run both from its
definition JSON (``--definition --code``) and from the program itself (``--pipeline``); and a
model whose data an https URL names, as AWS's notebooks write it. The SDK only runs in child
processes."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from helpers import smpipe_in_process
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


@pytest.mark.parametrize("url, uri", [
    ("https://models.s3.us-east-1.amazonaws.com/churn/model.tar.gz", "s3://models/churn/model.tar.gz"),
    ("https://models.s3-us-east-1.amazonaws.com/churn/model.tar.gz", "s3://models/churn/model.tar.gz"),
    ("https://models.s3.amazonaws.com/churn/model.tar.gz", "s3://models/churn/model.tar.gz"),
    ("https://my.models.s3.eu-west-1.amazonaws.com/m.tar.gz", "s3://my.models/m.tar.gz"),
    ("https://s3.us-east-1.amazonaws.com/models/churn/model.tar.gz", "s3://models/churn/model.tar.gz"),
    ("https://s3-us-east-1.amazonaws.com/models/churn/model.tar.gz", "s3://models/churn/model.tar.gz"),
    ("https://s3.amazonaws.com/models/churn/model.tar.gz", "s3://models/churn/model.tar.gz"),
    ("https://S3.AmazonAWS.com/models/churn%20v2/model.tar.gz?versionId=1", "s3://models/churn v2/model.tar.gz"),
    ("https://models.s3.dualstack.us-east-1.amazonaws.com/m.tar.gz", "s3://models/m.tar.gz"),
    ("https://s3.dualstack.eu-west-1.amazonaws.com/models/m.tar.gz", "s3://models/m.tar.gz"),
    ("https://models.s3.cn-north-1.amazonaws.com.cn/m.tar.gz", "s3://models/m.tar.gz"),
    ("s3://models/churn/model.tar.gz", "s3://models/churn/model.tar.gz"),
    # not an S3 object's URL: unchanged, so the store refuses it as before
    ("https://example.com/models/model.tar.gz", "https://example.com/models/model.tar.gz"),
    ("https://models.s3.amazonaws.com.example.com/m.tar.gz", "https://models.s3.amazonaws.com.example.com/m.tar.gz"),
    ("https://s3.amazonaws.com/", "https://s3.amazonaws.com/"),
    ("http://s3.amazonaws.com/models/m.tar.gz", "http://s3.amazonaws.com/models/m.tar.gz"),
    ("models/m.tar.gz", "models/m.tar.gz"),
])
def test_an_https_url_of_an_s3_object_names_its_s3_uri(url, uri):
    from smpipe_gen.local.store import as_s3_uri

    assert as_s3_uri(url) == uri


INFERENCE = """
def model_fn(model_dir):
    return int(open(f"{model_dir}/factor.txt").read())

def transform_fn(factor, body, content_type, accept):
    return str(factor * int(body)), "text/csv"
"""


def model_tarball(path: Path) -> None:
    """A model.tar.gz as the SDK repacks one: its data beside code/inference.py."""
    with tarfile.open(path, "w:gz") as tar:
        for name, text in {"factor.txt": "7", "code/inference.py": INFERENCE}.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))


def serving_definition(model_data_url: str) -> dict:
    """A Model with its data at ``model_data_url``, a Transform serving it, a RegisterModel of it."""
    model = {"Name": "CreateModel", "Type": "Model", "Arguments": {
        "ExecutionRoleArn": "arn:aws:iam::000000000000:role/r",
        "PrimaryContainer": {"Image": "img", "ModelDataUrl": model_data_url,
                             "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}}}
    transform = {"Name": "Score", "Type": "Transform", "Arguments": {
        "ModelName": {"Get": "Steps.CreateModel.ModelName"}, "BatchStrategy": "SingleRecord",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://models/in"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": "s3://models/out", "AssembleWith": "Line"},
        "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}}}
    register = {"Name": "Register", "Type": "RegisterModel", "DependsOn": ["Score"], "Arguments": {
        "ModelPackageGroupName": "churn", "InferenceSpecification": {"Containers": [
            {"Image": "img", "ModelDataUrl": model_data_url}]}}}
    return {"Version": "2020-12-01", "Parameters": [], "Steps": [model, transform, register]}


def test_a_transform_serves_a_model_whose_data_an_https_url_names(tmp_path):
    """AWS's notebooks pass Model(model_data="https://bucket.s3-us-east-1.amazonaws.com/key"):
    CreateModel takes it, and the local run refused it as "not an S3 URI"."""
    model_tarball(tmp_path / "model.tar.gz")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.csv").write_text("1\n2\n")

    def run(url: str, expect: int) -> str:
        (tmp_path / "definition.json").write_text(json.dumps(serving_definition(url)))
        done = smpipe_in_process("run", "--local", "--definition", "definition.json", "--data",
                                 "s3://models/churn/model.tar.gz=./model.tar.gz", "--data", "s3://models/in=./in",
                                 cwd=tmp_path)
        assert done.returncode == expect, done.stdout + done.stderr
        return done.stderr

    run("https://models.s3-us-east-1.amazonaws.com/churn/model.tar.gz", expect=0)
    record = last_record(tmp_path)
    assert statuses(record) == {"CreateModel": "done", "Score": "done", "Register": "done"}
    assert (tmp_path / ".smpipe/s3/models/out/x.csv.out").read_text().splitlines() == ["7", "14"]
    assert "not in the local store" not in Path(record["steps"]["Register"]["log"]).read_text()
    refused = run("https://example.com/churn/model.tar.gz", expect=1)
    assert "error: step Score: not an S3 URI: 'https://example.com/churn/model.tar.gz'" in refused
