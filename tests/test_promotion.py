"""Promotion: one commit, rendered for dev and prod, applied to each account's moto state in turn
with its own deploy role (STS), bucket and KMS key; stale or contradicted renders are refused."""

from __future__ import annotations

import json
import shutil

import boto3
import pytest

from deploy_support import git_repo, commit_all, run_cli
from helpers import EXAMPLES, offline_env, smpipe_in_process, write

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
    wrong = run_cli("apply", "-E", "prod", "--yes", "--assume-role", deploy_role("dev"), cwd=root, env=aws.env)
    assert wrong.returncode == 1 and "deploys to account 222222222222" in wrong.stderr, wrong.stderr
    for name in ("dev", "prod"):
        done = run_cli("apply", "-E", name, "--yes", "--assume-role", deploy_role(name), cwd=root, env=aws.env)
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
    done = run_cli("apply", "-E", "prod", "--yes", cwd=root, env=aws.env)
    assert done.returncode == 1 and "committed definition is stale" in done.stderr, done.stderr
    assert "pipeline/prod/definition.json" in done.stderr


def test_process_variables_contradicting_the_environment_are_refused(repo, aws):
    root, _git = repo
    env = {**aws.env, "SMP_S3BUCKETNAME": "ml-other-bucket"}
    done = run_cli("apply", "-E", "dev", "--yes", cwd=root, env=env)
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
    done = run_cli("plan", "--format", "markdown", cwd=root, env=env)
    assert done.returncode == 2, done.stderr
    headings = [line for line in done.stdout.splitlines() if line.startswith("### ")]
    assert [h.split(" · ")[1].split(":")[0] for h in headings] == ["environment `dev`", "environment `prod`"], headings
    assert all("merge base with main" in h and "PR #7" in h and "working tree" not in h for h in headings)


def test_plan_refuses_a_pr_target_branch_it_cannot_see(repo):
    """Comparing with local main when CI names another target would show other PRs' changes."""
    root, _git = repo
    env = offline_env(CODEBUILD_WEBHOOK_TRIGGER="pr/7", CODEBUILD_WEBHOOK_BASE_REF="refs/heads/release")
    done = run_cli("plan", "-E", "dev", cwd=root, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the PR's target branch 'release' is not in this clone" in done.stderr
    assert "git fetch origin +refs/heads/release:refs/remotes/origin/release" in done.stderr
