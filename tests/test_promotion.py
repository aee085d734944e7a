"""Promotion: one commit, rendered for dev and prod, applied to each account's moto state in turn
with its own deploy role (STS), bucket and KMS key; stale or contradicted renders are refused;
credentials of another account are refused by every command that reads or writes AWS; the
template's promotion pipeline runs its stages in order: dev deploys and runs, prod waits for the
approval, a failing dev stage leaves prod untouched."""

from __future__ import annotations

import json
import shutil

import boto3
import pytest

from ci_support import (ACCOUNTS as CI_ACCOUNTS, ContainerCredentials, PromotionExecution, Stack, codebuild_env,
                        git, model_repository, tools, working_copy)
from deploy_support import Fault, git_repo, commit_all
from helpers import EXAMPLES, built_once, offline_env, smpipe_in_process, write

pytest_plugins = ["deploy_support"]

# Its module-scoped fixtures build once per run only if the module stays in one xdist worker.
pytestmark = pytest.mark.xdist_group("promotion")

ACCOUNTS = {"dev": "111111111111", "prod": "222222222222"}


def env_file(name: str, account: str, kms: str = "") -> str:
    return (f'export SMP_ACCOUNTID="{account}"\nexport SMP_REGION="us-east-1"\n'
            f'export SMP_S3BUCKETNAME="ml-{name}-bucket"\n'
            f'export SMP_ROLE="arn:aws:iam::{account}:role/SageMaker-{name}"\n'
            + (f'export SMP_KMSKEY="{kms}"\n' if kms else ""))


def deploy_role(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNTS[name]}:role/smpipe-deploy-{name}"


def account_session(aws, name: str) -> boto3.session.Session:
    sts = aws.client("sts")
    credentials = sts.assume_role(RoleArn=deploy_role(name), RoleSessionName="test-setup")["Credentials"]
    return boto3.session.Session(aws_access_key_id=credentials["AccessKeyId"],
                                 aws_secret_access_key=credentials["SecretAccessKey"],
                                 aws_session_token=credentials["SessionToken"], region_name="us-east-1")


@pytest.fixture(scope="module")
def rendered_envs(tmp_path_factory):
    """The abalone example with dev and prod environments, rendered once."""
    root = tmp_path_factory.mktemp("promotion") / "repo"
    shutil.copytree(EXAMPLES / "abalone", root, ignore=shutil.ignore_patterns(".smpipe", "__pycache__", "pipeline"))
    write(root / "environments" / "dev.env", env_file("dev", ACCOUNTS["dev"]))
    write(root / "environments" / "prod.env", env_file("prod", ACCOUNTS["prod"], kms="alias/ml-prod"))
    done = smpipe_in_process("render", cwd=root)
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture
def repo(rendered_envs, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(rendered_envs, root)
    repo = git_repo(root)
    commit_all(repo, "abalone with dev and prod")
    return root, repo


@pytest.mark.slow
def test_one_commit_is_applied_to_dev_then_prod_each_in_its_account(repo, aws):
    root, git = repo
    sha = git.head.commit.hexsha
    for name in ("dev", "prod"):
        account_session(aws, name).client("s3", endpoint_url=aws.endpoint).create_bucket(Bucket=f"ml-{name}-bucket")
    # Prod's render with dev's credentials: refused before anything is written.
    wrong = smpipe_in_process("apply", "-E", "prod", "--yes", "--assume-role", deploy_role("dev"), cwd=root, env=aws.env)
    assert wrong.returncode == 1 and "this render is for account 222222222222" in wrong.stderr, wrong.stderr
    for name in ("dev", "prod"):
        done = smpipe_in_process("apply", "-E", name, "--yes", "--assume-role", deploy_role(name), cwd=root, env=aws.env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "pipeline abalone: created" in done.stdout, done.stdout
    for name in ("dev", "prod"):
        session = account_session(aws, name)
        sagemaker = session.client("sagemaker", endpoint_url=aws.endpoint)
        described = sagemaker.describe_pipeline(PipelineName="abalone")
        assert described["RoleArn"] == f"arn:aws:iam::{ACCOUNTS[name]}:role/SageMaker-{name}"
        assert f"ml-{name}-bucket" in described["PipelineDefinition"]
        tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=described["PipelineArn"])["Tags"]}
        assert (tags["smpipe-gen:environment"], tags["smpipe-gen:git-commit"]) == (name, sha)
        s3 = session.client("s3", endpoint_url=aws.endpoint)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=f"ml-{name}-bucket").get("Contents", [])]
        assert keys, f"no code uploaded to ml-{name}-bucket"
        head = s3.head_object(Bucket=f"ml-{name}-bucket", Key=keys[0])
        assert head.get("ServerSideEncryption") == ("aws:kms" if name == "prod" else None)
        assert head.get("SSEKMSKeyId") == ("alias/ml-prod" if name == "prod" else None)
    # The default account never saw either pipeline.
    assert aws.client("sagemaker").list_pipelines()["PipelineSummaries"] == []


def test_stale_prod_render_is_refused(repo, aws):
    root, _git = repo
    prod = root / "environments" / "prod.env"
    prod.write_text(prod.read_text().replace("ml-prod-bucket", "ml-prod-bucket-2"))
    done = smpipe_in_process("apply", "-E", "prod", "--yes", cwd=root, env=aws.env)
    assert done.returncode == 1 and "committed definition is stale" in done.stderr, done.stderr
    assert "pipeline/prod/definition.json" in done.stderr


def test_process_variables_contradicting_the_environment_are_refused(repo, aws):
    root, _git = repo
    env = {**aws.env, "SMP_S3BUCKETNAME": "ml-other-bucket"}
    done = smpipe_in_process("apply", "-E", "dev", "--yes", cwd=root, env=env)
    assert done.returncode == 1 and "SMP_S3BUCKETNAME is set in the process environment" in done.stderr, done.stderr


def test_plan_shows_every_environment(repo):
    root, git = repo
    git.git.checkout("-b", "feature")
    for name in ("dev", "prod"):
        path = root / "pipeline" / name / "manifest.json"
        data = json.loads(path.read_text())
        data["pipeline"]["description"] = f"changed in {name}"
        path.write_text(json.dumps(data))
    commit_all(git, "change")
    env = offline_env(CODEBUILD_WEBHOOK_TRIGGER="pr/7", CODEBUILD_WEBHOOK_BASE_REF="refs/heads/main")
    done = smpipe_in_process("plan", "--format", "markdown", cwd=root, env=env)
    assert done.returncode == 2, done.stderr
    headings = [line for line in done.stdout.splitlines() if line.startswith("### ")]
    assert [h.split(" · ")[1].split(":")[0] for h in headings] == ["environment `dev`", "environment `prod`"], headings
    assert all("merge base with main" in h and "PR #7" in h and "working tree" not in h for h in headings)


def test_plan_refuses_a_pr_target_branch_it_cannot_see(repo):
    """Comparing with local main when CI names another target would show other PRs' changes."""
    root, _git = repo
    env = offline_env(CODEBUILD_WEBHOOK_TRIGGER="pr/7", CODEBUILD_WEBHOOK_BASE_REF="refs/heads/release")
    done = smpipe_in_process("plan", "-E", "dev", cwd=root, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the PR's target branch 'release' is not in this clone" in done.stderr
    assert "git fetch origin +refs/heads/release:refs/remotes/origin/release" in done.stderr


COMMANDS_THAT_READ_OR_WRITE_AWS = [("plan", "--deployed"), ("apply", "--yes", "--skip-check"), ("delete", "--yes")]


@pytest.mark.parametrize("command", COMMANDS_THAT_READ_OR_WRITE_AWS, ids=lambda c: c[0])
def test_credentials_of_another_account_are_refused_with_environments(repo, aws, command):
    """dev's render read or written with prod's deploy role: refused before any SageMaker call."""
    root, _git = repo
    done = smpipe_in_process(*command, "-E", "dev", "--assume-role", deploy_role("prod"), cwd=root, env=aws.env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert ("environment dev: the credentials are for account 222222222222, but this render is for account "
            "111111111111 (hint: pass --assume-role with a role in account 111111111111") in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", COMMANDS_THAT_READ_OR_WRITE_AWS, ids=lambda c: c[0])
def test_credentials_of_another_account_are_refused_without_environments(project, aws, command):
    """A repository with only env.env: the same check, naming the pipeline."""
    root, _git = project
    other = "arn:aws:iam::222222222222:role/smpipe-deploy"
    done = smpipe_in_process(*command, "--assume-role", other, cwd=root, env=aws.env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the credentials are for account 222222222222, but this render is for account 123456789012" in done.stderr
    assert aws.client("sagemaker").list_pipelines()["PipelineSummaries"] == []
    if command[0] != "plan":  # and with the render's own account's credentials the same command goes through
        assert smpipe_in_process(*command, cwd=root, env=aws.env).returncode == 0


def test_plan_deployed_with_the_right_role_compares_that_accounts_pipeline(repo, aws):
    root, _git = repo
    done = smpipe_in_process("plan", "--deployed", "-E", "dev", "--assume-role", deploy_role("dev"), cwd=root,
                             env=aws.env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pipeline abalone (not deployed)" in done.stdout and f"assumed {deploy_role('dev')}" in done.stderr


def session_in(aws, account: str) -> boto3.session.Session:
    """Credentials of ``account`` (moto gives an assumed role's account to its keys)."""
    return account_session_of(aws, f"arn:aws:iam::{account}:role/admin")


def account_session_of(aws, role_arn: str) -> boto3.session.Session:
    credentials = aws.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="setup")["Credentials"]
    return boto3.session.Session(aws_access_key_id=credentials["AccessKeyId"],
                                 aws_secret_access_key=credentials["SecretAccessKey"],
                                 aws_session_token=credentials["SessionToken"], region_name="us-east-1")


def pipeline_tags(aws, name: str) -> dict[str, str] | None:
    sagemaker = session_in(aws, CI_ACCOUNTS[name]).client("sagemaker", endpoint_url=aws.endpoint)
    found = sagemaker.list_pipelines()["PipelineSummaries"]
    if not found:
        return None
    return {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=found[0]["PipelineArn"])["Tags"]}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Tried to parse AWS")  # moto: no CodeBuild/CodePipeline in CloudFormation
@pytest.mark.filterwarnings("ignore::copier.errors.DirtyLocalWarning")
def test_promotion_pipeline_deploys_dev_runs_it_waits_for_approval_and_a_failing_dev_stops_prod(
        tmp_path_factory, aws, fault_proxy, tmp_path):
    built = built_once(tmp_path_factory, "ci-model-repository", model_repository)
    work, origin = working_copy(built, tmp_path)
    roles = {name: f"arn:aws:iam::{account}:role/my-model-deploy" for name, account in CI_ACCOUNTS.items()}
    ci = Stack(work / "ci" / "codebuild.yaml", {
        "GitHubRepository": "acme/my-model", "ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/0a",
        "DevDeployRoleArn": roles["dev"], "ProdDeployRoleArn": roles["prod"]})
    tooling_role = ci.deploy(aws, "my-model-ci")["DeployRoleArn"]
    for name, account in CI_ACCOUNTS.items():  # each environment's account: its deploy role, its bucket
        session = session_in(aws, account)
        Stack(work / "ci" / "deploy-role.yaml", {
            "ToolingDeployRoleArn": tooling_role, "PipelineRoleArn": f"arn:aws:iam::{account}:role/SageMaker-{name}",
            "CodeBucket": f"ml-{name}-{account}", "StartExecutions": str(name == "dev").lower()},
            account=account).deploy(aws, "my-model-deploy-role",
                                    client=lambda service: session.client(service, endpoint_url=aws.endpoint))
        session.client("s3", endpoint_url=aws.endpoint).create_bucket(Bucket=f"ml-{name}-{account}")
    # The deploy builds run as the tooling account's deploy role (container credentials), through the proxy.
    credentials = ContainerCredentials(aws.client("sts").assume_role(RoleArn=tooling_role,
                                                                     RoleSessionName="codebuild")["Credentials"])
    env = codebuild_env({**aws.env, "AWS_ENDPOINT_URL": fault_proxy.endpoint}, tmp_path / "home",
                        tools(tmp_path / "bin", tmp_path / "pip.log"),
                        AWS_CONTAINER_CREDENTIALS_FULL_URI=credentials.url)
    try:
        first = PromotionExecution(ci, origin, tmp_path / "execution-1", env)
        assert first.run() == [("Source", "Succeeded"), ("Dev", "Succeeded"), ("Approval", "InProgress")]
        assert "started execution" in first.outputs["deploy-dev"] and "execution Succeeded" in first.outputs["deploy-dev"]
        assert pipeline_tags(aws, "dev")["smpipe-gen:git-commit"] == first.commit
        assert pipeline_tags(aws, "prod") is None  # waiting for the approval
        assert first.approve()[-1] == ("Prod", "Succeeded")
        assert pipeline_tags(aws, "prod")["smpipe-gen:git-commit"] == first.commit  # the commit dev ran

        # The next merge: dev deploys it, its execution fails: prod keeps the commit dev last ran.
        conf = work / "conf" / "conf.yaml"
        conf.write_text(conf.read_text().replace("n_estimators: 100", "n_estimators: 150"))
        assert smpipe_in_process("render", cwd=work).returncode == 0
        git("commit", "-q", "-am", "more trees", cwd=work)
        git("push", "-q", "origin", "main", cwd=work)
        fault_proxy.faults.append(Fault("DescribePipelineExecution", 200, {
            "PipelineExecutionArn": "arn:aws:sagemaker:us-east-1:111111111111:pipeline/my-model/execution/x",
            "PipelineExecutionStatus": "Failed"}, times=-1))
        second = PromotionExecution(ci, origin, tmp_path / "execution-2", env)
        assert second.run() == [("Source", "Succeeded"), ("Dev", "Failed")]
        assert "execution ended Failed" in second.outputs["deploy-dev"], second.outputs["deploy-dev"]
        assert pipeline_tags(aws, "dev")["smpipe-gen:git-commit"] == second.commit != first.commit
        assert pipeline_tags(aws, "prod")["smpipe-gen:git-commit"] == first.commit
    finally:
        credentials.stop()
