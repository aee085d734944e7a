"""Bad input gives one line naming the place plus a hint, exit 1, no traceback."""

import json
import subprocess
import sys

import pytest

from helpers import smpipe
from local_support import last_record, project, run


def _error(result):
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("args, expected", [
    (["--param", "MseThreshold=high"], "error: --param MseThreshold: 'high' is not a valid Float (hint: parameter MseThreshold has Type Float)"),
    (["--param", "MseTreshold=1"], "error: --param MseTreshold: unknown parameter 'MseTreshold' (hint: did you mean 'MseThreshold'?)"),
    (["--param", "MseThreshold"], "error: --param: 'MseThreshold' is not NAME=VALUE"),
    (["--from-step", "Nope"], "error: --from-step: no step named 'Nope'"),
    (["--max-parallel", "0"], "error: --max-parallel: must be at least 1"),
    (["--data", "s3://b/x=./does-not-exist"], "error: --data s3://b/x: ./does-not-exist does not exist"),
])
def test_bad_options(tmp_path, args, expected):
    repo = project(tmp_path)
    assert _error(run(repo, *args, expect=1)).startswith(expected)
    assert not (repo / ".smpipe" / "runs").exists()


def test_missing_input_names_step_and_uri(tmp_path):
    repo = project(tmp_path)
    (repo / "data" / "raw.csv").unlink()
    line = _error(run(repo, expect=1))
    assert line == ("error: step Preprocess: input s3://fixture-bucket/mini/raw/raw.csv is not in the local store "
                    "(hint: add it to the manifest's local_data or pass --data S3URI=./local/dir)")


def test_data_option_seeds_the_store(tmp_path):
    """The file --data names is what Preprocess reads (the repository's copy is gone, and the
    given one has other rows): its split is what the store publishes."""
    repo = project(tmp_path)
    rows = (repo / "data" / "raw.csv").read_text().splitlines()
    (repo / "data" / "raw.csv").unlink()
    seeded = rows + [f"{index}.5,1.0,2.0,3.0" for index in range(7)]
    (tmp_path / "elsewhere.csv").write_text("\n".join(seeded) + "\n")
    run(repo, "--data", f"s3://fixture-bucket/mini/raw/raw.csv={tmp_path / 'elsewhere.csv'}",
        "--param", "TrainFail=yes", expect=1)
    record = last_record(repo)
    assert (record["failed_step"], record["steps"]["Preprocess"]["status"]) == ("Train", "done")
    log = (repo / ".smpipe" / "runs" / record["execution_id"] / "steps" / "Preprocess" / "log.txt").read_text()
    assert f"preprocessed {len(seeded)} rows" in log
    (published,) = (repo / ".smpipe" / "s3" / "fixture-bucket").rglob("test/test.csv")
    assert published.read_text().splitlines() == seeded[90:]


def test_run_requires_local_and_rendered_artifacts(tmp_path):
    result = smpipe("run", "-C", str(tmp_path))
    assert result.returncode == 1
    assert _error(result) == "error: run: only local runs are supported (hint: pass --local)"
    line = _error(run(tmp_path, expect=1))
    assert line == ("error: pipeline/definition.json: rendered definition not found (hint: run `smpipe-gen render`, "
                    "or run any SDK definition with --definition FILE --code DIR or an SDK program with --pipeline FILE.py)")


def test_runner_never_imports_the_sagemaker_sdk():
    code = ("import sys, smpipe_gen.commands.run, smpipe_gen.local.scheduler, smpipe_gen.local.progress; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sagemaker', 'boto3')); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("steps, expected", [
    ([{"Name": "L", "Type": "Lambda", "Arguments": {}, "FunctionArn": "arn:aws:lambda:us-east-1:1:function:f"}],
     "step L: Lambda function 'arn:aws:lambda:us-east-1:1:function:f' is not known to this run (hint: pass --lambda "
     "f=FILE.py:HANDLER, or --stand-in L=FILE.json)"),
    ([{"Name": "E", "Type": "EMR", "Arguments": {}}],
     "step E: step type 'EMR' has no local version: runs on an Amazon EMR cluster (hint: pass --stand-in E=FILE.json with the properties the steps "
     "after it read (local runs support Condition, Fail, Lambda, Model, Processing, RegisterModel, Training, "
     "Transform, Tuning))"),
    ([{"Name": "A", "Type": "Fail", "Arguments": {}, "DependsOn": ["B"]},
      {"Name": "B", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Steps.A.X"}}}],
     "definition.json: dependency cycle: A -> B -> A"),
    ([{"Name": "A", "Type": "Fail", "Arguments": {}, "DependsOn": ["Ghost"]}],
     "step A: refers to unknown step 'Ghost' (hint: run `smpipe-gen render`)"),
])
def test_definitions_that_cannot_run_are_refused_before_anything_runs(steps, expected):
    from smpipe_gen.definition import from_json
    from smpipe_gen.errors import SmpipeError
    from smpipe_gen.local.scheduler import build_graph

    with pytest.raises(SmpipeError) as error:
        build_graph(from_json({"Steps": steps}))
    assert error.value.one_line() == expected


def test_a_framework_image_without_a_script_is_refused_and_only_what_does_not_need_it_runs(tmp_path):
    repo = project(tmp_path)
    definition = json.loads((repo / "pipeline" / "definition.json").read_text())
    train = next(s for s in definition["Steps"] if s["Name"] == "Train")
    for key in [k for k in train["Arguments"]["HyperParameters"] if k.startswith("sagemaker_")]:
        del train["Arguments"]["HyperParameters"][key]
    (repo / "pipeline" / "definition.json").write_text(json.dumps(definition))
    line = _error(run(repo, expect=1))
    assert line == ("error: step Train: training image 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:"
                    "1.2-1-cpu-py3 has no entry point script: its own program would run, which cannot run locally (hint: "
                    "the steps that do not depend on it run; pass --stand-in Train=FILE.json with the properties the steps "
                    "after it read to run past it; an Estimator with entry_point (script mode) runs locally)")
    record = last_record(repo)
    assert (record["status"], record["failed_step"]) == ("Failed", "Train")
    assert {name: step["status"] for name, step in record["steps"].items() if name in ("Preprocess", "Train", "Evaluate")} \
        == {"Preprocess": "done", "Train": "failed", "Evaluate": "not started"}


TENSORFLOW = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:2.4.1-cpu-py37"


def test_a_job_lacking_the_framework_its_image_ships_says_which_and_how_to_get_it(tmp_path):
    """A TensorFlow estimator's script imports tensorflow because its image has it; this machine may not."""
    repo = project(tmp_path)
    definition = json.loads((repo / "pipeline" / "definition.json").read_text())
    train = next(s for s in definition["Steps"] if s["Name"] == "Train")
    train["Arguments"]["AlgorithmSpecification"]["TrainingImage"] = TENSORFLOW
    (repo / "pipeline" / "definition.json").write_text(json.dumps(definition))
    script = repo / "scripts" / "train.py"
    script.write_text("import tensorflow  # the image's\n" + script.read_text())
    result = run(repo, expect=1)  # the job's own traceback is in the log tail shown
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith("error: step Train: execution failed: process exited with code 1; the image "
                           "tensorflow-training:2.4.1-cpu-py37 ships tensorflow 2.4.1; a local job runs on this "
                           "machine's packages, which lack it: pip install tensorflow, or list it in the step's "
                           "requirements.txt")


@pytest.mark.parametrize("log, image, expected", [
    ("ModuleNotFoundError: No module named 'sklearn.preprocessing'",
     "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.23-1-cpu-py3",
     "the image sagemaker-scikit-learn:0.23-1-cpu-py3 ships scikit-learn 0.23; a local job runs on this machine's "
     "packages, which lack it: pip install scikit-learn, or list it in the step's requirements.txt"),
    ("ModuleNotFoundError: No module named 'torch'", "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:latest",
     "the image pytorch-training:latest ships torch; a local job runs on this machine's packages, which lack it: "
     "pip install torch, or list it in the step's requirements.txt"),
    ("ModuleNotFoundError: No module named 'pandas'", TENSORFLOW, ""),  # not the image's framework
    ("ModuleNotFoundError: No module named 'tensorflow'", "123456789012.dkr.ecr.us-east-1.amazonaws.com/mine:1", ""),
    ("all fine", TENSORFLOW, ""),
    ("FileNotFoundError: [Errno 2] No such file or directory: '/app/step_feature_engineering.py'",
     "123456789012.dkr.ecr.us-east-1.amazonaws.com/team-processing:latest",
     "/app/step_feature_engineering.py is not on this machine: if it is a file of the image team-processing:latest, "
     "a local job does not have it (it sees this machine's files); ship the file with the step's code, or pass "
     "--stand-in for the step"),
    ("python3: can't open file '/app/run.py': [Errno 2] No such file or directory",
     "123456789012.dkr.ecr.us-east-1.amazonaws.com/team-processing",
     "/app/run.py is not on this machine: if it is a file of the image team-processing:latest, a local job does not "
     "have it (it sees this machine's files); ship the file with the step's code, or pass --stand-in for the step"),
    ("FileNotFoundError: [Errno 2] No such file or directory: '/opt/ml/processing/input/rows.csv'", TENSORFLOW, ""),
    ("FileNotFoundError: [Errno 2] No such file or directory: '/bin/sh'", TENSORFLOW, ""),  # here: another cause
])
def test_the_hint_names_what_the_image_has_and_this_machine_lacks(log, image, expected):
    from smpipe_gen.local import frameworks

    assert frameworks.explain(log, image) == expected
