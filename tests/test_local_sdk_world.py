"""SDK programs as others write them run with ``run --local --pipeline`` (tests/local_fixtures/
sdkworld): the Projects seed code's shape called the way its CI calls it, an AWS notebook's shape
(a plain Session, IAM and Lambda while building, upload_data, an estimator with a session of its
own, boto3 and S3Downloader inside jobs), a program that uploads nothing. Every AWS call goes to
the run's loopback endpoint: the machine has no credentials (helpers.offline_env). The SDK runs
only in the child processes."""

from __future__ import annotations

import json
import pickle
import random
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import xgboost

from helpers import offline_env
from local_support import FIXTURES, last_record, run_local, statuses

SEED_DATA = "s3://sagemaker-servicecatalog-seedcode-us-east-1/dataset"
# the keyword arguments the seed's codebuild-buildspec.yml passes to run-pipeline
CI_KWARGS = {"region": "us-east-1", "role": "arn:aws:iam::000000000000:role/ci-pipeline-role",
             "default_bucket": "ci-artifacts", "pipeline_name": "abalone-p-1", "model_package_group_name": "abalone-p-1",
             "base_job_prefix": "abalone-p-1", "sagemaker_project_name": "abalone"}
ROWS = 200


def abalone_csv(path: Path, rows: int = ROWS) -> None:
    """The public abalone data set's shape, headerless: sex, seven measurements, rings."""
    rng = random.Random(7)
    lines = []
    for _ in range(rows):
        length = rng.uniform(0.1, 0.8)
        weight = length ** 3 * 4 + rng.uniform(0, 0.1)
        rings = max(1, round(3 + length * 20 + rng.gauss(0, 1.5)))
        lines.append(f"{rng.choice('MFI')},{length:.3f},{length * .8:.3f},{length * .3:.3f},{weight:.4f},"
                     f"{weight * .4:.4f},{weight * .2:.4f},{weight * .3:.4f},{rings}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def world(tmp_path: Path) -> Path:
    root = tmp_path / "world"
    shutil.copytree(FIXTURES / "sdkworld", root, ignore=shutil.ignore_patterns("__pycache__"))
    abalone_csv(root / "data" / "abalone-dataset.csv")
    return root


def run_in(cwd: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess:
    return run_local(*args, expect=expect, cwd=cwd, env=offline_env(COLUMNS="200"))


def step_log(root: Path, step: str) -> str:
    record = last_record(root)
    return Path(record["steps"][step]["log"]).read_text()


def seed_run(root: Path, **kwargs) -> subprocess.CompletedProcess:
    return run_in(root, "--pipeline", "pipelines.abalone.pipeline", "--kwargs", json.dumps({**CI_KWARGS, **kwargs}),
                  "--data", f"{SEED_DATA}=./data")


@pytest.mark.filterwarnings("ignore:.*linear is now deprecated")  # the seed's objective, trained directly
def test_seed_shaped_program_runs_to_the_end_with_the_builtin_algorithm(world):
    """As its CI calls it: preprocess (boto3 inside the job), built-in XGBoost 1.0-1 training, the
    evaluate step unpickling ``xgboost-model``, the condition on its report, the registration."""
    seed_run(world)
    record = last_record(world)
    assert set(statuses(record).values()) == {"done"}
    # preprocess.py downloaded its input with boto3 inside the job, from the loopback endpoint
    assert "downloading bucket sagemaker-servicecatalog-seedcode-us-east-1 key dataset/abalone-dataset.csv" in \
        step_log(world, "PreprocessAbaloneData")
    outputs = record["steps"]["PreprocessAbaloneData"]["outputs"]
    splits = {Path(path).name: Path(path, f"{Path(path).name}.csv") for path in outputs.values()}
    counts = {name: len(path.read_text().splitlines()) for name, path in splits.items()}
    assert counts == {"train": ROWS * 70 // 100, "validation": ROWS * 15 // 100, "test": ROWS * 15 // 100}
    assert all(uri.startswith("s3://ci-artifacts/abalone-p-1/") for uri in outputs)  # the bucket --kwargs named

    train = record["steps"]["TrainAbaloneModel"]
    log = step_log(world, "TrainAbaloneModel")
    assert "/smpipe_gen/local/algorithms/container.py train " in log and "[49]#011train-rmse:" in log
    final = re.findall(r"\[49\]#011train-rmse:([0-9.]+)#011validation-rmse:([0-9.]+)", log)
    assert train["metrics"] == pytest.approx(dict(zip(("train:rmse", "validation:rmse"), map(float, final[0]))))
    evaluation = next(Path(p) for p in record["steps"]["EvaluateAbaloneModel"]["outputs"].values())
    mse = json.loads((evaluation / "evaluation.json").read_text())["regression_metrics"]["mse"]["value"]
    assert mse < 6.0 and record["steps"]["CheckMSEAbaloneEvaluation"]["properties"]["Outcome"] == "True"

    # the model is what xgboost trains directly on the same data with the same parameters
    (model_tarball,) = train["outputs"].values()
    with tarfile.open(model_tarball) as tar:
        booster = pickle.load(tar.extractfile("xgboost-model"))  # as the seed's evaluate.py loads it
    direct = xgboost_directly(splits["train"], {"objective": "reg:linear", "max_depth": 5, "eta": 0.2, "gamma": 4,
                                                "min_child_weight": 6, "subsample": 0.7}, rounds=50)
    test = np.loadtxt(splits["test"], delimiter=",")[:, 1:]
    assert booster.predict(xgboost.DMatrix(test)).tolist() == direct.predict(xgboost.DMatrix(test)).tolist()


def xgboost_directly(train_csv: Path, params: dict, rounds: int) -> "xgboost.Booster":
    data = np.loadtxt(train_csv, delimiter=",")
    return xgboost.train(params, xgboost.DMatrix(data[:, 1:], label=data[:, 0]), num_boost_round=rounds)


def test_the_xgboost_image_in_script_mode_runs_the_script_not_the_algorithm(world):
    seed_run(world, training_entry_point="train.py", role=None)
    record = last_record(world)
    assert set(statuses(record).values()) == {"done"}
    log = step_log(world, "TrainAbaloneModel")
    assert "$ python train.py --" in log and "smpipe_gen.local.algorithms" not in log
    evaluation = next(Path(p) for p in record["steps"]["EvaluateAbaloneModel"]["outputs"].values())
    assert json.loads((evaluation / "evaluation.json").read_text())["regression_metrics"]["mse"]["value"] < 6.0


def test_notebook_shaped_program_runs_with_every_aws_call_answered_locally(world):
    run_in(world, "--pipeline", "notebook.py")
    assert set(statuses(last_record(world)).values()) == {"done"}
    captured = world / ".smpipe" / "captured"
    # the plain Session's account, region and default bucket; the Lambda function created while building
    definition = (captured / "definition.json").read_text()
    assert "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn" in definition
    assert "file://" not in definition  # LocalPipelineSession's steps ship their code through S3, as in the cloud
    assert "created arn:aws:lambda:us-east-1:000000000000:function:notebook-deploy" in (captured / "build.log").read_text()
    # the estimator without a session uploaded its code through a Session of its own: captured too
    train = next(s for s in json.loads(definition)["Steps"] if s["Name"] == "Train")
    submit = json.loads(train["Arguments"]["HyperParameters"]["sagemaker_submit_directory"])
    assert submit.startswith("s3://smpipe-local/") and (captured / "objects" / submit[len("s3://"):]).is_file()
    # what Stage wrote with boto3 is in the store, and Report read it with boto3, S3Downloader and as an input
    store = world / ".smpipe" / "s3" / "smpipe-local" / "notebook"
    assert json.loads((store / "shared" / "summary.json").read_text()) == {"rows": ROWS}
    assert "written through the loopback AWS endpoint, now in the local store: s3://smpipe-local/notebook/shared/" \
           "summary.json" in step_log(world, "Stage")
    report = json.loads((store / "report" / "report.json").read_text())
    assert report == {"listed": ["notebook/shared/notes/stage.txt", "notebook/shared/summary.json"],
                      "summary": {"rows": ROWS}, "downloaded": ["stage.txt"], "notes": "staged by boto3",
                      "as_input": ["notes", "summary.json"], "mean": pytest.approx(report["mean"])}
    assert 3 < report["mean"] < 20


def test_a_program_that_uploads_nothing_runs(world):
    run_in(world, "--pipeline", "nothing.py:build", "--kwargs", '{"name": "quiet"}')
    record = last_record(world)
    assert (record["pipeline"], statuses(record)) == ("quiet", {"Hello": "done"})
    (output,) = record["steps"]["Hello"]["outputs"].values()
    assert Path(output, "hello.txt").read_text() == "hello"


CI_UPLOADED = """from sagemaker.processing import ProcessingOutput, ScriptProcessor
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.steps import ProcessingStep

processor = ScriptProcessor(role="arn:aws:iam::000000000000:role/any", image_uri="python:3.11", command=["python3"],
                            instance_count=1, instance_type="ml.m5.large", sagemaker_session=PipelineSession())
args = processor.run(outputs=[ProcessingOutput(output_name="out", source="/opt/ml/processing/out")],
                     code="s3://ci-bucket/m/scripts/prep.py")  # the CI's `aws s3 cp` put it there before the build
pipeline = Pipeline(name="ci", steps=[ProcessingStep(name="Prep", step_args=args)])
"""


def test_code_a_ci_uploaded_before_the_build_is_served_from_its_data_folder(world):
    (world / "ci.py").write_text(CI_UPLOADED)
    (world / "scripts").mkdir()
    (world / "scripts" / "prep.py").write_text("open('/opt/ml/processing/out/ran.txt', 'w').write('prep')\n")
    refused = run_in(world, "--pipeline", "ci.py", expect=1)
    assert refused.stderr.strip().splitlines()[-1] == (
        "error: step Prep: code object s3://ci-bucket/m/scripts/prep.py is neither uploaded by the program nor under a "
        "--data prefix (hint: pass the folder it is uploaded from: --data s3://ci-bucket/m/scripts=./DIR with prep.py "
        "in DIR)")
    run_in(world, "--pipeline", "ci.py", "--data", "s3://ci-bucket/m/scripts=./scripts")
    (output,) = last_record(world)["steps"]["Prep"]["outputs"].values()
    assert Path(output, "ran.txt").read_text() == "prep"


def test_a_failed_build_shows_the_exception_and_the_line_it_came_through(world):
    (world / "broken.py").write_text("import boto3\n\n\ndef fetch():\n"
                                     "    return boto3.client('s3').get_object(Bucket='absent', Key='x')\n\n\nfetch()\n")
    result = run_in(world, "--pipeline", "broken.py", expect=1)
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith("error: --pipeline broken.py: building the pipeline failed: NoSuchBucket: An error occurred "
                           "(NoSuchBucket) when calling the GetObject operation")
    assert "(at broken.py:5 in fetch, raised in botocore/" in line
    assert "Traceback" in (world / ".smpipe" / "captured" / "build.log").read_text()


def test_a_bucket_the_user_made_beforehand_is_named_with_the_data_that_makes_it(world):
    (world / "team.py").write_text("import sagemaker\nsagemaker.Session().upload_data('team.py', bucket='team-bucket')\n")
    result = run_in(world, "--pipeline", "team.py", expect=1)
    assert "(hint: make the bucket with --data s3://team-bucket/=./DIR (an empty folder will do); " in result.stderr
