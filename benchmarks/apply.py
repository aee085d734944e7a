"""Wall time of ``smpipe-gen apply`` against a moto server on 127.0.0.1, for 1 and 50
modeling units: first apply (create + uploads), re-apply (no changes), and an update of one
unit; plus whether the apply process imported the SageMaker SDK (it must not), and the time
``plan`` takes to diff two such definitions in which every unit changed.

    /work/venv/bin/python benchmarks/apply.py [--units 1 50] [--repeat 3]

Definitions are synthetic (built here without the SDK) in the shape the SDK renders: per unit
a Processing step and a Training step each reading the unit's own source tarball, an
evaluation step, and a Condition gating a RegisterModel step, with a Fail step on the else
branch. The staleness ``check`` re-renders with the SDK; it is render's cost and is measured by
benchmarks/render.py, so these runs pass ``--skip-check``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from smpipe_gen import definition, plan  # noqa: E402
from smpipe_gen.canonical import canonical_json  # noqa: E402
from smpipe_gen.digests import content_digest, sha256_file  # noqa: E402
from smpipe_gen.manifest import CodeArtifact, Manifest, PipelineSettings, SourceFile  # noqa: E402
from smpipe_gen.seal import sealed  # noqa: E402

BUCKET = "smpipe-bench"
ROLE = "arn:aws:iam::123456789012:role/bench"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
PROBE = """\
import atexit, sys
atexit.register(lambda: print("sagemaker imported:", any(m == "sagemaker" or m.startswith("sagemaker.")
                                                         for m in sys.modules), file=sys.stderr))
sys.argv = ["smpipe-gen"] + sys.argv[1:]
from smpipe_gen.cli import main
main()
"""


def _output(step: str, name: str) -> dict:
    return {"OutputName": name, "AppManaged": False, "S3Output": {
        "LocalPath": f"/opt/ml/processing/output/{name}", "S3UploadMode": "EndOfJob",
        "S3Uri": {"Std:Join": {"On": "/", "Values": ["s3:/", BUCKET, {"Get": "Execution.PipelineExecutionId"},
                                                     step, name]}}}}


def _input(name: str, uri, path: str) -> dict:
    return {"InputName": name, "AppManaged": False, "S3Input": {
        "LocalPath": path, "S3Uri": uri, "S3DataType": "S3Prefix", "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}}


def _processing(name: str, code_uri: str, inputs: list, outputs: list, instance: str) -> dict:
    return {"Name": name, "Type": "Processing", "Arguments": {
        "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{name}.py"]},
        "ProcessingInputs": inputs + [_input("code", code_uri, "/opt/ml/processing/input/code")],
        "ProcessingOutputConfig": {"Outputs": outputs},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": instance, "VolumeSizeInGB": 30}},
        "RoleArn": ROLE}}


def unit_steps(unit: str, code_uri: str, instance: str) -> list[dict]:
    pre, train, evaluate = f"{unit}-Preprocess", f"{unit}-Train", f"{unit}-Evaluate"
    model_uri = {"Get": f"Steps.{train}.ModelArtifacts.S3ModelArtifacts"}
    return [
        _processing(pre, code_uri, [_input("raw", f"s3://{BUCKET}/raw/{unit}.csv", "/opt/ml/processing/input/raw")],
                    [_output(pre, "train"), _output(pre, "test")], "ml.m5.xlarge"),
        {"Name": train, "Type": "Training", "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "HyperParameters": {"max_depth": "5", "sagemaker_program": '"train.py"',
                                "sagemaker_submit_directory": json.dumps(code_uri)},
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3DataDistributionType": "FullyReplicated",
                "S3Uri": {"Get": f"Steps.{pre}.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}}}}],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/{unit}/models"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": instance, "VolumeSizeInGB": 30},
            "RoleArn": ROLE, "StoppingCondition": {"MaxRuntimeInSeconds": 86400}}},
        dict(_processing(evaluate, code_uri, [_input("model", model_uri, "/opt/ml/processing/input/model")],
                         [_output(evaluate, "evaluation")], "ml.m5.xlarge"),
             PropertyFiles=[{"PropertyFileName": f"{unit}Report", "OutputName": "evaluation",
                             "FilePath": "metrics.json"}]),
        {"Name": f"{unit}-Check", "Type": "Condition", "Arguments": {
            "Conditions": [{"Type": "LessThanOrEqualTo", "RightValue": {"Get": "Parameters.MseThreshold"},
                            "LeftValue": {"Std:JsonGet": {"Path": "mse", "PropertyFile": {
                                "Get": f"Steps.{evaluate}.PropertyFiles.{unit}Report"}}}}],
            "IfSteps": [{"Name": f"{unit}-Register", "Type": "RegisterModel", "Arguments": {
                "ModelPackageGroupName": unit, "ModelApprovalStatus": "PendingManualApproval",
                "InferenceSpecification": {"Containers": [{"Image": IMAGE, "ModelDataUrl": model_uri}],
                                           "SupportedContentTypes": ["text/csv"],
                                           "SupportedResponseMIMETypes": ["text/csv"]}}}],
            "ElseSteps": [{"Name": f"{unit}-Fail", "Type": "Fail",
                           "Arguments": {"ErrorMessage": f"{unit}: MSE above threshold"}}]}},
    ]


def write_project(root: Path, units: int, changed_unit: int | None = None) -> None:
    """A model repository with ``units`` modeling units: scripts, definition, manifest."""
    steps, code = [], []
    for index in range(units):
        unit = f"unit{index:02d}"
        files = []
        for script in ("preprocess.py", "train.py", "evaluate.py"):
            path = root / "models" / unit / script
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# {unit} {script}\nprint({unit!r})\n")
            files.append(SourceFile(path=path.relative_to(root).as_posix(), arcname=script, sha256=sha256_file(path)))
        digest = content_digest(files)
        uri = f"s3://{BUCKET}/bench/code/{digest}/sourcedir.tar.gz"
        code.append(CodeArtifact(s3_uri=uri, kind="sourcedir", sha256=digest, files=files))
        steps += unit_steps(unit, uri, "ml.m5.2xlarge" if index == changed_unit else "ml.m5.xlarge")
    definition = {"Version": "2020-12-01", "Metadata": {}, "Steps": steps,
                  "Parameters": [{"Name": "MseThreshold", "Type": "Float", "DefaultValue": 6.0}]}
    manifest = Manifest(generator="smpipe-gen bench", config_files=[], artifacts=code,
                        pipeline=PipelineSettings(name="bench", role_arn=ROLE, region="us-east-1", bucket=BUCKET))
    (root / "pipeline").mkdir(exist_ok=True)
    (root / "pipeline/definition.json").write_text(canonical_json(definition))
    manifest = sealed(manifest, canonical_json(definition))
    (root / "pipeline/manifest.json").write_text(canonical_json(manifest.to_json()))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def apply(root: Path, env: dict) -> tuple[float, str, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, "apply", "-C", str(root), "--skip-check"],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"apply failed: {done.stderr.strip()}")
    status = next(line for line in done.stdout.splitlines() if line.startswith("pipeline bench:"))
    return elapsed, status.split("(")[0].removeprefix("pipeline bench: ").strip(), done.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="bench",
                      aws_secret_access_key="bench")
    print(f"apply against moto {endpoint}, median of {args.repeat} (seconds, CLI wall time incl. Python start)")
    print(f"{'units':>5} {'steps':>5} {'def KiB':>7} {'uploads':>7} {'create':>7} {'no-op':>7} {'update':>7}  SDK imported")
    try:
        for units in args.units:
            times = {"created": [], "no changes": [], "updated": []}
            imported = set()
            for _ in range(args.repeat):
                urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()
                s3.create_bucket(Bucket=BUCKET)
                with tempfile.TemporaryDirectory(prefix="smpipe-bench-") as tmp:
                    root = Path(tmp)
                    write_project(root, units)
                    size = (root / "pipeline/definition.json").stat().st_size
                    steps = len(definition.load_file(root / "pipeline/definition.json"))
                    for expected, change in (("created", None), ("no changes", None), ("updated", 0)):
                        if change is not None:
                            write_project(root, units, changed_unit=change)
                        elapsed, action, probe = apply(root, env)
                        assert action.startswith(expected), (expected, action)
                        times[expected].append(elapsed)
                        imported.add(probe)
            medians = {key: statistics.median(value) for key, value in times.items()}
            print(f"{units:>5} {steps:>5} {size / 1024:>7.1f} {units:>7} {medians['created']:>7.2f} "
                  f"{medians['no changes']:>7.2f} {medians['updated']:>7.2f}  {', '.join(sorted(imported))}")
    finally:
        server.stop()
    with tempfile.TemporaryDirectory(prefix="smpipe-bench-") as tmp:
        for units in args.units:
            write_project(Path(tmp), units)
            before = json.loads((Path(tmp) / "pipeline/definition.json").read_text())
            after = json.loads(json.dumps(before).replace("ml.m5.xlarge", "ml.m5.2xlarge"))
            start = time.perf_counter()
            result = plan.compare(before, after, base="before", head="after")
            print(f"plan diff, {units} unit(s), {len(result.steps)} steps changed: "
                  f"{time.perf_counter() - start:.3f} s in-process")


if __name__ == "__main__":
    main()
