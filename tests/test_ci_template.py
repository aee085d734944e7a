"""The CI a generated repository ships, run for real: the PR buildspec's own commands (bash, the
variables CodeBuild sets) plan every environment and post ONE comment on a fake GitHub, applying
nothing; the deploy buildspec then applies dev and prod, each in its own moto account with its own
deploy role and bucket. The CloudFormation of the CodeBuild projects passes cfn-lint and deploys to
moto (moto's CloudFormation has no AWS::CodeBuild::Project: the roles deploy, the projects are skipped),
and requirements.txt installs the tool from the template's own source.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml

from github_fake import FakeGitHub

pytest_plugins = ["deploy_support"]
# Its module-scoped fixtures build once per run only if the module stays in one xdist worker.
pytestmark = [pytest.mark.filterwarnings("ignore::copier.errors.DirtyLocalWarning"),
              pytest.mark.xdist_group("ci-template")]

SRC = Path(__file__).resolve().parents[1]
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
ACCOUNTS = {"dev": "111111111111", "prod": "222222222222"}
REPO_URL = "https://github.com/acme/my-model.git"


def run(argv: list[str], cwd: Path, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=cwd, env={**os.environ, **GIT_ENV, **(env or {})}, capture_output=True,
                          text=True, timeout=600)
    if check:
        assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done


def environment_file(name: str) -> str:
    account = ACCOUNTS[name]
    return (f'export SMP_ACCOUNTID="{account}"\nexport SMP_REGION="us-east-1"\n'
            f'export SMP_S3BUCKETNAME="ml-{name}-{account}"\n'
            f'export SMP_ROLE="arn:aws:iam::{account}:role/SageMaker-{name}"\n')


def deploy_role(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNTS[name]}:role/my-model-deploy"


@pytest.fixture(scope="module")
def template_source(tmp_path_factory) -> Path:
    """This project as a clean git repository (the template and the package it pins), tagged."""
    src = tmp_path_factory.mktemp("template") / "smpipe-gen"
    src.mkdir()
    for name in ("copier.yml", "pyproject.toml", "README.md"):
        shutil.copy(SRC / name, src)
    for name in ("templates", "smpipe_gen"):
        shutil.copytree(SRC / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run(["git", "init", "-q", "-b", "main"], src)
    run(["git", "add", "."], src)
    run(["git", "commit", "-q", "-m", "template"], src)
    run(["git", "tag", "v1.0.0"], src)
    return src


@pytest.fixture(scope="module")
def generated(template_source, tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("generated") / "my-model"
    run([sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", str(template_source), str(dst)], dst.parent)
    return dst


def test_requirements_install_the_tool_from_the_template_commit(generated, template_source, tmp_path):
    commit = run(["git", "rev-parse", "HEAD"], template_source).stdout.strip()
    pins = [line for line in (generated / "requirements.txt").read_text().splitlines() if line.startswith("smpipe-gen")]
    assert pins == [f"smpipe-gen @ git+file://localhost{template_source}@{commit}"]
    # A fresh environment without the tool; this pip drives it (--python), which spares
    # installing a pip into the venv (most of the time the test took).
    run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], tmp_path)
    done = run([sys.executable, "-m", "pip", "--python", str(tmp_path / "venv" / "bin" / "python"), "install",
                "--no-deps", "--dry-run", "-r", "requirements.txt"], generated)
    assert "Would install" in done.stdout and "smpipe-gen-" in done.stdout, done.stdout


@pytest.mark.filterwarnings("ignore:Tried to parse AWS")  # expected: moto skips AWS::CodeBuild::Project
def test_codebuild_cloudformation_lints_and_deploys_to_moto(generated, aws):
    from cfnlint.api import lint

    text = (generated / "ci" / "codebuild.yaml").read_text()
    regions = yaml.safe_load((SRC / "copier.yml").read_text())["aws_region"]["choices"]  # the template offers these
    assert [str(match) for match in lint(text, regions=regions)] == []
    cloudformation = aws.client("cloudformation")
    parameters = {"RepositoryUrl": REPO_URL, "Environment": "dev", "CodeBucket": "ml-dev-111111111111",
                  "PipelineRoleArn": "arn:aws:iam::111111111111:role/SageMaker-dev",
                  "GitHubTokenSecretArn": "arn:aws:secretsmanager:us-east-1:111111111111:secret:gh-AbCdEf"}
    cloudformation.create_stack(StackName="my-model-ci", TemplateBody=text, Capabilities=["CAPABILITY_IAM"],
                                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    stack = cloudformation.describe_stacks(StackName="my-model-ci")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    iam = aws.client("iam")
    grants = {}  # role -> {(action, resource)}
    for output in stack["Outputs"]:
        name = output["OutputValue"].rsplit("/", 1)[1]
        policy = iam.get_role_policy(RoleName=name, PolicyName=iam.list_role_policies(RoleName=name)["PolicyNames"][0])
        document = policy["PolicyDocument"]
        # moto keeps a policy CloudFormation gave it as a Python repr of the dict, and leaves None
        # where AWS::NoValue removes a statement
        statements = [statement for statement in
                      (ast.literal_eval(document) if isinstance(document, str) else document)["Statement"] if statement]
        grants[output["OutputKey"]] = {(action, resource) for statement in statements
                                       for action in listed(statement["Action"]) for resource in listed(statement["Resource"])}
    assert all(resource != "*" for pairs in grants.values() for _action, resource in pairs)  # every grant scoped
    actions = {role: {action for action, _resource in pairs} for role, pairs in grants.items()}
    pipeline = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/my-model"
    code = "arn:aws:s3:::ml-dev-111111111111/my-model/code/*"
    assert {("sagemaker:DescribePipeline", pipeline), ("s3:GetObject", code)} <= grants["PullRequestRoleArn"]
    assert not actions["PullRequestRoleArn"] & {"sagemaker:CreatePipeline", "sagemaker:UpdatePipeline",
                                                  "sagemaker:AddTags", "iam:PassRole"}
    assert {resource for action, resource in grants["PullRequestRoleArn"] if action == "s3:PutObject"} == {
        "arn:aws:s3:::ml-dev-111111111111/my-model/ci/*"}  # its plan report, never the code
    assert {("sagemaker:CreatePipeline", pipeline), ("sagemaker:UpdatePipeline", pipeline),
            ("sagemaker:AddTags", pipeline), ("iam:PassRole", parameters["PipelineRoleArn"]),
            ("s3:PutObject", code)} <= grants["DeployRoleArn"]
    assert {action.split(":")[0] for action in actions["DeployRoleArn"]} == {"logs", "sagemaker", "iam", "s3"}
    assert not any(action.startswith(("sagemaker:Delete", "sagemaker:Start")) and action != "sagemaker:DeleteTags"
                   for action in actions["DeployRoleArn"])


def listed(value) -> list:
    return [value] if isinstance(value, str) else list(value)

def build_clone(origin: Path, branch: str, dst: Path) -> Path:
    """What CodeBuild checks out: a shallow clone of the branch's head."""
    run(["git", "clone", "-q", "--depth", "1", "--branch", branch, f"file://{origin}", str(dst)], origin.parent)
    return dst


def tools(bin_dir: Path) -> Path:
    """`smpipe-gen` and `python` as the build image has them after `pip install -r requirements.txt`."""
    bin_dir.mkdir(exist_ok=True)
    for name, command in (("smpipe-gen", f'"{sys.executable}" -m smpipe_gen'), ("python", f'"{sys.executable}"')):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {command} "$@"\n')
        (bin_dir / name).chmod(0o755)
    return bin_dir


def run_buildspec(path: Path, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """The buildspec's own pre_build and build commands, in one bash, with its env variables."""
    spec = yaml.safe_load(path.read_text())
    script = "\n".join(cmd for phase in ("pre_build", "build") for cmd in spec["phases"][phase]["commands"])
    variables = {**(spec.get("env") or {}).get("variables", {}), **env}
    return run(["bash", "-e", "-c", script], cwd, variables, check=False)


@pytest.mark.slow
def test_pr_builds_plan_every_environment_once_on_the_pr_then_main_deploys_dev_then_prod(generated, aws, tmp_path):
    work = tmp_path / "my-model"
    shutil.copytree(generated, work)
    for name in ACCOUNTS:
        (work / "environments").mkdir(exist_ok=True)
        (work / "environments" / f"{name}.env").write_text(environment_file(name))
    (work / "env.env").write_text('export SMP_MODEL_CONFIGPATH="conf/conf.yaml"\n')
    run([sys.executable, "-m", "smpipe_gen", "render"], work)
    run(["git", "init", "-q", "-b", "main"], work)
    run(["git", "add", "."], work)
    run(["git", "commit", "-q", "-m", "my-model with dev and prod"], work)
    origin = tmp_path / "origin.git"
    run(["git", "clone", "-q", "--bare", str(work), str(origin)], tmp_path)
    run(["git", "remote", "add", "origin", str(origin)], work)
    run(["git", "fetch", "-q", "origin"], work)

    fake = FakeGitHub()
    api = fake.start()
    bin_dir = tools(tmp_path / "bin")
    ci = {**aws.env, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CODEBUILD_SOURCE_REPO_URL": REPO_URL,
          "GITHUB_API_URL": api}
    conf = work / "conf" / "conf.yaml"
    try:
        for push, value in enumerate(("150", "175"), start=1):  # two pushes to the same PR
            text = conf.read_text()
            conf.write_text(text.replace("n_estimators: 100" if push == 1 else "n_estimators: 150", f"n_estimators: {value}"))
            if push == 1:
                run(["git", "checkout", "-q", "-b", "feature"], work)
            run([sys.executable, "-m", "smpipe_gen", "render"], work)
            run(["git", "commit", "-q", "-am", f"n_estimators {value}"], work)
            run(["git", "push", "-q", "origin", "feature"], work)
            build = build_clone(origin, "feature", tmp_path / f"pr-build-{push}")
            sha = run(["git", "rev-parse", "HEAD"], build).stdout.strip()
            done = run_buildspec(build / "ci" / "pr.buildspec.yml", build, {
                **ci, "CODEBUILD_WEBHOOK_TRIGGER": "pr/5", "CODEBUILD_WEBHOOK_BASE_REF": "refs/heads/main",
                "CODEBUILD_WEBHOOK_HEAD_REF": "refs/heads/feature", "CODEBUILD_SOURCE_VERSION": "pr/5",
                "CODEBUILD_RESOLVED_SOURCE_VERSION": sha, "GITHUB_TOKEN": fake.token})
            assert done.returncode == 0, done.stdout + done.stderr
            report = (build / "plan-report.md").read_text()
            headings = [line for line in report.splitlines() if line.startswith("### smpipe-gen plan")]
            assert len(headings) == 2 and "environment `dev`" in headings[0] and "environment `prod`" in headings[1]
            assert all(f"PR #5 ({sha[:8]})" in h and "merge base with origin/main" in h for h in headings), headings
            changed = [line for line in report.splitlines()
                       if line.startswith("  - hyperparameters `") and "n_estimators" in line and value in line]
            assert len(changed) == 2, report  # the PR's change, once per environment
        comments = fake.comments[("acme/my-model", 5)]
        assert len(comments) == 1 and "175" in comments[0]["body"] and "environment `prod`" in comments[0]["body"]
        assert fake.requests.count("POST /repos/acme/my-model/issues/5/comments") == 1
    finally:
        fake.stop()
    sessions = {name: assumed(aws, name) for name in ACCOUNTS}
    for name, session in sessions.items():  # the PR builds applied nothing, anywhere
        assert session.client("sagemaker", endpoint_url=aws.endpoint).list_pipelines()["PipelineSummaries"] == []
        session.client("s3", endpoint_url=aws.endpoint).create_bucket(Bucket=f"ml-{name}-{ACCOUNTS[name]}")

    run(["git", "checkout", "-q", "main"], work)
    run(["git", "merge", "-q", "--ff-only", "feature"], work)
    run(["git", "push", "-q", "origin", "main"], work)
    merged = run(["git", "rev-parse", "HEAD"], work).stdout.strip()
    for name in ("dev", "prod"):  # the same merged commit, dev first, then prod
        build = build_clone(origin, "main", tmp_path / f"deploy-{name}")
        done = run_buildspec(build / "ci" / "deploy.buildspec.yml", build, {
            **ci, "CODEBUILD_WEBHOOK_TRIGGER": "branch/main", "CODEBUILD_WEBHOOK_HEAD_REF": "refs/heads/main",
            "SMPIPE_ENVIRONMENT": name, "SMPIPE_DEPLOY_ROLE": deploy_role(name)})
        assert done.returncode == 0, done.stdout + done.stderr
        assert "pipeline my-model: created" in done.stdout, done.stdout
        sagemaker = sessions[name].client("sagemaker", endpoint_url=aws.endpoint)
        described = sagemaker.describe_pipeline(PipelineName="my-model")
        assert described["RoleArn"] == f"arn:aws:iam::{ACCOUNTS[name]}:role/SageMaker-{name}"
        definition = json.loads(described["PipelineDefinition"])
        assert f"ml-{name}-{ACCOUNTS[name]}" in json.dumps(definition)
        tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=described["PipelineArn"])["Tags"]}
        assert (tags["smpipe-gen:environment"], tags["smpipe-gen:git-commit"]) == (name, merged)
        objects = sessions[name].client("s3", endpoint_url=aws.endpoint).list_objects_v2(Bucket=f"ml-{name}-{ACCOUNTS[name]}")
        assert objects.get("KeyCount", 0) > 0
    assert aws.client("sagemaker").list_pipelines()["PipelineSummaries"] == []  # nothing in the CI account


def assumed(aws, name: str) -> boto3.session.Session:
    credentials = aws.client("sts").assume_role(RoleArn=deploy_role(name), RoleSessionName="test")["Credentials"]
    return boto3.session.Session(aws_access_key_id=credentials["AccessKeyId"],
                                 aws_secret_access_key=credentials["SecretAccessKey"],
                                 aws_session_token=credentials["SessionToken"], region_name="us-east-1")
