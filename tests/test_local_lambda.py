"""Lambda steps and stand-ins in local runs (tests/local_fixtures/lambda): a definition whose
Lambda step's outputs feed a condition, both branches taken by what the handler returns; handler
errors as Lambda reports them; outputs SageMaker would not accept; ``--lambda`` from the CLI; an
SDK program that creates its function with ``sagemaker.lambda_helper.Lambda(script=...)``; a
ClarifyCheck step refused before the run and run past with ``--stand-in``; a step whose property
file is read stood in with its reader. Handlers run in real processes; the SDK only in the one
child that captures the program."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from helpers import offline_env, smpipe_in_process
from local_support import FIXTURES, last_record, statuses

SCORE = "--lambda=score-model=handlers/score.py:lambda_handler"
ANNOUNCE = "--lambda=announce=handlers/announce.py:handler"
FOREST = "382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1"


@pytest.fixture
def fixture(tmp_path: Path) -> Path:
    root = tmp_path / "lambda"
    shutil.copytree(FIXTURES / "lambda", root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def run(root: Path, *args: str, definition: str = "gate.json", expect: int = 0):
    result = smpipe_in_process("run", "--local", "--definition", definition, "--code", ".", *args, cwd=root)
    assert result.returncode == expect, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def test_lambda_outputs_feed_a_condition_and_the_handler_decides_the_branch(fixture):
    run(fixture, SCORE, ANNOUNCE)
    record = last_record(fixture)
    assert statuses(record) == {"Score": "done", "CheckScore": "done", "Announce": "done", "ScoreTooLow": "skipped"}
    assert record["steps"]["Score"]["properties"]["OutputParameters"] == {
        "statusCode": 200, "verdict": "churn scored 0.8", "score": 0.8, "approved": True}
    message = json.loads(record["steps"]["Announce"]["properties"]["OutputParameters"]["message"])
    assert message == {"event": {"verdict": "churn scored 0.8", "score": 0.8}, "function": "announce",
                       "arn": "arn:aws:lambda:us-east-1:000000000000:function:announce", "request": True,
                       "env_name": "announce"}
    assert "score-model scoring churn: 0.8" in Path(record["steps"]["Score"]["log"]).read_text()

    result = run(fixture, SCORE, ANNOUNCE, "--param", "Rows=20", expect=1)
    assert statuses(last_record(fixture)) == {"Score": "done", "CheckScore": "done", "Announce": "skipped",
                                              "ScoreTooLow": "failed"}
    assert errors(result)[0].startswith("error: step ScoreTooLow: execution failed: score 0.2 is below 0.5")


@pytest.mark.parametrize("handler, message", [
    ("raises", "Lambda function score-model failed: KeyError: 'model_id'"),
    ("misses", "Lambda function score-model returned no output 'score', 'approved' (its keys: 'statusCode', 'verdict')"),
    ("mistypes", "Lambda function score-model output 'statusCode' is declared Integer; got \"two hundred\""),
    ("not_an_object", "Lambda function score-model returned [\"statusCode\", 200], not a JSON object holding the "
                      "outputs 'statusCode', 'verdict', 'score', 'approved'"),
    ("unserializable", "Lambda function score-model failed: Runtime.MarshalError: Unable to marshal response: "
                       "Object of type module is not JSON serializable"),
    ("exits", "Lambda function score-model failed: Runtime.ExitError: Runtime exited with error: exit status 3"),
    ("absent", "Lambda function score-model failed: Runtime.HandlerNotFound: Handler 'absent' missing on module 'faulty'"),
])
def test_a_failed_invocation_or_an_output_sagemaker_would_not_take_fails_the_step(fixture, handler, message):
    result = run(fixture, f"--lambda=score-model=handlers/faulty.py:{handler}", ANNOUNCE, expect=1)
    assert errors(result)[0].startswith(f"error: step Score: execution failed: {message} (hint: ")
    assert statuses(last_record(fixture))["Score"] == "failed"


def test_the_handler_is_timed_out_at_the_function_timeout(tmp_path):
    from smpipe_gen.local.jobs import lambda_worker

    (tmp_path / "slow_handler.py").write_text("import time\n\ndef handler(event, context):\n    time.sleep(5)\n")
    (tmp_path / "event.json").write_text("{}")
    sys.path.insert(0, str(tmp_path))
    try:
        outcome = lambda_worker.invoke({"handler": "slow_handler.handler", "event": str(tmp_path / "event.json"),
                                        "timeout": 0.2, "function_name": "f", "function_arn": "arn", "memory": 128,
                                        "request_id": "r", "log_stream": "s"})
    finally:
        sys.path.remove(str(tmp_path))
    assert outcome == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 0.20 seconds",
                       "stackTrace": []}


def test_lambda_steps_without_a_function_are_refused_before_anything_runs(fixture):
    result = run(fixture, SCORE, expect=1)
    assert errors(result) == [
        "error: step Announce: Lambda function 'announce' is not known to this run (hint: pass --lambda "
        "announce=FILE.py:HANDLER, or --stand-in Announce=FILE.json)"]
    assert not (fixture / ".smpipe" / "runs").exists()


@pytest.mark.parametrize("option, expected", [
    ("score-model=handlers/score.py", "--lambda: 'score-model=handlers/score.py' is not NAME_OR_ARN=FILE.py:HANDLER "
                                      "(hint: e.g. --lambda my-function=lambdas/deploy.py:lambda_handler)"),
    ("score-model=../score.py:h", "--lambda score-model: file '../score.py' leads outside lambda/ (to "),
    ("score-model=gate.json:h", "--lambda score-model: gate.json is not a .py file (hint: name the handler's script)"),
    ("score-model=handlers/score.py:not-a-name", "--lambda score-model: handler 'not-a-name' is not a Python function "
                                                  "name (hint: write NAME_OR_ARN=FILE.py:HANDLER, HANDLER the function "
                                                  "in FILE.py)"),
])
def test_bad_lambda_options_are_one_line_errors(fixture, option, expected):
    from smpipe_gen.errors import SmpipeError
    from smpipe_gen.local.jobs.lambda_function import from_options

    with pytest.raises(SmpipeError) as error:
        from_options([option], fixture)
    assert error.value.one_line().startswith(expected)


@pytest.mark.parametrize("kind, value, expected", [
    ("String", "a", "a"), ("String", 3, "3"), ("String", True, "true"), ("String", {"a": [1]}, '{"a": [1]}'),
    ("Integer", 200, 200), ("Integer", "-7", -7), ("Float", 2, 2.0), ("Float", "0.25", 0.25),
    ("Boolean", True, True), ("Boolean", "False", False),
    ("Integer", 1.5, ValueError), ("Integer", True, ValueError), ("Float", "x", ValueError),
    ("Boolean", 1, ValueError), ("Boolean", None, ValueError), ("Integer", [1], ValueError),
])
def test_outputs_are_cast_to_their_declared_type(kind, value, expected):
    from smpipe_gen.local.jobs.lambda_function import typed_output

    if expected is ValueError:
        with pytest.raises(ValueError, match=f"declared {kind}"):
            typed_output("out", kind, value)
    else:
        assert typed_output("out", kind, value) == expected


@pytest.mark.parametrize("function_arn, found", [
    ("arn:aws:lambda:us-east-1:000000000000:function:score-model", "score-model"),
    ("arn:aws:lambda:eu-west-1:111122223333:function:score-model:live", "score-model"),
    ("000000000000:function:score-model", "score-model"), ("score-model", "score-model"),
    ("arn:aws:lambda:us-east-1:000000000000:function:other", None), ({"Get": "Parameters.F"}, None),
])
def test_a_function_arn_finds_its_function_by_arn_or_name(function_arn, found):
    from smpipe_gen.local.jobs.lambda_function import Function, lookup

    functions = {"score-model": Function("score-model", Path("f.py"), "f.h", "test")}
    assert (lookup(functions, function_arn) or Function(None, Path(), "", "")).name == found


def test_a_clarify_check_is_refused_before_the_run_and_run_past_with_a_stand_in(fixture):
    refused = run(fixture, ANNOUNCE, definition="clarify.json", expect=1)
    assert errors(refused) == [
        "error: step CheckDataBias: step type 'ClarifyCheck' has no local version: runs the SageMaker Clarify container (hint: pass --stand-in "
        "CheckDataBias=FILE.json with the properties the steps after it read (local runs support Condition, Fail, "
        "Lambda, Model, Processing, RegisterModel, Training, Transform, Tuning))"]
    assert not (fixture / ".smpipe" / "runs").exists()

    result = run(fixture, ANNOUNCE, "--stand-in", "CheckDataBias=stand-ins/check-data-bias.json",
                 definition="clarify.json")
    record = last_record(fixture)
    assert statuses(record) == {"CheckDataBias": "stood in", "RecordBaseline": "done"}
    assert record["steps"]["CheckDataBias"]["message"] == "stood in by stand-ins/check-data-bias.json: not run"
    assert "CheckDataBias: stood in (stood in by stand-ins/check-data-bias.json: not run)" in result.stderr
    message = json.loads(record["steps"]["RecordBaseline"]["properties"]["OutputParameters"]["message"])
    assert message["event"] == {"constraints": "s3://smpipe-local/churn/bias/analysis.json"}


def test_a_step_whose_property_file_is_read_is_stood_in_with_its_reader(fixture):
    """A stand-in holds properties, not files: the step reading its property file with JsonGet
    must be stood in too, and then nothing refuses (the check counted the stood-in reader)."""
    evaluate = {"Name": "Eval", "Type": "Processing", "Arguments": {}, "PropertyFiles": [
        {"PropertyFileName": "Report", "OutputName": "evaluation", "FilePath": "evaluation.json"}]}
    gate = {"Name": "Gate", "Type": "Condition", "Arguments": {"Conditions": [
        {"Type": "LessThanOrEqualTo", "RightValue": 6.0, "LeftValue": {"Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"}, "Path": "mse"}}}],
        "IfSteps": [], "ElseSteps": []}}
    (fixture / "report.json").write_text(json.dumps({"Version": "2020-12-01", "Parameters": [],
                                                     "Steps": [evaluate, gate]}))
    (fixture / "eval.json").write_text(json.dumps({"ProcessingOutputConfig": {"Outputs": [
        {"OutputName": "evaluation", "S3Output": {"S3Uri": "s3://smpipe-local/eval"}}]}}))
    (fixture / "gate.json").write_text(json.dumps({"Outcome": "True"}))
    run(fixture, "--stand-in", "Eval=eval.json", "--stand-in", "Gate=gate.json", definition="report.json")
    assert statuses(last_record(fixture)) == {"Eval": "stood in", "Gate": "stood in"}
    refused = run(fixture, "--stand-in", "Eval=eval.json", definition="report.json", expect=1)
    assert errors(refused) == [
        "error: --stand-in Eval=eval.json: step Gate reads the property file 'Report' of this step with JsonGet; "
        "a stand-in holds properties, not files (hint: stand in for the step that reads it too)"]


def test_a_stood_in_condition_takes_the_branch_its_outcome_names(fixture):
    stop = {"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "the gate said stop"}}
    gate = {"Name": "Gate", "Type": "Condition", "Arguments": {
        "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 1}], "IfSteps": [stop], "ElseSteps": []}}
    (fixture / "gated.json").write_text(json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": [gate]}))
    for outcome, expect, stopped in (("False", 0, "skipped"), ("True", 1, "failed")):
        (fixture / "outcome.json").write_text(json.dumps({"Outcome": outcome}))
        run(fixture, "--stand-in", "Gate=outcome.json", definition="gated.json", expect=expect)
        assert statuses(last_record(fixture)) == {"Gate": "stood in", "Stop": stopped}
    (fixture / "outcome.json").write_text(json.dumps({"Outcome": "maybe"}))
    refused = run(fixture, "--stand-in", "Gate=outcome.json", definition="gated.json", expect=1)
    assert errors(refused) == ["error: --stand-in Gate=outcome.json: a Condition step's stand-in gives its Outcome, "
                               "true or false, not 'maybe' (hint: e.g. {\"Outcome\": \"True\"}: the If branch is taken)"]


@pytest.mark.parametrize("value, content, expected", [
    ("CheckDataBais=s.json", {}, "--stand-in CheckDataBais: no step named 'CheckDataBais' (hint: did you mean "
                                 "'CheckDataBias'?)"),
    ("CheckDataBias", None, "--stand-in: 'CheckDataBias' is not STEP=FILE.json"),
    ("CheckDataBias=../s.json", None, "--stand-in CheckDataBias: file '../s.json' leads outside lambda/"),
    ("CheckDataBias=s.json", "not json", "--stand-in CheckDataBias=s.json:1: stand-in is not valid JSON"),
    ("CheckDataBias=s.json", ["a"], "--stand-in CheckDataBias=s.json: a stand-in is a JSON object of the step's "
                                    "properties, not a list"),
    ("CheckDataBias=s.json", {"CalculatedBaselineStatistics": "s3://b/k"},
     "--stand-in CheckDataBias=s.json: has no CalculatedBaselineConstraints, which step RecordBaseline reads"),
    ("RecordBaseline=s.json", {"OutputParameters": [{"Name": "mesage", "Value": "x"}]},
     "--stand-in RecordBaseline=s.json: the step declares no output 'mesage' (hint: did you mean 'message'?)"),
    ("RecordBaseline=s.json", {"OutputParameters": {"message": "x"}},
     "--stand-in RecordBaseline=s.json: OutputParameters is not a list of {Name, Value} objects"),
])
def test_bad_stand_ins_are_one_line_errors(fixture, value, content, expected):
    from smpipe_gen.definition import load_file
    from smpipe_gen.errors import SmpipeError
    from smpipe_gen.local.stand_in import load

    if content is not None:
        (fixture / "s.json").write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(SmpipeError) as error:
        load([value], load_file(fixture / "clarify.json"), fixture)
    assert error.value.one_line().startswith(expected)


def test_a_lambda_stand_in_gives_typed_outputs(fixture):
    from smpipe_gen.definition import load_file
    from smpipe_gen.local.stand_in import load

    (fixture / "score.json").write_text(json.dumps({"OutputParameters": [
        {"Name": "score", "Value": "0.75"}, {"Name": "approved", "Value": "true"}, {"Name": "verdict", "Value": "ok"}]}))
    (stood,) = load(["Score=score.json"], load_file(fixture / "gate.json"), fixture).values()
    assert stood.properties["OutputParameters"] == {"score": 0.75, "approved": True, "verdict": "ok"}


def test_an_sdk_program_runs_the_function_it_created_with_the_lambda_helper(fixture):
    """End to end, as a user runs it: the program's Lambda(script=..., handler=...) is upserted at
    the loopback endpoint while the definition is built; the step runs what the endpoint received."""
    import subprocess

    result = subprocess.run([sys.executable, "-m", "smpipe_gen", "run", "--local", "--pipeline", "program.py"],
                            cwd=fixture, capture_output=True, text=True, env=offline_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    record = last_record(fixture)
    assert statuses(record) == {"EvaluateModel": "done", "CheckApproval": "done", "Rejected": "skipped"}
    assert record["steps"]["EvaluateModel"]["properties"] == {
        "OutputParameters": {"statusCode": 200, "body": '"checked churn"', "approved": True}}
    log = Path(record["steps"]["EvaluateModel"]["log"]).read_text()
    assert "invoking Lambda function evaluate-model (created by the program while it built), handler " \
           "evaluate_model.lambda_handler" in log


def test_every_step_that_cannot_run_is_named_before_the_run_one_line_each(fixture):
    steps = [{"Name": "Wait", "Type": "Callback", "SqsQueueUrl": "https://sqs.us-east-1.amazonaws.com/1/q",
              "Arguments": {}, "OutputParameters": []},
             {"Name": "Quality", "Type": "QualityCheck", "CheckType": "DATA_QUALITY", "Arguments": {}},
             {"Name": "Score", "Type": "Lambda", "Arguments": {"model_name": "m", "rows": 60}, "FunctionArn": "score-model"},
             {"Name": "Forest", "Type": "Training",  # AWS's callback notebook trains a random cut forest after its callback
              "Arguments": {"AlgorithmSpecification": {"TrainingImage": FOREST, "TrainingInputMode": "File"}}}]
    (fixture / "mixed.json").write_text(json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": steps}))
    result = run(fixture, definition="mixed.json", expect=1)
    assert [line.split(" (hint: ")[0] for line in errors(result)] == [
        "error: step Wait: step type 'Callback' has no local version: waits for an outside service to answer through SQS",
        "error: step Quality: step type 'QualityCheck' has no local version: runs the Model Monitor container",
        "error: step Score: Lambda function 'score-model' is not known to this run",
        f"error: step Forest: built-in algorithm randomcutforest (image {FOREST}) has no local version: of SageMaker's "
        "built-in algorithms only XGBoost runs locally"]
    run(fixture, SCORE, "--stand-in", "Wait=stand-ins/check-data-bias.json", "--stand-in",
        "Quality=stand-ins/check-data-bias.json", "--stand-in", "Forest=stand-ins/check-data-bias.json",
        definition="mixed.json")
    assert statuses(last_record(fixture)) == {"Wait": "stood in", "Quality": "stood in", "Score": "done",
                                              "Forest": "stood in"}


def test_a_handler_calls_aws_on_the_loopback_endpoint_and_the_store_holds_what_it_wrote(fixture):
    run(fixture, "--lambda=score-model=handlers/writer.py:lambda_handler", ANNOUNCE,
        "--data", "s3://smpipe-local/seed=./data")
    assert (fixture / ".smpipe" / "s3" / "smpipe-local" / "verdicts" / "churn.txt").read_text() == "rows 80"
    log = Path(last_record(fixture)["steps"]["Score"]["log"]).read_text()
    assert "now in the local store: s3://smpipe-local/verdicts/churn.txt" in log


def test_a_lambda_option_no_step_invokes_is_refused_with_the_name_it_may_mean(fixture):
    result = run(fixture, "--lambda=scor-model=handlers/score.py:lambda_handler", ANNOUNCE, expect=1)
    assert errors(result) == ["error: --lambda scor-model: no Lambda step invokes function 'scor-model' "
                              "(hint: did you mean 'score-model'?)"]


def test_a_function_finds_the_model_a_model_step_created_as_in_the_cloud(fixture):
    """AWS's Lambda-step notebook deploys the pipeline's model from its function: the model a
    Model step created must be known to SageMaker (the loopback endpoint's) when the function runs."""
    run(fixture, "--lambda=deploy-model=handlers/deploy.py:handler", definition="deploy.json")
    record = last_record(fixture)
    model_name = record["steps"]["CreateChurnModel"]["properties"]["ModelName"]
    assert record["steps"]["Deploy"]["properties"]["OutputParameters"] == {
        "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.0-1-cpu-py3",
        "endpoint_config": f"arn:aws:sagemaker:us-east-1:000000000000:endpoint-config/{model_name}-config"}
