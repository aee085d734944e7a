"""Hostile definitions and jobs: ``run --local --definition`` runs a definition nobody reviewed, and
a job leaves whatever it likes in its outputs. Each defect class found by probing gets a test
here, written from its reproduction: the run refuses in one line naming the step (or behaves as
SageMaker does), never writes outside its place, never follows a link a job left."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import copy_example, smpipe_in_process
from local_support import last_record, project, statuses

BUCKET = "s3://hostile-bucket"


def processing(name: str, command: str, inputs: dict[str, tuple[str, str]] | None = None,
               outputs: dict[str, tuple[str, str]] | None = None, **extra) -> dict:
    """A processing step of the shape the SDK writes, running ``command`` with sh."""
    arguments = {
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": "img", "ContainerEntrypoint": ["sh", "-c", command]},
        "RoleArn": "arn:aws:iam::123456789012:role/Test", **extra}
    if inputs:
        arguments["ProcessingInputs"] = [
            {"InputName": key, "AppManaged": False, "S3Input": {"S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix",
                                                                "S3InputMode": "File"}} for key, (uri, local) in inputs.items()]
    if outputs:
        arguments["ProcessingOutputConfig"] = {"Outputs": [
            {"OutputName": key, "AppManaged": False, "S3Output": {"S3Uri": uri, "LocalPath": local, "S3UploadMode": "EndOfJob"}}
            for key, (uri, local) in outputs.items()]}
    return {"Name": name, "Type": "Processing", "Arguments": arguments}


def run_definition(folder: Path, *steps: dict, expect: int) -> str:
    """Write a definition of ``steps`` into ``folder`` and run it there; returns stderr."""
    (folder / "definition.json").write_text(json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": list(steps)}))
    done = smpipe_in_process("run", "--local", "--definition", "definition.json", cwd=folder)
    assert done.returncode == expect, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def store(folder: Path) -> Path:
    return folder / ".smpipe" / "s3" / "hostile-bucket"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A directory of the machine a hostile definition aims at."""
    target = tmp_path / "victim"
    (target / "data").mkdir(parents=True)
    (target / "data" / "secret.txt").write_text("secret")
    return target


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


@pytest.mark.parametrize("kind", ["inputs", "outputs"])
def test_a_local_path_is_normalised_and_stays_under_opt_ml(folder, victim, kind):
    """``/opt/ml/processing/../../..``: a trivial job moved an arbitrary directory into the store."""
    escape = "/opt/ml/processing/" + "../" * 40 + str(victim).lstrip("/")
    places = {"data": (f"{BUCKET}/in", escape)}
    (store(folder) / "in").mkdir(parents=True)
    (store(folder) / "in" / "x.csv").write_text("1\n")
    step = processing("Escape", "true", **{kind: places})
    stderr = run_definition(folder, step, expect=1)
    assert f"error: step Escape: {kind[:-1]} 'data' LocalPath '/opt/ml/processing/../../" in stderr
    assert "is outside /opt/ml" in stderr
    assert (victim / "data" / "secret.txt").read_text() == "secret"
    inside = processing("Inside", "ls /opt/ml/processing/out > /opt/ml/processing/out/listing",
                        outputs={"out": (f"{BUCKET}/out", "/opt/ml/processing/input/../out/./")})
    run_definition(folder, inside, expect=0)
    assert (store(folder) / "out" / "listing").is_file()


@pytest.mark.parametrize("uri, message", [
    ("s3://../out", "invalid S3 URI: 's3://../out'"),
    ("s3://./out", "invalid S3 URI: 's3://./out'"),
    (f"{BUCKET}/a/../../../runs", f"invalid S3 URI: '{BUCKET}/a/../../../runs'"),
    (f"{BUCKET}/" + "k" * 300, "S3 key too long for the local store"),
])
def test_an_output_uri_names_a_place_inside_the_store(folder, uri, message):
    """An output bucket ``..`` landed beside runs/ and cache/."""
    step = processing("Out", "echo x > /opt/ml/processing/out/x", outputs={"out": (uri, "/opt/ml/processing/out")})
    stderr = run_definition(folder, step, expect=1)
    assert f"error: step Out: {message}" in stderr
    assert sorted(p.name for p in (folder / ".smpipe").iterdir() if p.name.startswith("out")) == []


def test_a_code_key_with_dots_is_not_served_from_outside_the_code_folder(folder):
    (folder / "code").mkdir()
    (folder / "outside.py").write_text("print('served from outside --code')\n")
    step = processing("Run", "python3 /opt/ml/processing/input/code/outside.py",
                      inputs={"code": (f"{BUCKET}/a/../../outside.py", "/opt/ml/processing/input/code")})
    (folder / "definition.json").write_text(json.dumps({"Version": "2020-12-01", "Steps": [step]}))
    done = smpipe_in_process("run", "--local", "--definition", "definition.json", "--code", "code", cwd=folder)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"error: step Run: invalid S3 URI: '{BUCKET}/a/../../outside.py'" in done.stderr
    assert "served from outside" not in done.stdout + done.stderr


@pytest.mark.parametrize("command, link", [
    ("ln -s {victim}/data/secret.txt /opt/ml/processing/out/leak.txt", "out/leak.txt"),
    ("ln -s {victim}/data /opt/ml/processing/out/dir", "out/dir"),
    ("rmdir /opt/ml/processing/out && ln -s {victim} /opt/ml/processing/out", "out"),
    ("cd / && mv /opt/ml/processing/out {victim}/ && rm -r /opt/ml/processing && ln -s {victim} /opt/ml/processing",
     "processing"),
])
def test_links_a_job_leaves_in_its_outputs_are_refused_never_followed(folder, victim, command, link):
    """Links were followed when the next step read the output and when a later step published."""
    step = processing("Links", command.format(victim=victim), outputs={"out": (f"{BUCKET}/out", "/opt/ml/processing/out")})
    stderr = run_definition(folder, step, expect=1)
    assert f"error: step Links: output {BUCKET}/out holds a symbolic link: {link} -> " in stderr
    assert {"data", "data/secret.txt"} <= {p.relative_to(victim).as_posix() for p in victim.rglob("*")}
    assert (victim / "data" / "secret.txt").read_text() == "secret"
    assert not (store(folder) / "out").exists()


def test_a_deep_definition_is_one_line_in_plan_graph_and_run(tmp_path):
    """A 100k-deep definition gave a RecursionError traceback in plan, graph and run --local."""
    deep = '{"Version": "2020-12-01", "Steps": [], "Metadata": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (tmp_path / "deep.json").write_text(deep)
    root = copy_example("abalone", tmp_path)
    expected = "deep.json:1: definition nests deeper than 100 levels (hint: a pipeline definition nests about 15"
    planned = smpipe_in_process("plan", "-C", str(root), "--base-definition", str(tmp_path / "deep.json"))
    assert planned.returncode == 1 and expected in planned.stderr, planned.stderr
    ran = smpipe_in_process("run", "--local", "--definition", str(tmp_path / "deep.json"), cwd=tmp_path)
    assert ran.returncode == 1 and expected in ran.stderr, ran.stderr
    (root / "pipeline" / "definition.json").write_text(deep)
    drawn = smpipe_in_process("graph", "-C", str(root))
    assert drawn.returncode == 1, drawn.stderr
    assert "pipeline/definition.json:1: rendered definition nests deeper than 100 levels" in drawn.stderr
    assert all("Traceback" not in done.stderr for done in (planned, ran, drawn))


def test_step_names_get_distinct_bounded_directories(folder):
    """A 5,000-character step name gave an OSError traceback; ``a b`` and ``a_b`` shared one step
    directory and ran in it at once."""
    names = ["a b", "a_b", "x" * 5000, "..", "a/b"]
    steps = [processing(name, f"echo {index} > /opt/ml/processing/out/who; sleep 0.5",
                        outputs={"out": (f"{BUCKET}/out{index}", "/opt/ml/processing/out")})
             for index, name in enumerate(names)]
    run_definition(folder, *steps, expect=0)
    assert [(store(folder) / f"out{index}" / "who").read_text().strip() for index in range(len(names))] == \
        [str(index) for index in range(len(names))]
    record = last_record(folder)
    logs = {name: record["steps"][name]["log"] for name in names}
    assert len(set(logs.values())) == len(names)
    assert all(Path(log).is_relative_to(folder / ".smpipe" / "runs") and len(Path(log).parent.name) <= 100
               for log in logs.values())


def test_max_runtime_stops_a_job_as_sagemaker_does(folder):
    """MaxRuntimeInSeconds was not enforced. SageMaker sends SIGTERM, then SIGKILL after its grace
    time, and the job ends Stopped (MaxRuntimeExceeded) even when it exits 0 on SIGTERM."""
    script = ("import signal, sys, time\n"
              "signal.signal(signal.SIGTERM, lambda *_: (print('got SIGTERM', flush=True), sys.exit(0)))\n"
              "open('/opt/ml/processing/out/started', 'w').close()\n"
              "time.sleep(120)\n")
    step = processing("Slow", "", outputs={"out": (f"{BUCKET}/slow", "/opt/ml/processing/out")},
                      StoppingCondition={"MaxRuntimeInSeconds": 1})
    step["Arguments"]["AppSpecification"]["ContainerEntrypoint"] = ["python3", "-c", script]
    stderr = run_definition(folder, step, expect=1)
    assert ("error: step Slow: execution failed: Stopped: MaxRuntimeExceeded - the job stopped because it exceeded "
            "the maximum allowed runtime (MaxRuntimeInSeconds 1)") in stderr
    log = Path(last_record(folder)["steps"]["Slow"]["log"]).read_text()
    assert "got SIGTERM" in log and not (store(folder) / "slow").exists()


def test_a_processing_step_may_have_no_inputs_or_outputs(folder):
    run_definition(folder, processing("Hello", "echo hello from a job with nothing to read or write"), expect=0)
    assert statuses(last_record(folder)) == {"Hello": "done"}
    assert "hello from a job" in Path(last_record(folder)["steps"]["Hello"]["log"]).read_text()


def test_two_runs_of_one_project_at_once_both_succeed(tmp_path):
    """Two ``run --local`` of one project raced on .smpipe/code/<digest>.d: a job found an empty
    code directory (4 of 4 repro runs)."""
    mini = project(tmp_path)
    command = [sys.executable, "-m", "smpipe_gen", "run", "--local", "--no-cache", "-C", str(mini)]
    for _ in range(2):
        shutil.rmtree(mini / ".smpipe", ignore_errors=True)
        runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outcomes = [(process.wait(timeout=600), process.stderr.read()) for process in runs]
        for code, stderr in outcomes:
            assert code == 0 and "warning" not in stderr, stderr


def _malformed(step: dict, edit: str) -> dict:
    arguments = step["Arguments"]
    if edit == "output-float":
        arguments["ProcessingOutputConfig"]["Outputs"] = [1.5]
    elif edit == "no-s3-output":
        del arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    elif edit == "cache-null":
        step["CacheConfig"] = None
    elif edit == "get-of-a-map":
        arguments["Environment"] = {"X": {"Get": {"Steps": "Prep"}}}
    elif edit == "join-of-a-number":
        arguments["Environment"] = {"X": {"Std:Join": 7}}
    return step


@pytest.mark.parametrize("edit, expected", [
    ("output-float", "SageMaker would refuse these arguments: Invalid type for parameter "
                     "ProcessingOutputConfig.Outputs[0], value: 1.5"),
    ("no-s3-output", "output 'out' is not an S3 output"),
    ("cache-null", None),
    ("get-of-a-map", "Get needs a reference such as Steps.<step>.<property>, got {'Steps': 'Prep'}"),
    ("join-of-a-number", "malformed expression 7"),
])
def test_malformed_arguments_the_fuzzer_found_are_one_line(folder, edit, expected):
    """Shapes the SDK never writes ended a step in the runner's "internal error" (a traceback in
    the step log), or escaped as a traceback: each is one line naming the step and the argument."""
    step = _malformed(processing("Prep", "true", outputs={"out": (f"{BUCKET}/out", "/opt/ml/processing/out")}), edit)
    stderr = run_definition(folder, step, expect=0 if expected is None else 1)
    if expected is not None:
        assert f"error: step Prep: {expected}" in stderr
        assert "internal error" not in stderr


def test_a_model_directory_a_job_replaced_by_a_link_is_not_packed(folder, victim):
    """/opt/ml/model made a link to a directory of the machine: packing would read it into the store."""
    import io
    import tarfile

    script = (f"import os\nos.rmdir(os.environ['SM_MODEL_DIR'])\nos.symlink({str(victim)!r}, os.environ['SM_MODEL_DIR'])\n"
              ).encode()
    (folder / "code").mkdir()
    with tarfile.open(folder / "code" / "sourcedir.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    step = {"Name": "Fit", "Type": "Training", "Arguments": {
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": f"{BUCKET}/models"}, "RoleArn": "arn:aws:iam::123456789012:role/Test",
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "HyperParameters": {"sagemaker_program": '"train.py"',
                            "sagemaker_submit_directory": f'"{BUCKET}/code/sourcedir.tar.gz"'}}}
    (folder / "definition.json").write_text(json.dumps({"Version": "2020-12-01", "Steps": [step]}))
    done = smpipe_in_process("run", "--local", "--definition", "definition.json", "--code", "code", cwd=folder)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"error: step Fit: model is a symbolic link to {victim}" in done.stderr, done.stderr
    assert not (store(folder) / "models").exists()
