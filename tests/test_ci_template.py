"""The CI a generated repository ships, as AWS runs it, played by an attacker: a hostile pull
request's code runs in the tests build (its buildspec from the stack, CodeBuild's variables, the
container credentials endpoint, Secrets Manager and IAM checks in moto) and reaches no token and no
role that writes; the plan build EventBridge starts after it runs no pull-request code and still
posts the plan, with why the build failed, as ONE comment on a fake GitHub. The CloudFormation
passes cfn-lint and deploys to moto where moto can model it; requirements.txt installs the tool
from the template's own source, a new version at every commit.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
import pytest
import yaml

from ci_support import (ACCOUNTS, ContainerCredentials, Stack, build_state_change, checkout, codebuild_env, git,
                        grants, matches, model_repository, run_build, start_build_input, template, template_source, tools,
                        working_copy)
from github_fake import FakeGitHub
from helpers import built_once, smpipe_in_process
from smpipe_gen.github import MARKER

pytest_plugins = ["deploy_support", "github_fake"]
# Its module-scoped fixtures build once per run only if the module stays in one xdist worker.
pytestmark = [pytest.mark.filterwarnings("ignore::copier.errors.DirtyLocalWarning"),
              pytest.mark.filterwarnings("ignore:Tried to parse AWS"),  # moto: no CodeBuild/CodePipeline
              pytest.mark.xdist_group("ci-template")]

SRC = Path(__file__).resolve().parents[1]
REPOSITORY = "acme/my-model"
SECRET_NAME = "my-model/github-token"  # as the README names it
PARAMETERS = {"GitHubRepository": REPOSITORY,
              "ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d",
              "DevDeployRoleArn": f"arn:aws:iam::{ACCOUNTS['dev']}:role/my-model-deploy",
              "ProdDeployRoleArn": f"arn:aws:iam::{ACCOUNTS['prod']}:role/my-model-deploy"}
PROBE = '''
"""A hostile pull request's "test": it takes what it can reach and sends it home (here: a file)."""
import json, os, urllib.request
from pathlib import Path

import boto3


def attempt(call):
    try:
        return {"ok": True, "result": str(call())[:300]}
    except Exception as error:  # what the attacker sees
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}


def test_take_everything():
    loot = {"environ": dict(os.environ)}
    secrets = boto3.client("secretsmanager")
    loot["ListSecrets"] = attempt(lambda: secrets.list_secrets())
    loot["GetSecretValue"] = attempt(lambda: secrets.get_secret_value(SecretId="my-model/github-token"))
    uri = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") or ("http://169.254.170.2"
                                                                   + os.environ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"])
    creds = json.loads(urllib.request.urlopen(uri, timeout=5).read())
    loot["container_credentials"] = sorted(creds)
    role = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["Token"], region_name="us-east-1")
    loot["GetCallerIdentity"] = attempt(lambda: role.client("sts").get_caller_identity()["Arn"])
    loot["writes"] = {
        "ListBuckets": attempt(lambda: role.client("s3").list_buckets()),
        "PutObject": attempt(lambda: role.client("s3").put_object(Bucket="ml-dev-111111111111",
                                                                  Key="my-model/code/x", Body=b"x")),
        "CreatePipeline": attempt(lambda: role.client("sagemaker").create_pipeline(
            PipelineName="my-model", PipelineDefinition="{}", RoleArn="arn:aws:iam::123456789012:role/x")),
        "AssumeRole": attempt(lambda: role.client("sts").assume_role(
            RoleArn="arn:aws:iam::111111111111:role/my-model-deploy", RoleSessionName="exfil")),
        "StartBuild": attempt(lambda: role.client("codebuild").start_build(
            projectName="my-model-pr-plan", buildspecOverride="version: 0.2")),
        "CreateAccessKey": attempt(lambda: role.client("iam").create_access_key()),
    }
    Path(os.environ["HOME"], "loot.json").write_text(json.dumps(loot))
    assert False, "nothing here is a test"
'''


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The template copied into a model repository with dev and prod, rendered once per run."""
    return built_once(tmp_path_factory, "ci-model-repository", model_repository)


def stack(built: Path, **parameters: str) -> Stack:
    return Stack(built / "my-model" / "ci" / "codebuild.yaml", {**PARAMETERS, **parameters})


@pytest.mark.slow  # two builds of the package from git
def test_requirements_install_the_tool_from_the_template_commit_and_upgrade_with_copier_update(tmp_path):
    source = template_source(tmp_path / "smpipe-gen")
    model = tmp_path / "model"
    copied = subprocess.run([sys.executable, "-m", "copier", "copy", "--defaults", str(source), str(model)],
                            capture_output=True, text=True)
    assert copied.returncode == 0, copied.stderr
    assert "WARNING: requirements.txt installs smpipe-gen from a local path" in copied.stderr  # said at copy time
    commit = git("rev-parse", "HEAD", cwd=source)
    pins = [line for line in (model / "requirements.txt").read_text().splitlines() if line.startswith("smpipe-gen")]
    assert pins == [f"smpipe-gen @ git+file://localhost{source}@{commit}"]
    # A fresh environment; this pip drives it (--python), which spares installing a pip into it.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "-q"]
    subprocess.run([*pip, "-r", "requirements.txt"], cwd=model, check=True, capture_output=True)
    git("init", "-q", "-b", "main", cwd=model)
    git("add", ".", cwd=model)
    git("commit", "-q", "-m", "model", cwd=model)
    (source / "README.md").write_text((source / "README.md").read_text() + "\nA later commit.\n")
    git("commit", "-q", "-am", "later", cwd=source)
    updated = subprocess.run([sys.executable, "-m", "copier", "update", "--defaults", "--trust", "--vcs-ref", "HEAD"],
                             cwd=model, capture_output=True, text=True)
    assert updated.returncode == 0, updated.stderr
    assert git("rev-parse", "HEAD", cwd=source) in (model / "requirements.txt").read_text()
    upgrade = subprocess.run([*pip[:-1], "--dry-run", "-r", "requirements.txt"], cwd=model, capture_output=True,
                             text=True)
    assert "Would install smpipe-gen-1.0.1.dev1+g" in upgrade.stdout, upgrade.stdout + upgrade.stderr


def test_cloudformation_lints_and_deploys_to_moto_with_least_privilege(built, aws):
    from cfnlint.api import lint

    regions = yaml.safe_load((SRC / "copier.yml").read_text())["aws_region"]["choices"]  # the template offers these
    for name in ("codebuild.yaml", "deploy-role.yaml"):
        assert [str(m) for m in lint((built / "my-model" / "ci" / name).read_text(), regions=regions)] == [], name
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:my-model/github-token-AbCdEf"
    ci = stack(built, GitHubTokenSecretArn=secret)
    outputs = ci.deploy(aws, "my-model-ci")
    iam = aws.client("iam")
    tests, plan, deploy = (grants(iam, outputs[key]) for key in
                           ("PullRequestTestsRoleArn", "PullRequestPlanRoleArn", "DeployRoleArn"))
    assert {action for action, _ in tests} == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    assert {pair for pair in plan if not pair[0].startswith("logs:")} == {("secretsmanager:GetSecretValue", secret)}
    assert {resource for action, resource in deploy if action == "sts:AssumeRole"} == {
        PARAMETERS["DevDeployRoleArn"], PARAMETERS["ProdDeployRoleArn"]}
    assert not any(action.startswith(("sagemaker:", "iam:", "secretsmanager:")) for action, _ in deploy)
    assert all(resource != "*" for pairs in (tests, plan, deploy) for _, resource in pairs)
    pr_tests, pr_plan = ci.project("PullRequestTestsProject"), ci.project("PullRequestPlanProject")
    assert "EnvironmentVariables" not in pr_tests["Environment"]  # no token, nothing secret
    assert {v["Name"]: v.get("Type") for v in pr_plan["Environment"]["EnvironmentVariables"]}["GITHUB_TOKEN"] == \
        "SECRETS_MANAGER"
    for project in (pr_tests, pr_plan, ci.project("DeployProject")):  # inline: a PR cannot bring its own
        assert yaml.safe_load(project["Source"]["BuildSpec"])["version"] == 0.2
    assert pr_tests["Triggers"]["PullRequestBuildPolicy"]["RequiresCommentApproval"] == "FORK_PULL_REQUESTS"
    assert "Triggers" not in pr_plan  # no webhook: only EventBridge starts it, after the tests build

    # Each environment's deploy role: trusts only the tooling account's deploy builds, one pipeline.
    role = Stack(built / "my-model" / "ci" / "deploy-role.yaml", {
        "ToolingDeployRoleArn": outputs["DeployRoleArn"], "PipelineRoleArn": "arn:aws:iam::123456789012:role/SageMaker-dev",
        "CodeBucket": "ml-dev-111111111111", "StartExecutions": "true"})
    arn = role.deploy(aws, "my-model-deploy-role")["DeployRoleArn"]
    assert arn == "arn:aws:iam::123456789012:role/my-model-deploy"
    trust = iam.get_role(RoleName="my-model-deploy")["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert [s["Principal"] for s in trust["Statement"]] == [{"AWS": outputs["DeployRoleArn"]}]
    actions = {action for action, _ in grants(iam, arn)}
    assert {"sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "iam:PassRole", "s3:PutObject",
            "sagemaker:StartPipelineExecution"} <= actions
    assert not any(a.startswith("sagemaker:Delete") and a != "sagemaker:DeleteTags" for a in actions)


def test_a_deploy_not_started_by_the_promotion_pipeline_is_refused(built, tmp_path):
    """A hand-started build (or one a compromised role starts) deploys nothing, checks nothing."""
    ci = stack(built)
    bin_dir = tools(tmp_path / "bin", tmp_path / "pip.log")
    env = codebuild_env({}, tmp_path / "home", bin_dir, CODEBUILD_INITIATOR="mallory", SMPIPE_ENVIRONMENT="prod")
    done = run_build(ci.project("DeployProject"), built / "my-model", env, phases=("pre_build",))
    assert done.returncode == 1 and "refusing to deploy: not started by the promotion pipeline my-model-promotion " \
        "(CODEBUILD_INITIATOR=mallory)" in done.stdout, done.stdout


@pytest.fixture
def auth(aws):
    """moto checks IAM (signatures, policies) while the block runs: what AWS would refuse, it refuses."""
    def switch(count: str) -> None:
        request = urllib.request.Request(f"{aws.endpoint}/moto-api/reset-auth", data=count.encode(), method="POST",
                                         headers={"Content-Type": "text/plain"})  # a form body reads as empty
        urllib.request.urlopen(request, timeout=10).read()

    class Auth:
        def __enter__(self):
            switch("0")

        def __exit__(self, *exc):
            switch("inf")

    yield Auth()
    switch("inf")


def role_credentials(aws, role_arn: str) -> dict:
    """What CodeBuild gives a build of a project with this service role."""
    return aws.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="codebuild")["Credentials"]


@pytest.mark.slow
def test_hostile_pull_request_reaches_no_token_and_no_role_that_writes_and_the_plan_is_still_posted(
        built, aws, auth, fake_github, tmp_path):
    token_arn = aws.client("secretsmanager").create_secret(Name=SECRET_NAME, SecretString=fake_github.token + "\n")["ARN"]
    ci = stack(built, GitHubTokenSecretArn=token_arn)
    outputs = ci.deploy(aws, "my-model-ci")
    work, origin = working_copy(built, tmp_path)

    # The pull request: a real change, a test that takes what it can reach, a package of its own.
    git("checkout", "-q", "-b", "feature", cwd=work)
    conf = work / "conf" / "conf.yaml"
    conf.write_text(conf.read_text().replace("n_estimators: 100", "n_estimators: 150"))
    assert smpipe_in_process("render", cwd=work).returncode == 0
    (work / "tests" / "test_probe.py").write_text(PROBE)
    requirements = work / "requirements.txt"
    requirements.write_text(requirements.read_text() + "totally-harmless-package==6.6.6\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "faster model", cwd=work)
    git("push", "-q", "origin", "feature", cwd=work)
    sha = git("rev-parse", "HEAD", cwd=work)
    webhook = {"CODEBUILD_SOURCE_REPO_URL": f"https://github.com/{REPOSITORY}.git", "CODEBUILD_SOURCE_VERSION": "pr/5",
               "CODEBUILD_RESOLVED_SOURCE_VERSION": sha}

    # The tests build: the PR's code, with what CodeBuild gives that project and nothing more.
    tests_project = ci.project("PullRequestTestsProject")
    home = tmp_path / "tests-home"
    credentials = ContainerCredentials(role_credentials(aws, outputs["PullRequestTestsRoleArn"]))
    env = codebuild_env(aws.env, home, tools(tmp_path / "tests-bin", tmp_path / "tests-pip.log"), **webhook,
                        CODEBUILD_WEBHOOK_TRIGGER="pr/5", CODEBUILD_WEBHOOK_BASE_REF="refs/heads/main",
                        AWS_CONTAINER_CREDENTIALS_FULL_URI=credentials.url)
    try:
        with auth:
            tests = run_build(tests_project, checkout(origin, "feature", tmp_path / "tests-src"), env)
    finally:
        credentials.stop()
    assert tests.returncode == 1 and "nothing here is a test" in tests.stdout, tests.stdout
    loot = json.loads((home / "loot.json").read_text())
    assert not [name for name, value in loot["environ"].items() if fake_github.token in value or "GITHUB" in name]
    assert not loot["ListSecrets"]["ok"] and not loot["GetSecretValue"]["ok"], loot
    assert loot["GetCallerIdentity"]["result"].startswith("arn:aws:sts::123456789012:assumed-role/"
                                                          + outputs["PullRequestTestsRoleArn"].rsplit("/", 1)[1])
    assert {name: attempt["ok"] for name, attempt in loot["writes"].items()} == dict.fromkeys(loot["writes"], False)
    assert all("AccessDenied" in a["error"] or "not authorized" in a["error"] for a in loot["writes"].values()), loot

    event = build_state_change(tests_project["Name"], "FAILED", "pr/5")
    plan = plan_build(aws, ci, outputs, token_arn, event, fake_github, origin, tmp_path, webhook)
    pip_log = tmp_path / "plan" / "pip.log"
    assert plan.returncode == 1, plan.stdout  # red on the PR: the tests failed
    installed = pip_log.read_text()
    assert "smpipe-gen @ git+https://github.com/acme/smpipe-gen.git@" in installed
    assert "totally-harmless-package" not in installed and "-r requirements.txt" not in installed  # nothing the PR named
    comments = fake_github.comments[(REPOSITORY, 5)]
    assert len(comments) == 1 and comments[0]["user"]["login"] == "ci-bot"
    body = comments[0]["body"]
    assert "**Tests FAILED**" in body and event["detail"]["additional-information"]["logs"]["deep-link"] in body
    assert "environment `dev`" in body and "environment `prod`" in body and body.count("n_estimators") >= 2, body
    assert "Stale render" not in body and "merge base with origin/main" in body and f"PR #5 ({sha[:8]})" in body


def plan_build(aws, ci: Stack, outputs: dict, token_arn: str, event: dict, fake_github: FakeGitHub, origin: Path,
               tmp_path: Path, webhook: dict):
    """What follows the end of a tests build: EventBridge's rule matches the event and starts the
    plan build with the request its input transformer makes; CodeBuild reads the token from
    Secrets Manager with the plan build's role and checks out the PR."""
    events = aws.client("events")
    rule, = events.list_rules()["Rules"]
    assert matches(json.loads(rule["EventPattern"]), event)
    target, = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"].endswith(":project/my-model-pr-plan")
    request = start_build_input(target, event)
    project = ci.project("PullRequestPlanProject")
    variables = project["Environment"]["EnvironmentVariables"]
    secret, = [v for v in variables if v.get("Type") == "SECRETS_MANAGER"]
    role = role_credentials(aws, outputs["PullRequestPlanRoleArn"])
    token = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws.endpoint,
                         aws_access_key_id=role["AccessKeyId"], aws_secret_access_key=role["SecretAccessKey"],
                         aws_session_token=role["SessionToken"]).get_secret_value(SecretId=secret["Value"])["SecretString"]
    project["Environment"]["EnvironmentVariables"] = [v for v in variables if v is not secret]
    overrides = {v["name"]: v["value"] for v in request["environmentVariablesOverride"]}
    env = codebuild_env(aws.env, tmp_path / "plan" / "home", tools(tmp_path / "plan" / "bin", tmp_path / "plan" / "pip.log"),
                        **{**webhook, "CODEBUILD_SOURCE_VERSION": request["sourceVersion"]}, GITHUB_API_URL=fake_github.url,
                        **{secret["Name"]: token}, **overrides)
    return run_build(project, checkout(origin, "feature", tmp_path / "plan" / "src"), env)


@pytest.mark.slow
def test_a_stale_render_is_said_in_the_same_comment_with_the_fix(built, aws, fake_github, tmp_path):
    token_arn = aws.client("secretsmanager").create_secret(Name=SECRET_NAME, SecretString=fake_github.token)["ARN"]
    ci = stack(built, GitHubTokenSecretArn=token_arn)
    outputs = ci.deploy(aws, "my-model-ci")
    work, origin = working_copy(built, tmp_path)
    git("checkout", "-q", "-b", "feature", cwd=work)
    conf = work / "conf" / "conf.yaml"
    conf.write_text(conf.read_text().replace("n_estimators: 100", "n_estimators: 175"))  # and no render
    git("commit", "-q", "-am", "forgot to render", cwd=work)
    git("push", "-q", "origin", "feature", cwd=work)
    planted = fake_github.add((REPOSITORY, 5), f"{MARKER}\nmy own plan", {"id": 777, "login": "mallory"})
    earlier = fake_github.add((REPOSITORY, 5), f"{MARKER}\nthe plan of the previous push", fake_github.user)
    webhook = {"CODEBUILD_SOURCE_REPO_URL": f"https://github.com/{REPOSITORY}.git",
               "CODEBUILD_RESOLVED_SOURCE_VERSION": git("rev-parse", "HEAD", cwd=work)}
    event = build_state_change("my-model-pr-tests", "SUCCEEDED", "pr/5")
    plan = plan_build(aws, ci, outputs, token_arn, event, fake_github, origin, tmp_path, webhook)
    assert plan.returncode == 1 and "stale: the committed artifacts differ from the config" in plan.stdout, plan.stdout
    assert [c["id"] for c in fake_github.comments[(REPOSITORY, 5)]] == [planted["id"], earlier["id"]]
    assert planted["body"] == f"{MARKER}\nmy own plan"
    assert "**Stale render**" in earlier["body"] and "Fix: `smpipe-gen render`, commit `pipeline/`" in earlier["body"]
    assert "Tests" not in earlier["body"] and "No changes" in earlier["body"]  # the committed render did not change


def readme_section(title: str) -> str:
    text = (SRC / "README.md").read_text()
    start = text.index(f"## {title}\n")
    return text[start:text.index("\n## ", start + 1)]


def test_readme_setup_deploys_each_template_with_parameters_it_has(built):
    """The README's "Set up CI in your AWS accounts": every `aws cloudformation deploy` names a
    template the copy has, only parameters it declares, and every parameter it requires."""
    section = readme_section("Set up CI in your AWS accounts").replace("\\\n", " ")
    deploys = [line.split() for line in section.splitlines() if "aws cloudformation deploy" in line]
    assert len(deploys) == 3, deploys
    for words in deploys:
        path = built / "my-model" / words[words.index("--template-file") + 1]
        declared = template_parameters(path)
        overrides = " ".join(words[words.index("--parameter-overrides") + 1:])
        given = set(re.findall(r"(?<!\S)([A-Z][A-Za-z]+)=", overrides))
        required = {name for name, spec in declared.items() if "Default" not in spec}
        assert given <= set(declared) and required <= given, (path.name, given ^ set(declared))
        capability = words[words.index("--capabilities") + 1]
        named = any("RoleName" in r.get("Properties", {}) for r in template(path)["Resources"].values())
        assert capability == ("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM"), path.name


def template_parameters(path: Path) -> dict:
    return template(path)["Parameters"]
