"""The template's CI as AWS runs it, on loopback: its CloudFormation read as CloudFormation
resolves it (parameters, conditions, Sub, If), deployed to moto where moto can model it, its
CodeBuild projects' inline buildspecs run phase by phase in bash with the variables CodeBuild
sets, EventBridge's input transformer applied to an event of the documented shape, CodePipeline's
stages run in order, and a container credentials endpoint serving a build role's credentials.

moto's CloudFormation has no AWS::CodeBuild::Project nor AWS::CodePipeline::Pipeline: those
resources are left out of what is deployed to moto and every reference to them is replaced by the
name or ARN AWS would give them, so the roles and the EventBridge rule around them deploy.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from cfnlint.decode import decode_str

UNMODELLED = {"AWS::CodeBuild::Project": "arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:project/",
              "AWS::CodePipeline::Pipeline": "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:"}
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}


def template(path: Path) -> dict:
    decoded, problems = decode_str(path.read_text())
    assert not problems, problems
    return json.loads(json.dumps(decoded))  # plain dicts and lists


class Stack:
    """One template with its parameters, resolved as CloudFormation would."""

    def __init__(self, path: Path, parameters: dict[str, str], account: str = PSEUDO["AWS::AccountId"]):
        self.path, self.body = path, template(path)
        defaults = {k: v.get("Default") for k, v in self.body.get("Parameters", {}).items()}
        self.parameters = {**{k: v for k, v in defaults.items() if v is not None}, **parameters}
        self.pseudo = {**PSEUDO, "AWS::AccountId": account}
        self.conditions = {name: self.resolve(expr) for name, expr in self.body.get("Conditions", {}).items()}

    # -- CloudFormation's intrinsic functions, as far as the template uses them --------------------
    def resolve(self, node):
        if isinstance(node, list):
            return [item for item in (self.resolve(i) for i in node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (function, argument), = node.items()
            if function == "Ref":
                return self._ref(argument)
            if function == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._sub(m[1])), argument)
            if function == "Fn::If":
                name, yes, no = argument
                return self.resolve(yes if self.conditions[name] else no)
            if function == "Fn::Equals":
                left, right = (self.resolve(a) for a in argument)
                return left == right
            if function == "Fn::Not":
                return not self.resolve(argument[0])
            if function == "Fn::GetAtt":
                return self._arn(argument[0])
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def _ref(self, name: str):
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.resolve(self.body["Resources"][name]["Properties"].get("Name", name))

    def _sub(self, name: str):
        if name.endswith(".Arn"):
            return self._arn(name[:-4])
        return self._ref(name)

    def _arn(self, resource: str) -> str:
        kind = self.body["Resources"][resource]["Type"]
        prefix = UNMODELLED.get(kind, "arn:${AWS::Partition}:unknown:::")
        return self.resolve({"Fn::Sub": prefix}) + str(self._ref(resource))

    # -- what the tests read ----------------------------------------------------------------------
    def resources(self, kind: str) -> dict[str, dict]:
        return {name: self.resolve(resource["Properties"]) for name, resource in self.body["Resources"].items()
                if resource["Type"] == kind and self.conditions.get(resource.get("Condition"), True)}

    def project(self, logical_id: str) -> dict:
        return self.resources("AWS::CodeBuild::Project")[logical_id]

    def moto_body(self) -> str:
        """The template without the resources moto cannot model, references to them resolved."""
        body = json.loads(json.dumps(self.body))
        gone = {name for name, r in body["Resources"].items() if r["Type"] in UNMODELLED}

        def replace(node):
            if isinstance(node, list):
                return [replace(i) for i in node]
            if not isinstance(node, dict):
                return node
            if node.get("Ref") in gone:
                return self._ref(node["Ref"])
            if "Fn::GetAtt" in node and node["Fn::GetAtt"][0] in gone:
                return self._arn(node["Fn::GetAtt"][0])
            return {key: replace(value) for key, value in node.items()}

        body["Resources"] = {k: replace(v) for k, v in body["Resources"].items() if k not in gone}
        body["Outputs"] = {k: replace(v) for k, v in body.get("Outputs", {}).items()}
        return json.dumps(body)

    def deploy(self, aws, name: str, client=None) -> dict[str, str]:
        """Create the stack in moto; its outputs. Role policies are stored again as the JSON AWS
        keeps (moto keeps CloudFormation's as a Python repr, which its IAM checks cannot read)."""
        cloudformation = client("cloudformation") if client else aws.client("cloudformation")
        overrides = {k: v for k, v in self.parameters.items() if k in self.body.get("Parameters", {})}
        cloudformation.create_stack(StackName=name, TemplateBody=self.moto_body(), Capabilities=["CAPABILITY_NAMED_IAM"],
                                    Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in overrides.items()])
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack
        iam = client("iam") if client else aws.client("iam")
        for role in iam.list_roles()["Roles"]:
            for policy_name in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
                iam.put_role_policy(RoleName=role["RoleName"], PolicyName=policy_name,
                                    PolicyDocument=json.dumps(policy(iam, role["RoleName"], policy_name)))
        return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


_NO_VALUE = object()


def policy(iam, role: str, name: str) -> dict:
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    document = ast.literal_eval(document) if isinstance(document, str) else document
    document["Statement"] = [s for s in document["Statement"] if s]  # AWS::NoValue statements
    return document


def grants(iam, role_arn: str) -> set[tuple[str, str]]:
    """(action, resource) pairs of a role's inline policies."""
    role = role_arn.rsplit("/", 1)[1]
    pairs = set()
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        for statement in policy(iam, role, name)["Statement"]:
            for action in _listed(statement["Action"]):
                pairs.update((action, resource) for resource in _listed(statement["Resource"]))
    return pairs


def _listed(value) -> list:
    return [value] if isinstance(value, str) else list(value)


# -- CodeBuild ---------------------------------------------------------------------------------
def tools(bin_dir: Path, pip_log: Path) -> Path:
    """The build image after its install phase: `smpipe-gen` and `python` of this test run, and a
    `pip` that records what it was asked to install (requirement files included) instead of
    downloading it."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, command in (("smpipe-gen", f'"{sys.executable}" -m smpipe_gen'), ("python", f'"{sys.executable}"')):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {command} "$@"\n')
    (bin_dir / "pip").write_text(f"""#!/bin/sh
echo "pip $*" >> "{pip_log}"
while [ $# -gt 0 ]; do [ "$1" = -r ] && cat "$2" >> "{pip_log}"; shift; done
""")
    for path in bin_dir.iterdir():
        path.chmod(0o755)
    return bin_dir


def run_build(project: dict, cwd: Path, env: dict[str, str], phases=("install", "pre_build", "build")):
    """A build of ``project`` (resolved CloudFormation properties) as CodeBuild runs it: its inline
    buildspec's phases in order, each in the buildspec's shell, with the buildspec's variables,
    then the project's, then ``env`` (CodeBuild's own and the start's overrides). A failing phase
    ends the build."""
    spec = yaml.safe_load(project["Source"]["BuildSpec"])
    variables = {**(spec.get("env") or {}).get("variables", {}),
                 **{v["Name"]: v["Value"] for v in project["Environment"].get("EnvironmentVariables", [])},
                 **env}
    output = []
    for phase in phases:
        commands = spec["phases"].get(phase, {}).get("commands", [])
        if not commands:
            continue
        done = subprocess.run([spec["env"].get("shell", "sh"), "-e", "-c", "\n".join(commands)], cwd=cwd,
                              env=variables, capture_output=True, text=True, timeout=600)
        output.append(f"[{phase}]\n{done.stdout}{done.stderr}")
        if done.returncode:
            return subprocess.CompletedProcess(phase, done.returncode, "".join(output), "")
    return subprocess.CompletedProcess("build", 0, "".join(output), "")


def start_build_input(target: dict, event: dict) -> dict:
    """The StartBuild request EventBridge makes from ``event`` with the target's input transformer:
    each path's value replaces its <placeholder> as JSON."""
    transformer = target["InputTransformer"]
    values = {}
    for key, path in transformer["InputPathsMap"].items():
        value = event
        for part in path.removeprefix("$.").split("."):
            value = value[part]
        values[key] = value
    text = re.sub(r"<([A-Za-z0-9_-]+)>", lambda m: json.dumps(values[m[1]]), transformer["InputTemplate"])
    return json.loads(text)


def build_state_change(project_name: str, status: str, source_version: str, account: str = "123456789012") -> dict:
    """A "CodeBuild Build State Change" event as the CodeBuild user guide documents it."""
    build = f"arn:aws:codebuild:us-east-1:{account}:build/{project_name}:8745a7a9-c340-456a-9166-edf953571bEX"
    return {"version": "0", "detail-type": "CodeBuild Build State Change", "source": "aws.codebuild",
            "account": account, "region": "us-east-1", "resources": [build],
            "detail": {"build-status": status, "project-name": project_name, "build-id": build,
                       "additional-information": {
                           "build-complete": True, "source-version": source_version,
                           "source": {"type": "GITHUB", "location": "https://github.com/acme/my-model.git"},
                           "logs": {"group-name": f"/aws/codebuild/{project_name}",
                                    "deep-link": "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1"
                                                 f"#logEvent:group=/aws/codebuild/{project_name}"}}}}


def matches(pattern: dict, event: dict) -> bool:
    """EventBridge's matching for the pattern shapes the template uses (lists of exact values)."""
    for key, wanted in pattern.items():
        value = event.get(key)
        if isinstance(wanted, dict):
            if not isinstance(value, dict) or not matches(wanted, value):
                return False
        elif value not in wanted:
            return False
    return True


class ContainerCredentials:
    """What a CodeBuild container reaches at AWS_CONTAINER_CREDENTIALS_*_URI: its role's credentials
    (here on 127.0.0.1, through AWS_CONTAINER_CREDENTIALS_FULL_URI, which botocore allows on loopback)."""

    def __init__(self, credentials: dict):
        body = json.dumps({"AccessKeyId": credentials["AccessKeyId"], "SecretAccessKey": credentials["SecretAccessKey"],
                           "Token": credentials["SessionToken"], "Expiration": "2099-01-01T00:00:00Z"}).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/credentials/build"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def codebuild_env(aws_env: dict[str, str], home: Path, bin_dir: Path, **codebuild: str) -> dict[str, str]:
    """A build container's environment: no credentials of its own (they come from the container
    endpoint), the AWS endpoint on loopback, a HOME of its own, CodeBuild's variables."""
    env = {k: v for k, v in aws_env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    home.mkdir(parents=True, exist_ok=True)
    return {**env, "HOME": str(home), "PATH": f"{bin_dir}:{os.environ['PATH']}", "AWS_REGION": "us-east-1",
            **codebuild}


# -- a model repository from the template, with dev and prod -------------------------------------
SRC = Path(__file__).resolve().parents[1]
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
ACCOUNTS = {"dev": "111111111111", "prod": "222222222222"}
TOOL_SOURCE = "git+https://github.com/acme/smpipe-gen.git"  # what CI would clone; the tests' pip only records it


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True)
    assert done.returncode == 0, f"git {args}: {done.stdout}{done.stderr}"
    return done.stdout.strip()


def template_source(root: Path) -> Path:
    """This project as a clean git repository (the template and the package it pins), tagged v1.0.0."""
    import shutil

    root.mkdir(parents=True, exist_ok=True)
    for name in ("copier.yml", "pyproject.toml", "README.md"):
        shutil.copy(SRC / name, root)
    for name in ("templates", "smpipe_gen"):
        shutil.copytree(SRC / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_version.py"))
    git("init", "-q", "-b", "main", cwd=root)
    git("add", ".", cwd=root)
    git("commit", "-q", "-m", "template", cwd=root)
    git("tag", "v1.0.0", cwd=root)
    return root


def environment_file(name: str) -> str:
    account = ACCOUNTS[name]
    return (f'export SMP_ACCOUNTID="{account}"\nexport SMP_REGION="us-east-1"\n'
            f'export SMP_S3BUCKETNAME="ml-{name}-{account}"\n'
            f'export SMP_ROLE="arn:aws:iam::{account}:role/SageMaker-{name}"\n')


def model_repository(root: Path) -> None:
    """`copier copy` of the template (tool_source: a git URL), dev and prod environments, rendered,
    committed on main, and a bare clone of it as the GitHub remote (``root/origin.git``)."""
    from helpers import smpipe_in_process

    source = template_source(root / "smpipe-gen")
    repo = root / "my-model"
    done = subprocess.run([sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", "--data",
                           f"tool_source={TOOL_SOURCE}", str(source), str(repo)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in ACCOUNTS:
        (repo / "environments").mkdir(exist_ok=True)
        (repo / "environments" / f"{name}.env").write_text(environment_file(name))
    (repo / "env.env").write_text('export SMP_MODEL_CONFIGPATH="conf/conf.yaml"\n')
    rendered = smpipe_in_process("render", cwd=repo)
    assert rendered.returncode == 0, rendered.stderr
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "my-model with dev and prod", cwd=repo)
    git("clone", "-q", "--bare", str(repo), str(root / "origin.git"), cwd=root)


def working_copy(built: Path, dst: Path) -> tuple[Path, Path]:
    """A writable copy of the built repository and its remote: (work tree, origin)."""
    import shutil

    shutil.copytree(built / "my-model", dst / "my-model", symlinks=True)
    shutil.copytree(built / "origin.git", dst / "origin.git", symlinks=True)
    git("remote", "add", "origin", str(dst / "origin.git"), cwd=dst / "my-model")
    git("fetch", "-q", "origin", cwd=dst / "my-model")
    return dst / "my-model", dst / "origin.git"


def checkout(origin: Path, branch: str, dst: Path, depth: int | None = 1) -> Path:
    """What CodeBuild checks out: a clone of the branch's head (shallow for a webhook source)."""
    git("clone", "-q", *(["--depth", str(depth)] if depth else []), "--branch", branch, f"file://{origin}", str(dst),
        cwd=origin.parent)
    return dst


class PromotionExecution:
    """One execution of the template's promotion pipeline (AWS::CodePipeline::Pipeline) as
    CodePipeline runs it: the source action takes main's head once, then the stages run in order;
    a CodeBuild action is a build of its project with the action's environment variables and
    CodeBuild's (CODEBUILD_INITIATOR=codepipeline/<name>); a failed action ends the execution; a
    manual approval waits until approve()."""

    def __init__(self, stack: Stack, origin: Path, work: Path, env: dict[str, str]):
        self.stack, self.origin, self.work, self.env = stack, origin, work, env
        self.pipeline, = stack.resources("AWS::CodePipeline::Pipeline").values()
        self.projects = {p["Name"]: p for p in stack.resources("AWS::CodeBuild::Project").values()}
        self.stages = list(self.pipeline["Stages"])
        self.history: list[tuple[str, str]] = []  # (stage, status)
        self.outputs: dict[str, str] = {}
        self.source: Path | None = None

    def run(self) -> list[tuple[str, str]]:
        while self.stages:
            stage = self.stages[0]
            status = self._stage(stage)
            self.history.append((stage["Name"], status))
            if status != "Succeeded":
                return self.history
            self.stages.pop(0)
        return self.history

    def approve(self) -> list[tuple[str, str]]:
        assert self.history[-1][1] == "InProgress", self.history
        self.history[-1] = (self.history[-1][0], "Approved")
        self.stages.pop(0)
        return self.run()

    def _stage(self, stage: dict) -> str:
        for action in stage["Actions"]:
            kind = action["ActionTypeId"]
            if kind["Category"] == "Source":
                self.source = checkout(self.origin, action["Configuration"]["BranchName"], self.work / "source",
                                       depth=None)  # CODEBUILD_CLONE_REF: a full clone
                self.commit = git("rev-parse", "HEAD", cwd=self.source)
            elif kind["Category"] == "Approval":
                return "InProgress"
            elif kind["Provider"] == "CodeBuild":
                variables = {v["name"]: v["value"] for v in json.loads(action["Configuration"]["EnvironmentVariables"])}
                home = self.work / f"{action['Name']}-{len(self.history)}"
                env = {**self.env, **variables, "HOME": str(home), "CODEBUILD_RESOLVED_SOURCE_VERSION": self.commit,
                       "CODEBUILD_INITIATOR": f"codepipeline/{self.pipeline['Name']}"}
                home.mkdir(parents=True)
                done = run_build(self.projects[action["Configuration"]["ProjectName"]], self.source, env)
                self.outputs[action["Name"]] = done.stdout
                if done.returncode:
                    return "Failed"
        return "Succeeded"
