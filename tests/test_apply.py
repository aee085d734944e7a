"""apply and delete through the CLI against a real moto server on 127.0.0.1."""

from __future__ import annotations

import gzip
import io
import json
import os
import pty
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytest.register_assert_rewrite("deploy_support")  # before the import below, as for a plugin
from deploy_support import BUCKET, Fault, aws_env, commit_all, git_repo, use_variant  # noqa: E402
from helpers import smpipe, smpipe_in_process  # noqa: E402
from smpipe_gen import __version__, definition, digests  # noqa: E402
from smpipe_gen.project import Project  # noqa: E402

pytest_plugins = ["deploy_support"]  # its fixtures: moto server, proxy, SDK-rendered projects

ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/abalone"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "abalone"


def apply(root: Path, env: dict, *args: str):
    return smpipe_in_process("apply", "-C", str(root), "--skip-check", *args, env=env)


def deployed(aws) -> dict:
    return json.loads(aws.client("sagemaker").describe_pipeline(PipelineName="abalone")["PipelineDefinition"])


def tags(aws) -> dict:
    found = aws.client("sagemaker").list_tags(ResourceArn=ARN)["Tags"]
    return {tag["Key"]: tag["Value"] for tag in found}  # later entries win, as AWS overwrites


def test_create_uploads_code_with_exact_bytes_and_tags(aws, project):
    root, repo = project
    done = apply(root, aws.env)
    assert done.returncode == 0, done.stderr
    assert "pipeline abalone: created" in done.stdout
    assert deployed(aws) == json.loads((root / "pipeline/definition.json").read_text())
    described = aws.client("sagemaker").describe_pipeline(PipelineName="abalone")
    assert described["RoleArn"] == "arn:aws:iam::123456789012:role/smpipe-test"
    assert described["PipelineDisplayName"] == "abalone pipeline"
    assert tags(aws) == {
        "smpipe-gen:git-commit": repo.head.commit.hexsha,
        "smpipe-gen:definition-sha256": digests.sha256_file(root / "pipeline/definition.json"),
        "smpipe-gen:version": __version__,
        "smpipe-gen:user-tag-keys": "",
    }
    s3 = aws.client("s3")
    manifest = definition.load(Project.at(root)).manifest
    assert {a.kind for a in manifest.artifacts} == {"inline", "sourcedir"}
    for artifact in manifest.artifacts:
        key = artifact.s3_uri.removeprefix(f"s3://{BUCKET}/")
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        if artifact.kind == "inline":
            assert body == artifact.content.encode()
        else:
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(body))) as tar:
                members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
            assert members == {f.arcname: (root / f.path).read_bytes() for f in artifact.files}
            assert artifact.s3_uri in done.stdout


def test_reapply_is_a_noop_without_update_or_upload(aws, project, fault_proxy):
    root, _repo = project
    assert apply(root, aws.env).returncode == 0
    again = apply(root, aws_env(fault_proxy.endpoint, root.parent))
    assert again.returncode == 0, again.stderr
    assert "pipeline abalone: no changes" in again.stdout
    assert "uploaded 0, already present 5" in again.stdout
    calls = set(fault_proxy.seen)
    assert "SageMaker.DescribePipeline" in calls
    assert not {"SageMaker.UpdatePipeline", "SageMaker.CreatePipeline", "SageMaker.AddTags"} & calls
    assert not [call for call in calls if call.startswith("PUT ")]


def test_update_changes_definition_and_commit_tag(aws, project):
    root, repo = project
    assert apply(root, aws.env).returncode == 0
    use_variant(root, "instance")
    commit = commit_all(repo, "bigger training instance")
    done = apply(root, aws.env)
    assert done.returncode == 0, done.stderr
    assert "pipeline abalone: updated (definition, tags)" in done.stdout
    train = next(s for s in deployed(aws)["Steps"] if s["Name"] == "Train")
    assert train["Arguments"]["ResourceConfig"]["InstanceType"] == "ml.m5.2xlarge"
    assert tags(aws)["smpipe-gen:git-commit"] == commit
    assert "no changes" in apply(root, aws.env).stdout


def test_user_tags_from_manifest_are_added_and_removed(aws, project):
    root, repo = project
    use_variant(root, "tagged")
    commit_all(repo, "tags")
    assert apply(root, aws.env).returncode == 0
    assert {"team": "ml-platform", "cost-center": "42"}.items() <= tags(aws).items()
    use_variant(root, "base")  # same definition, no user tags
    commit_all(repo, "drop the tags")
    done = apply(root, aws.env)
    assert "pipeline abalone: updated (tags)" in done.stdout
    assert not {"team", "cost-center"} & tags(aws).keys()
    assert tags(aws)["smpipe-gen:user-tag-keys"] == ""


def test_large_definition_goes_through_s3(aws, project):
    root, repo = project
    use_variant(root, "big")
    commit_all(repo, "many steps")
    text = (root / "pipeline/definition.json").read_text()
    assert len(text.encode()) > 100 * 1024
    done = apply(root, aws.env)
    assert done.returncode == 0, done.stderr
    key = f"abalone/definitions/{digests.text_digest(text)}.json"
    assert f"passed via s3://{BUCKET}/{key}" in done.stdout
    assert aws.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode() == text
    assert "no changes" in apply(root, aws.env).stdout


def test_dry_run_uploads_and_changes_nothing(aws, project):
    root, _repo = project
    done = apply(root, aws.env, "--dry-run", "--start")
    assert done.returncode == 0, done.stderr
    assert "would upload 5" in done.stdout and "would create" in done.stdout
    assert aws.client("s3").list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    assert aws.client("sagemaker").list_pipelines()["PipelineSummaries"] == []


def test_start_with_typed_parameters_prints_arn_and_waits(aws, project):
    root, _repo = project
    done = apply(root, aws.env, "--start", "--param", "MseThreshold=7.5", "--param", "TrainInstanceCount=2",
                 "--wait", "--poll-seconds", "0.05")
    assert done.returncode == 0, done.stderr
    started = [line for line in done.stdout.splitlines() if line.startswith("started execution: ")]
    arn = started[0].removeprefix("started execution: ")
    assert arn.startswith(f"{ARN}/execution/")
    assert f"execution Succeeded: {arn}" in done.stdout
    parameters = aws.client("sagemaker").list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    assert {p["Name"]: p["Value"] for p in parameters["PipelineParameters"]} == {
        "MseThreshold": "7.5", "TrainInstanceCount": "2"}


@pytest.mark.parametrize("assignment, message", [
    ("MseThreshol=1", "unknown parameter 'MseThreshol' (hint: did you mean 'MseThreshold'?)"),
    ("TrainInstanceCount=two", "'two' is not a valid Integer (hint: parameter TrainInstanceCount has Type Integer)"),
    ("MseThreshold", "'MseThreshold' is not NAME=VALUE"),
])
def test_bad_parameters_are_refused_before_anything_happens(aws, project, assignment, message):
    root, _repo = project
    done = apply(root, aws.env, "--start", "--param", assignment)
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
    assert aws.client("s3").list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_changed_code_file_is_refused(aws, project):
    root, _repo = project
    (root / "scripts/train.py").write_text("print('edited after render')\n")
    done = apply(root, aws.env)
    assert done.returncode == 1
    assert done.stderr.startswith("error: scripts/train.py: code file changed since the render")
    assert "smpipe-gen render" in done.stderr and "Traceback" not in done.stderr
    assert aws.client("sagemaker").list_pipelines()["PipelineSummaries"] == []


def test_throttling_and_5xx_are_retried(aws, project, fault_proxy):
    root, _repo = project
    throttle = Fault("SageMaker.CreatePipeline", 400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
    unavailable = Fault("PUT /", 503, {"message": "Slow Down"})
    fault_proxy.faults += [throttle, unavailable]
    done = apply(root, aws_env(fault_proxy.endpoint, root.parent))
    assert done.returncode == 0, done.stderr
    assert (throttle.hits, unavailable.hits) == (1, 1)
    assert fault_proxy.seen.count("SageMaker.CreatePipeline") == 2
    assert "pipeline abalone: created" in done.stdout
    assert deployed(aws) == json.loads((root / "pipeline/definition.json").read_text())


def test_half_done_apply_converges_when_rerun(aws, project, fault_proxy):
    root, repo = project
    assert apply(root, aws.env).returncode == 0
    use_variant(root, "newcode")
    shutil.copy(root / "variants/newcode/train.py", root / "scripts/train.py")
    commit_all(repo, "new training code")
    refused = Fault("SageMaker.UpdatePipeline", 400, {"__type": "AccessDeniedException", "message": "denied"}, times=-1)
    fault_proxy.faults.append(refused)
    failed = apply(root, aws_env(fault_proxy.endpoint, root.parent))
    assert failed.returncode == 1
    assert "UpdatePipeline failed: AccessDeniedException" in failed.stderr and "Traceback" not in failed.stderr
    new_uri = next(line.split()[-1] for line in failed.stdout.splitlines() if line.strip().startswith("uploaded s3"))
    assert aws.client("s3").head_object(Bucket=BUCKET, Key=new_uri.removeprefix(f"s3://{BUCKET}/"))
    assert deployed(aws) != json.loads((root / "pipeline/definition.json").read_text())

    rerun = apply(root, aws.env)
    assert rerun.returncode == 0, rerun.stderr
    assert "uploaded 0" in rerun.stdout and "pipeline abalone: updated" in rerun.stdout
    assert deployed(aws) == json.loads((root / "pipeline/definition.json").read_text())
    assert "no changes" in apply(root, aws.env).stdout


def test_delete_needs_yes_without_a_terminal(aws, project):
    root, _repo = project
    assert apply(root, aws.env).returncode == 0
    refused = smpipe("delete", "-C", str(root), env=aws.env)  # a real process: stdin is no terminal
    assert refused.returncode == 1 and "pass --yes" in refused.stderr
    assert aws.client("sagemaker").list_pipelines()["PipelineSummaries"]
    done = smpipe_in_process("delete", "-C", str(root), "--yes", env=aws.env)
    assert done.returncode == 0 and "pipeline abalone: deleted" in done.stdout
    assert aws.client("sagemaker").list_pipelines()["PipelineSummaries"] == []
    again = smpipe_in_process("delete", "-C", str(root), "--yes", env=aws.env)
    assert again.returncode == 0 and "nothing to delete" in again.stdout


def test_missing_artifacts_are_a_one_line_error(aws, tmp_path):
    done = smpipe_in_process("apply", "-C", str(tmp_path), env=aws.env)
    assert done.returncode == 1
    assert done.stderr.strip() == ("error: pipeline/definition.json: rendered definition not found "
                                   "(hint: run `smpipe-gen render`)")


@pytest.fixture
def example(tmp_path, aws):
    """The abalone example as a fresh git repository, with its bucket in moto."""
    root = tmp_path / "abalone"
    shutil.copytree(EXAMPLE, root)
    repo = git_repo(root)
    commit_all(repo, "abalone example")
    aws.client("s3").create_bucket(Bucket=definition.load(Project.at(root)).manifest.pipeline.bucket)
    return root, repo


@pytest.mark.slow
def test_example_review_flow_stale_refused_then_render_plan_apply(aws, example):
    """The CI flow on the abalone example: a config edit without a render is refused; once
    rendered and committed, plan shows the edit and apply (after its own check) creates the
    pipeline without importing the SDK in its process."""
    root, repo = example
    repo.git.checkout("-b", "more-rounds")
    conf = root / "conf/conf.yaml"
    conf.write_text(conf.read_text().replace("num_round: 50", "num_round: 60"))
    commit_all(repo, "more rounds, not rendered")
    refused = smpipe_in_process("apply", "-C", str(root), env=aws.env)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: pipeline/definition.json: the committed definition is stale")
    assert "run `smpipe-gen render`" in refused.stderr and "Traceback" not in refused.stderr
    assert aws.client("sagemaker").list_pipelines()["PipelineSummaries"] == []

    assert smpipe_in_process("render", "-C", str(root), env=aws.env).returncode == 0
    commit_all(repo, "render")
    planned = smpipe_in_process("plan", "-C", str(root), "--format", "json", env=aws.env)
    assert planned.returncode == 2, planned.stderr
    (step,) = json.loads(planned.stdout)["steps"]
    assert step["status"] == "changed" and step["type"] == "Training"
    assert [(c["category"], c["path"], c["before"], c["after"]) for c in step["changes"]] == [
        ("hyperparameters", "Arguments.HyperParameters.num_round", "50", "60")]  # decoded, as the config says

    done = smpipe("apply", "-C", str(root), env=aws.env, report_sdk=True)
    assert done.returncode == 0, done.stderr
    assert "pipeline abalone: created" in done.stdout
    assert "sagemaker imported: False" in done.stderr
    described = aws.client("sagemaker").describe_pipeline(PipelineName="abalone")
    assert described["PipelineDescription"] == "Abalone age regression with an MSE quality gate."
    assert tags(aws)["team"] == "ml-platform"
    assert tags(aws)["smpipe-gen:git-commit"] == repo.head.commit.hexsha


def test_terminal_user_is_asked_and_can_decline(aws, project):
    """With a terminal on stdin apply asks before changing the pipeline; "n" changes nothing."""
    root, _repo = project
    controller, terminal = pty.openpty()
    os.write(controller, b"n\n")
    done = subprocess.run([sys.executable, "-m", "smpipe_gen", "apply", "-C", str(root), "--skip-check"],
                          stdin=terminal, capture_output=True, text=True, env=aws.env, timeout=60)
    os.close(terminal)
    os.close(controller)
    assert done.returncode == 1
    assert "apply to pipeline abalone (new pipeline)? [y/N]" in done.stdout
    assert "apply declined" in done.stderr
    assert aws.client("sagemaker").list_pipelines()["PipelineSummaries"] == []


def test_check_errors_and_missing_credentials_are_one_line(aws, project):
    root, _repo = project
    unchecked = smpipe_in_process("apply", "-C", str(root), env=aws.env)  # no config in this repository
    assert unchecked.returncode == 1
    assert unchecked.stderr.startswith("error: pipeline/definition.json: cannot verify the definition is current")
    assert "Traceback" not in unchecked.stderr
    env = {k: v for k, v in aws.env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    anonymous = smpipe_in_process("apply", "-C", str(root), "--skip-check", env=env)
    assert anonymous.returncode == 1
    assert "failed: no AWS credentials (hint: set AWS_PROFILE" in anonymous.stderr
    assert len(anonymous.stderr.strip().splitlines()) == 1
