"""How SDK programs and foreign definitions are read, in process (no SDK): which parameter takes
the session, which script a code bundle runs, how a folder of scripts serves the code objects a
definition names, how a failed build is shown. tests/test_local_sdk_world.py runs the programs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from smpipe_gen.definition import from_json
from smpipe_gen.errors import SmpipeError
from smpipe_gen.local.capture import failure, takes_session
from smpipe_gen.commands.run import _build_failure, pipeline_kwargs
from smpipe_gen.local.foreign import derived_manifest, entry_point

BUNDLE = "s3://b/p/code/abc/sourcedir.tar.gz"
BOOT = "s3://b/p/code/abc/runproc.sh"
BOOTSTRAP = "#!/bin/bash\n\ncd /opt/ml/processing/input/code/\ntar -xzf sourcedir.tar.gz\n\nset -e\n\n" \
            "python preprocess.py \"$@\"\n"


class Session:  # stands for the SDK's: a parameter annotated with it takes the session
    pass


def _session(session): ...
def _seed(region, sagemaker_project_name=None, role=None, default_bucket=None): ...
def _keyword(region, sagemaker_session=None): ...
def _by_name(sess: "PipelineSession"): ...  # noqa: F821
def _by_path(s: "sagemaker.workflow.pipeline_context.PipelineSession"): ...  # noqa: F821
def _by_class(x: Session): ...


@pytest.mark.parametrize("function, expected", [
    (_session, "session"), (_seed, None), (_keyword, "sagemaker_session"), (_by_name, "sess"), (_by_path, "s"),
    (_by_class, "x"),
])
def test_the_session_goes_only_to_a_parameter_that_takes_one(function, expected):
    assert takes_session(function) == expected


def processing(entrypoint: list[str], inputs: dict[str, str]) -> dict:
    return {"Name": "P", "Type": "Processing", "Arguments": {
        "AppSpecification": {"ContainerEntrypoint": entrypoint},
        "ProcessingInputs": [{"InputName": name, "S3Input": {"S3Uri": uri, "LocalPath": f"/opt/ml/processing/input/{name}"}}
                             for name, uri in inputs.items()]}}


@pytest.mark.parametrize("step, found, expected", [
    ({"Arguments": {"HyperParameters": {"sagemaker_program": '"train.py"', "sagemaker_submit_directory": f'"{BUNDLE}"'}}},
     {}, "train.py"),
    ({"Arguments": {"TrainingJobDefinition": {"StaticHyperParameters": {
        "sagemaker_program": '"fit.py"', "sagemaker_submit_directory": f'"{BUNDLE}"'}}}}, {}, "fit.py"),
    ({"Arguments": {"PrimaryContainer": {"Environment": {"SAGEMAKER_PROGRAM": "serve.py",
                                                         "SAGEMAKER_SUBMIT_DIRECTORY": BUNDLE}}}}, {}, "serve.py"),
    (processing(["python3", "/opt/ml/processing/input/code/src/run.py"], {"code": BUNDLE}), {}, "src/run.py"),
    (processing(["/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"], {"code": BUNDLE, "entrypoint": BOOT}),
     {BOOT: BOOTSTRAP}, "preprocess.py"),
    (processing(["/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"], {"code": BUNDLE, "entrypoint": BOOT}),
     {}, None),  # the FrameworkProcessor's bootstrap, the one file naming its script, is missing
])
def test_the_entry_point_a_code_bundle_runs(step, found, expected):
    from smpipe_gen.manifest import CodeArtifact

    known = {uri: CodeArtifact(s3_uri=uri, kind="inline", sha256="0", content=text) for uri, text in found.items()}
    assert entry_point(step, BUNDLE, known) == expected


def _manifest(tmp_path: Path, files: dict[str, str], steps: list[dict]):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return derived_manifest(from_json({"Steps": steps}), tmp_path, "p", "us-east-1")


def _training(program: str = "train.py") -> dict:
    return {"Name": "T", "Type": "Training", "Arguments": {"HyperParameters": {
        "sagemaker_program": json.dumps(program), "sagemaker_submit_directory": json.dumps(BUNDLE)}}}


def test_a_missing_bundle_is_built_from_the_folder_of_its_entry_point(tmp_path):
    manifest = _manifest(tmp_path, {"src/train.py": "print(1)", "src/lib/util.py": "", "src/__pycache__/x.pyc": "",
                                    "other/notes.txt": "", ".venv/src/train.py": ""}, [_training()])
    (artifact,) = manifest.artifacts
    assert (artifact.kind, sorted((f.path, f.arcname) for f in artifact.files)) == \
        ("sourcedir", [("src/lib/util.py", "lib/util.py"), ("src/train.py", "train.py")])


@pytest.mark.parametrize("files, steps, message", [
    ({"a/train.py": "", "b/train.py": ""}, [_training()],
     f"step T: code object {BUNDLE} is not in {{folder}}, and its entry point train.py is in 2 of its folders (a, b)"),
    ({"a/other.py": ""}, [_training()],
     f"step T: code object {BUNDLE} is not in {{folder}}, and its entry point train.py is in none of its folders"),
    ({"preprocess.py": ""}, [processing(["/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"],
                                        {"code": BUNDLE, "entrypoint": BOOT})],
     f"step P: code object {BOOT} is not in {{folder}}, and a file named runproc.sh is in none of its folders "
     f"(hint: put the object itself there (aws s3 cp {BOOT} {{folder}}/), point --code at the one folder holding "
     f"runproc.sh, or pass --data s3://b/p/code/abc=./DIR with runproc.sh in DIR)"),
])
def test_a_code_object_no_file_serves_is_refused_before_the_run(tmp_path, files, steps, message):
    with pytest.raises(SmpipeError) as error:
        _manifest(tmp_path, files, steps)
    assert error.value.one_line().startswith(message.format(folder=tmp_path))


def test_a_shell_script_object_is_served_as_text_so_the_runner_reads_the_bootstrap(tmp_path):
    steps = [processing(["/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"],
                        {"code": BUNDLE, "entrypoint": BOOT})]
    manifest = _manifest(tmp_path, {"runproc.sh": BOOTSTRAP, "src/preprocess.py": "print(2)"}, steps)
    artifacts = {a.s3_uri: a for a in manifest.artifacts}
    assert (artifacts[BOOT].kind, artifacts[BOOT].content) == ("inline", BOOTSTRAP)
    assert [f.arcname for f in artifacts[BUNDLE].files] == ["preprocess.py"]


@pytest.mark.parametrize("text, program, expected", [
    ("[1]", "p.py", "error: --kwargs: not a JSON object"),
    ("{", "p.py", "error: --kwargs: not a JSON object"),
    ('{"region": "x"}', None, "error: --kwargs: keyword arguments go to the function of a --pipeline program"),
])
def test_kwargs_are_a_json_object_for_a_program(text, program, expected):
    with pytest.raises(SmpipeError) as error:
        pipeline_kwargs(text, program)
    assert f"error: {error.value.one_line()}".startswith(expected)


@pytest.mark.parametrize("report, spec, hint", [
    ({"error": "TypeError: get_pipeline() missing 1 required positional argument: 'region'"}, "pipelines.abalone.pipeline",
     "pass the function's arguments as --kwargs JSON"),
    ({"error": "ModuleNotFoundError: No module named 'pipelines.abalone.pipelin'"}, "pipelines.abalone.pipelin",
     "a module is imported from the working directory"),
])
def test_a_failed_build_hints_at_the_fix(tmp_path, report, spec, hint):
    (tmp_path / "error.json").write_text(json.dumps(report))
    error = _build_failure(spec, tmp_path)
    assert error.one_line().startswith(f"--pipeline {spec}: building the pipeline failed: {report['error']} (hint: {hint}")


def test_a_failure_is_located_in_the_program_and_where_it_was_raised(tmp_path, monkeypatch):
    (tmp_path / "prog.py").write_text("import json\n\ndef load():\n    return json.loads('{')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import prog

    try:
        prog.load()
    except ValueError as error:
        report = failure(error, tmp_path.resolve())
    sys.modules.pop("prog")
    assert report["error"].startswith("JSONDecodeError: Expecting property name enclosed in double quotes")
    assert report["where"].startswith("at prog.py:4 in load, raised in ") and "json/decoder.py" in report["where"]


ECR = "683313688378.dkr.ecr.us-east-1.amazonaws.com"
STEP_DRIVER = {"TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/py311:latest",
               "ContainerEntrypoint": ["/bin/bash", "/opt/ml/input/data/sagemaker_remote_function_bootstrap/job_driver.sh"],
               "ContainerArguments": ["--s3_base_uri", "s3://smpipe-local/CalculatorPipeline", "--pipeline_step_name", "reduce"]}


@pytest.mark.parametrize("spec, expected", [
    ({"AlgorithmSpecification": STEP_DRIVER}, "step S: a @step function step: its job runs the SDK's remote-function "
                                              "driver in its image, which cannot run locally"),
    ({"AlgorithmSpecification": {"TrainingImage": f"{ECR}/sagemaker-xgboost:1.0-1-cpu-py3"},
      "HyperParameters": {"num_round": "50"}}, None),  # the built-in XGBoost algorithm runs (local/algorithms)
    ({"AlgorithmSpecification": {"TrainingImage": f"{ECR}/sagemaker-xgboost:1.7-1"},
      "HyperParameters": {"num_round": "50", "tree_method": "gpu_hist"}},
     "step S: built-in XGBoost: tree_method=gpu_hist trains on a GPU: local runs train on the CPU"),
    ({"AlgorithmSpecification": {"TrainingImage": f"{ECR}/sagemaker-xgboost:1.7-1"},
      "HyperParameters": {"num_round": {"Get": "Parameters.Rounds"}, "tree_method": {"Get": "Parameters.Method"}}},
     None),  # expressions are checked when the job runs
    ({"AlgorithmSpecification": {"TrainingImage": f"{ECR}/sagemaker-xgboost:1.7-1"}, "HyperParameters": {"num_round": "5"},
      "InputDataConfig": [{"ChannelName": "train", "ContentType": "application/x-parquet"}]},
     "step S: built-in XGBoost: training data in parquet format: the local XGBoost algorithm reads csv and libsvm"),
    ({"AlgorithmSpecification": {"TrainingImage": "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:latest"}},
     "step S: built-in XGBoost: XGBoost image tag 'latest' is the legacy XGBoost 0.72 algorithm, a closed "
     "implementation that cannot run locally"),
    ({"AlgorithmSpecification": {"TrainingImage": "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"}},
     "step S: built-in algorithm linear-learner (image 382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1) "
     "has no local version: of SageMaker's built-in algorithms only XGBoost runs locally"),
    ({"AlgorithmSpecification": {"TrainingImage": f"{ECR}/sagemaker-distribution-prod:1-cpu",
                                 "ContainerEntrypoint": ["amazon_sagemaker_scheduler"]},
      "Environment": {"SM_INPUT_NOTEBOOK_NAME": "report.ipynb", "SM_KERNEL_NAME": "python3"}},
     "step S: a notebook job step (report.ipynb): its job runs the notebook with the SageMaker scheduler in its "
     "image, which cannot run locally"),
    ({"AlgorithmSpecification": {"TrainingImage": "x"},
      "HyperParameters": {"sagemaker_program": '"train.py"', "sagemaker_submit_directory": '"s3://b/s.tar.gz"'}}, None),
])
def test_training_that_cannot_run_locally_is_named_for_what_it_is(spec, expected):
    from smpipe_gen.local.jobs.training import refusal

    refused = refusal(spec, "step S")
    assert (refused.one_line().split(" (hint")[0] if refused else None) == expected


def test_a_builtin_algorithm_jobs_cache_key_holds_this_machines_xgboost():
    """A model cached before an xgboost upgrade is not handed to steps that load it with the new one;
    a script's job depends on its code instead (its bundle's digest)."""
    import xgboost

    from smpipe_gen.local.jobs.training import cache_inputs
    from smpipe_gen.steps import step_type

    algorithm = {"AlgorithmSpecification": {"TrainingImage": f"{ECR}/sagemaker-xgboost:1.7-1"},
                 "HyperParameters": {"num_round": "5"}}
    script = {**algorithm, "HyperParameters": {"sagemaker_program": '"train.py"',
                                               "sagemaker_submit_directory": '"s3://b/s.tar.gz"'}}
    assert cache_inputs(None, algorithm, "step S").inputs == {"xgboost": xgboost.__version__}
    assert cache_inputs(None, script, "step S").inputs == {}
    tuning = {"TrainingJobDefinition": {"AlgorithmSpecification": algorithm["AlgorithmSpecification"],
                                        "StaticHyperParameters": algorithm["HyperParameters"]}}
    assert cache_inputs(None, step_type("Tuning").job_arguments(tuning), "step S").inputs == {"xgboost": xgboost.__version__}


SPARK = "173754725891.dkr.ecr.us-east-1.amazonaws.com/sagemaker-spark-processing:3.1-cpu"


@pytest.mark.parametrize("app, expected", [
    ({"ImageUri": SPARK, "ContainerEntrypoint": ["smspark-submit", "/opt/ml/processing/input/code/job.py"]},
     f"step P: processing image {SPARK} runs Apache Spark (smspark-submit), which has no local version"),
    ({"ImageUri": "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"},
     "step P: processing image 205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0 runs "
     "SageMaker Clarify's analysis, which has no local version"),
    ({"ImageUri": f"{ECR}/sagemaker-scikit-learn:1.2-1-cpu-py3"},
     f"step P: no ContainerEntrypoint: the default entrypoint of image {ECR}/sagemaker-scikit-learn:1.2-1-cpu-py3 "
     "would run, which cannot run locally"),
    ({"ImageUri": f"{ECR}/sagemaker-scikit-learn:1.2-1-cpu-py3",
      "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/prep.py"]}, None),
])
def test_processing_that_cannot_run_locally_is_named_for_what_it_is(app, expected):
    """AWS's PySparkProcessor notebook died with 'smspark-submit: not found' (exit 127) mid-run."""
    from smpipe_gen.local.jobs.processing import refusal

    refused = refusal({"AppSpecification": app}, "step P")
    assert (refused.one_line().split(" (hint")[0] if refused else None) == expected
