"""The copier template: real `copier copy` for every framework and problem type, then the generated
repository validates, renders, checks clean, passes its own tests and runs locally; `copier update`
merges template changes without losing the user's edits; bad answers are refused.

Copies come from this working tree (`vcs_ref="HEAD"` on a dirty repo makes copier copy the working
tree, uncommitted template changes included). The expensive per-variant work starts once per session
in a small thread pool of subprocesses and each test reads its variant's result.
"""

import json
import fcntl
import os
import pty
import struct
import termios
import re
import select
import shutil
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import copier
import pytest
import yaml

from helpers import smpipe_in_process

pytestmark = pytest.mark.filterwarnings("ignore::copier.errors.DirtyLocalWarning")
# The tests that read the session's generated repositories run in one xdist worker (pyproject sets
# --dist loadgroup; the biggest group starts first), so the variants are generated once per run,
# not once in every worker.
GENERATED = pytest.mark.xdist_group("template-generated")

SRC = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
       "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "COLUMNS": "200"}
COPIER = [sys.executable, "-m", "copier"]
SMPIPE = [sys.executable, "-m", "smpipe_gen"]

VARIANTS = {
    f"{framework}-{problem}": {"framework": framework, "problem_type": problem}
    for framework in ("sklearn", "xgboost", "lightgbm")
    for problem in ("regression", "binary_classification")
}
# Multi-model layout, tuning instead of training, no condition and no transform, another region.
VARIANTS["xgboost-regression-multi-tuned"] = {
    "framework": "xgboost", "problem_type": "regression", "layout": "multi", "model_name": "house-prices",
    "use_tuning": True, "use_condition": False, "use_transform": False, "aws_region": "eu-west-1"}
# The fast run (-m "not slow") generates and checks the first variant end to end; the matrix is slow.
FIRST = next(iter(VARIANTS))
VARIANT_PARAMS = [pytest.param(vid, marks=() if vid == FIRST else pytest.mark.slow) for vid in VARIANTS]


def sh(argv: list[str], cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout, check=False)


def copy_args(data: dict) -> list[str]:
    args = []
    for key, value in data.items():
        args += ["--data", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
    return args


def has_run_command() -> bool:
    """`smpipe-gen run` is built by another engineer; the local-run test skips only while it is absent."""
    return re.search(r"^\W*run\s", sh(SMPIPE + ["--help"]).stdout, re.MULTILINE) is not None


@dataclass
class Generated:
    repo: Path
    data: dict
    steps: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)

    def require(self, step: str) -> subprocess.CompletedProcess:
        """The step's result; fails with the first failing step's output if the chain stopped earlier."""
        for name, result in self.steps.items():
            if result.returncode != 0 and name != step:
                pytest.fail(f"{name} failed first (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
            if name == step:
                return result
        pytest.fail(f"step {step} did not run")


def generate(dst: Path, data: dict, run_local: bool) -> Generated:
    """copier copy, then the loop a user follows: validate, render, check, pytest, run --local,
    every command a process of its own, as a user types them. (Variants are generated in
    background threads: an in-process render changes the process's working directory, which
    the other threads and the tests share.)"""
    gen = Generated(dst, data)
    chain = [("copy", COPIER + ["copy", "--defaults", "--trust", "--quiet", "--vcs-ref", "HEAD",
                                *copy_args(data), str(SRC), str(dst)], None)]
    chain += [(command, SMPIPE + [command], dst) for command in ("validate", "render", "check")]
    chain.append(("pytest", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], dst))
    if run_local:
        chain.append(("run", SMPIPE + ["run", "--local"], dst))
    for name, argv, cwd in chain:
        gen.steps[name] = result = sh(argv, cwd)
        if result.returncode != 0:
            break
    return gen


@pytest.fixture(scope="session")
def run_available() -> bool:
    return has_run_command()


@pytest.fixture(scope="session")
def generated(request, tmp_path_factory, run_available) -> dict[str, Future]:
    """The variants the selected tests read (tests without a variant read the first), generated in
    the background as soon as the first of those tests starts."""
    readers = [item for item in request.session.items
               if item.path == Path(__file__) and "generated" in item.fixturenames]
    needed = {item.callspec.params.get("variant", FIRST) if hasattr(item, "callspec") else FIRST
              for item in readers}
    root = tmp_path_factory.mktemp("generated")
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {vid: pool.submit(generate, root / vid, data, run_available)
                   for vid, data in VARIANTS.items() if vid in needed}
        yield futures


@GENERATED
@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_copy_validates_renders_and_checks_clean(generated, variant):
    gen = generated[variant].result()
    assert "ok: pipeline" in gen.require("validate").stdout
    gen.require("render")
    assert "ok: rendered artifacts are current" in gen.require("check").stdout
    for name in ("pipeline.py", "definition.json", "manifest.json"):
        assert (gen.repo / "pipeline" / name).stat().st_size > 0


@GENERATED
@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_generated_repo_tests_pass(generated, variant):
    result = generated[variant].result().require("pytest")
    assert re.search(r"\b1 passed\b", result.stdout), result.stdout


@GENERATED
@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_run_local_succeeds(generated, variant, run_available):
    if not run_available:
        pytest.skip("`smpipe-gen run` is not in this checkout yet (local runner not landed)")
    gen = generated[variant].result()
    result = gen.require("run")
    assert "Succeeded" in result.stdout + result.stderr, result.stdout + result.stderr
    records = sorted((gen.repo / ".smpipe" / "runs").glob("*/run.json"))
    assert len(records) == 1, records
    record = json.loads(records[0].read_text())
    assert record["status"] == "Succeeded", record
    # The sample data passes the default quality gate, so the model reaches the registry.
    assert [v["status"] for k, v in record["steps"].items() if "Register" in k] == ["done"], record["steps"]


@GENERATED
@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_layout_answers_and_no_credentials(generated, variant):
    gen = generated[variant].result()
    gen.require("copy")
    data = gen.data
    multi = data.get("layout") == "multi"
    model_root = gen.repo / data["model_name"] if multi else gen.repo
    conf = yaml.safe_load((model_root / "conf" / "conf.yaml").read_text())["conf"]
    name = data.get("model_name", "my-model")
    assert conf["sagemakerPipeline"]["pipelineName"] == name
    assert [s["step_class"] for s in conf["sagemakerPipeline"]["models"][name]["steps"]][1] == (
        "Tuning" if data.get("use_tuning") else "Training")
    env = (gen.repo / "env.env").read_text()
    assert f'SMP_MODEL_CONFIGPATH="{"*/conf/conf.yaml" if multi else "conf/conf.yaml"}"' in env
    answers = yaml.safe_load((gen.repo / ".copier-answers.yml").read_text())
    assert {k: answers[k] for k in data} == data
    assert "model_dir" not in answers and "ecr_account" not in answers
    assert not (gen.repo / ".migrations").exists()
    for path in gen.repo.rglob("*"):
        if path.is_file() and ".smpipe" not in path.parts and path.suffix != ".csv":
            text = path.read_text(errors="replace")
            assert not re.search(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b|aws_secret_access_key", text, re.I), path


def smpipe_commands(text: str) -> list[tuple[str, list[str]]]:
    """(subcommand, options) of every `smpipe-gen ...` command (a line's first word) in a shell snippet."""
    return [(m.group(1), re.findall(r"(?<!\S)(--[a-z][a-z-]*)", m.group(2)))
            for m in re.finditer(r"(?m)^\s*smpipe-gen\s+([a-z][a-z-]*)([^\n;|&>]*)", text)]


def inline_buildspecs(repo: Path) -> dict[str, dict]:
    """Each CodeBuild project's buildspec, inline in ci/codebuild.yaml, by project."""
    from ci_support import Stack

    projects = Stack(repo / "ci" / "codebuild.yaml", CI_PARAMETERS).resources("AWS::CodeBuild::Project")
    return {name: project for name, project in projects.items()}


CI_PARAMETERS = {"GitHubRepository": "acme/my-model", "ConnectionArn": "arn:aws:codeconnections:us-east-1:1:connection/x",
                 "DevDeployRoleArn": "arn:aws:iam::111111111111:role/d", "ProdDeployRoleArn": "arn:aws:iam::2:role/d"}


@GENERATED
def test_buildspec_and_hooks_use_existing_commands(generated):
    gen = generated[FIRST].result()
    gen.require("copy")
    buildspecs = [yaml.safe_load(p["Source"]["BuildSpec"]) for p in inline_buildspecs(gen.repo).values()]
    assert len(buildspecs) == 3 and all(spec["version"] == 0.2 for spec in buildspecs)
    commands = "\n".join(cmd for spec in buildspecs for phase in spec["phases"].values() for cmd in phase["commands"])
    hooks = yaml.safe_load((gen.repo / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    ours = yaml.safe_load((SRC / ".pre-commit-hooks.yaml").read_text())
    assert ours[0]["id"] == "smpipe-gen-check" and ours[0]["pass_filenames"] is False
    used = smpipe_commands(commands) + smpipe_commands(hooks[0]["entry"]) + smpipe_commands(ours[0]["entry"])
    subcommands = {sub for sub, _ in used}
    assert {"check", "plan", "apply"} <= subcommands, subcommands
    for option in ("--comment", "--note", "--assume-role", "--start", "--wait", "--skip-check"):
        assert option in commands, option
    for sub in sorted(subcommands):
        result = smpipe_in_process(sub, "--help", env=ENV)
        assert result.returncode == 0, f"smpipe-gen {sub} does not exist: {result.stderr}"
        for option in {o for s, opts in used if s == sub for o in opts} | ({"--comment", "--note"} if sub == "plan" else
                                                                          {"--assume-role", "--wait"} if sub == "apply"
                                                                          else set()):
            assert option in result.stdout, f"smpipe-gen {sub} has no option {option}"


def recorders(tmp_path: Path, plan_exit: int = 0, check_exit: int = 0) -> tuple[Path, Path]:
    """smpipe-gen replaced by a script that records its arguments and exits as told."""
    log, bin_dir = tmp_path / "calls.log", tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "smpipe-gen"
    stub.write_text(f'#!/bin/sh\necho "smpipe-gen $*" >> "{log}"\n'
                    f'[ "$1" = plan ] && exit {plan_exit}\n[ "$1" = check ] && exit {check_exit}\nexit 0\n')
    stub.chmod(0o755)
    return log, bin_dir


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def run_phase(project: dict, phase: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """One phase of the project's inline buildspec, as CodeBuild runs it (tests/ci_support.py)."""
    from ci_support import run_build

    return run_build(project, cwd, {**ENV, **env}, phases=(phase,))


PIN = "smpipe-gen @ git+https://github.com/acme/smpipe-gen.git@abc\n"


@GENERATED
@pytest.mark.parametrize(("tests", "token", "plan_exit", "check_exit", "build_exit", "notes"), [
    ("SUCCEEDED", "ghp-x", 2, 0, 0, []),  # changes: a report, not a failure
    ("SUCCEEDED", "", 0, 0, 0, []),  # no token: the plan goes to the log only
    ("FAILED", "ghp-x", 0, 0, 1, ["**Tests FAILED**"]),
    ("SUCCEEDED", "ghp-x", 0, 2, 1, ["**Stale render**"]),
    ("TIMED_OUT", "ghp-x", 0, 1, 1, ["**Tests TIMED_OUT**", "**smpipe-gen check failed**"]),
    ("SUCCEEDED", "ghp-x", 1, 0, 1, []),  # plan itself failed (it comments why)
])
def test_plan_build_comments_why_it_is_red_and_never_applies(generated, tmp_path, tests, token, plan_exit, check_exit,
                                                             build_exit, notes):
    gen = generated[FIRST].result()
    gen.require("copy")
    project = inline_buildspecs(gen.repo)["PullRequestPlanProject"]
    (tmp_path / "requirements.txt").write_text(PIN)
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "base-tool.txt").write_text(PIN)
    log, bin_dir = recorders(tmp_path, plan_exit, check_exit)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path / "home"), "SMPIPE_TESTS_STATUS": tests,
           "GITHUB_TOKEN": token}
    result = run_phase(project, "build", tmp_path, env)
    assert result.returncode == build_exit, result.stdout
    plan, = [c for c in calls(log) if c.startswith("smpipe-gen plan")]
    assert calls(log)[0] == "smpipe-gen check --full"
    assert plan.startswith("smpipe-gen plan --format markdown") and ("--comment" in plan) == bool(token)
    assert [n for n in notes if n in plan] == notes and plan.count("--note") == len(notes)
    assert not any("apply" in c for c in calls(log))


@GENERATED
@pytest.mark.parametrize(("initiator", "variables", "expected"), [
    ("codepipeline/my-model-promotion", {"SMPIPE_ENVIRONMENT": "prod", "SMPIPE_DEPLOY_ROLE": "arn:aws:iam::2:role/d"},
     ["smpipe-gen check --full --environment prod",
      "smpipe-gen apply --yes --skip-check --environment prod --assume-role arn:aws:iam::2:role/d"]),
    ("codepipeline/my-model-promotion", {"SMPIPE_ENVIRONMENT": "dev", "SMPIPE_START": "true", "SMPIPE_WAIT": "true"},
     ["smpipe-gen check --full --environment dev", "smpipe-gen apply --yes --skip-check --environment dev --start --wait"]),
    ("", {}, None),  # a start without an initiator
    ("alice", {"SMPIPE_ENVIRONMENT": "prod"}, None),  # started by hand
    ("codepipeline/another-pipeline", {"SMPIPE_ENVIRONMENT": "prod"}, None),
])
def test_deploy_build_applies_only_as_a_stage_of_the_promotion_pipeline(generated, tmp_path, initiator, variables,
                                                                        expected):
    gen = generated[FIRST].result()
    gen.require("copy")
    project = inline_buildspecs(gen.repo)["DeployProject"]
    log, bin_dir = recorders(tmp_path)
    env = {**variables, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CODEBUILD_INITIATOR": initiator}
    from ci_support import run_build

    result = run_build(project, tmp_path, {**ENV, **env}, phases=("pre_build", "build"))
    if expected is None:
        assert result.returncode != 0 and "refusing to deploy" in result.stdout, result.stdout
        assert calls(log) == []
    else:
        assert result.returncode == 0, result.stdout
        assert calls(log) == expected


@pytest.mark.parametrize(("data", "message"), [
    ({"model_name": "1-model"}, "model_name must start with a letter"),
    ({"model_name": "my_model"}, "use only letters, digits and hyphens"),
    ({"model_name": "m" * 64}, "at most 63 characters"),
    ({"metric_threshold": "abc"}, "metric_threshold must be a non-negative number"),
    ({"problem_type": "binary_classification", "metric_threshold": "1.5"}, "give a number between 0 and 1"),
])
def test_bad_answers_are_refused(tmp_path, data, message):
    dst = tmp_path / "model"
    with pytest.raises(ValueError, match=message):
        copier.run_copy(str(SRC), dst, data=data, defaults=True, unsafe=True, vcs_ref="HEAD", quiet=True)
    assert not (dst / "conf").exists()


def test_bad_answer_cli_exit_status(tmp_path):
    result = sh(COPIER + ["copy", "--defaults", "--vcs-ref", "HEAD", "--data", "model_name=no spaces",
                          str(SRC), str(tmp_path / "model")])
    assert result.returncode != 0
    assert "Validation error for question 'model_name'" in result.stderr


class Terminal:
    """copier's interactive prompt on a pseudo-terminal: what a user sees when typing answers."""

    def __init__(self, argv: list[str]):
        self.fd, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))  # room for whole messages
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                                     env={**ENV, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"})
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 30) -> None:
        raw, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    raw += os.read(self.fd, 65536)
                except OSError:  # the program exited
                    break
            self.seen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|[\r\n]", "", raw.decode(errors="replace"))
            if text in self.seen:
                return
        pytest.fail(f"prompt never showed {text!r}; screen:\n{self.seen[-1500:]}")

    def answer(self, text: str) -> None:
        os.write(self.fd, b"\x15" + text.encode() + b"\r")  # Ctrl-U clears the default first

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self.fd)


def test_prompt_refuses_bad_answers_with_clear_message(tmp_path):
    term = Terminal(COPIER + ["copy", "--vcs-ref", "HEAD", str(SRC), str(tmp_path / "model")])
    try:
        term.expect("Model name (SageMaker naming")
        term.answer("1bad")
        term.expect("model_name must start with a letter, use only letters, digits and hyphens")
        term.answer("good-name")
        for prompt in ("What the model predicts", "Training framework", "Tune hyperparameters",
                       "Register the model only if"):
            term.expect(prompt)
            term.answer("")
        term.expect("Highest test MSE to accept")
        term.answer("abc")
        term.expect("metric_threshold must be a non-negative number such as 0.8 (got 'abc')")
    finally:
        term.close()
    assert not (tmp_path / "model" / "conf").exists()


def test_rename_key_migration_keeps_comments_and_is_idempotent(tmp_path):
    script = SRC / "templates" / ".migrations" / "rename_key.py"
    conf = tmp_path / "conf.yaml"
    conf.write_text("conf:\n  # the pipeline\n  old_name: {a: 1}  # note\n  other: 2\n")
    first = sh([sys.executable, str(script), str(conf), "conf.old_name", "new_name"])
    assert first.returncode == 0, first.stderr
    assert conf.read_text() == "conf:\n  # the pipeline\n  new_name: {a: 1}  # note\n  other: 2\n"
    again = sh([sys.executable, str(script), str(conf), "conf.old_name", "new_name"])
    assert again.returncode == 0 and "nothing to rename" in again.stdout
    clash = sh([sys.executable, str(script), str(conf), "conf.new_name", "other"])
    assert clash.returncode != 0 and "conf.other already exists" in clash.stderr


def git(cwd: Path, *args: str) -> str:
    result = sh(["git", *args], cwd)
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def template_repo(tmp_path: Path) -> Path:
    """A git repository of this template (copier.yml + templates/), committed and tagged v1.0.0,
    so copier can update from it to a later tag."""
    template = tmp_path / "template"
    template.mkdir()
    shutil.copy(SRC / "copier.yml", template)
    shutil.copytree(SRC / "templates", template / "templates", ignore=shutil.ignore_patterns("__pycache__"))
    git(template, "init", "-q", "-b", "main")
    git(template, "add", ".")
    git(template, "commit", "-q", "-m", "v1")
    git(template, "tag", "v1.0.0")
    return template


def test_update_merges_template_changes_and_keeps_user_edits(tmp_path):
    template = template_repo(tmp_path)

    model = tmp_path / "model"
    # Copied from a relative path, as `copier copy ../template model` would be.
    copied = sh(COPIER + ["copy", "--defaults", "--quiet", "template", "model"], cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert smpipe_in_process("render", cwd=model, env=ENV).returncode == 0
    git(model, "init", "-q", "-b", "main")
    git(model, "add", ".")
    git(model, "commit", "-q", "-m", "from template v1")
    # The user's edits: a user-owned script and conf, a script renamed (inference.py is gone), and
    # a section of their own in the template-owned README.
    edit(model / "scripts" / "train.py", "default=100", "default=250")
    edit(model / "conf" / "conf.yaml", "n_estimators: 100", "n_estimators: 120")
    git(model, "mv", "scripts/inference.py", "scripts/serve.py")
    conf = model / "conf" / "conf.yaml"
    conf.write_text(conf.read_text().replace("entry_point: inference.py", "entry_point: serve.py"))
    with (model / "README.md").open("a") as readme:
        readme.write("\n## Team notes\nRetrain monthly.\n")
    assert smpipe_in_process("render", cwd=model, env=ENV).returncode == 0
    git(model, "commit", "-q", "-am", "user edits")

    # Template v2: a CI change, a README change, a script change (user-owned: must not clobber the
    # user's file), and a renamed conf key that the migration renames in the user's conf.yaml.
    tpl = template / "templates"
    edit(tpl / "ci" / "codebuild.yaml.jinja", "                - pip install -r requirements.txt\n",
         "                - pip install -r requirements.txt\n                - pip check\n")
    edit(tpl / "README.md.jinja", "## The loop\n", "## The loop\nTemplate v2 adds dependency checks to CI.\n\n")
    edit(tpl / "{{ model_dir }}" / "scripts" / "train.py.jinja", '"--max_depth", type=int, default=3',
         '"--max_depth", type=int, default=4')
    with (tpl / "{{ model_dir }}" / "scripts" / "inference.py.jinja").open("a") as inference:
        inference.write("# template v2\n")
    edit(tpl / "{{ model_dir }}" / "conf" / "conf.yaml.jinja", "      model: {{ model_name }}",
         "      model-name: {{ model_name }}")
    edit(template / "copier.yml", "_migrations: []", """_migrations:
  - version: v2.0.0
    command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/templates/.migrations/rename_key.py",
              "{{ model_prefix }}conf/conf.yaml", "conf.sagemakerPipeline.tags.model", "model-name"]""")
    git(template, "commit", "-q", "-am", "v2")
    git(template, "tag", "v2.0.0")

    git(model, "checkout", "-q", "-b", "template-v2")
    updated = sh(COPIER + ["update", "--defaults", "--trust", "--quiet"], model)
    assert updated.returncode == 0, updated.stderr
    assert not (model / "scripts" / "inference.py").exists(), "a deleted user file came back"

    train = (model / "scripts" / "train.py").read_text()
    assert "default=250" in train and '"--max_depth", type=int, default=3' in train
    conf = (model / "conf" / "conf.yaml").read_text()
    assert "n_estimators: 120" in conf
    assert yaml.safe_load(conf)["conf"]["sagemakerPipeline"]["tags"] == {"model-name": "my-model"}
    assert "                - pip check\n" in (model / "ci" / "codebuild.yaml").read_text()
    readme = (model / "README.md").read_text()
    assert "Template v2 adds dependency checks to CI." in readme and "## Team notes\nRetrain monthly." in readme
    assert yaml.safe_load((model / ".copier-answers.yml").read_text())["_commit"] == "v2.0.0"
    leftovers = [p for p in model.rglob("*") if p.suffix in (".rej", ".orig")]
    conflicted = [p for p in model.rglob("*") if ".git" not in p.parts and p.is_file()
                  and re.search(r"^(<<<<<<<|>>>>>>>) ", p.read_text(errors="replace"), re.MULTILINE)]
    assert not leftovers and not conflicted, (leftovers, conflicted)
    validated = smpipe_in_process("validate", cwd=model, env=ENV)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    # The update is a reviewed change: stale until re-rendered, then the plan shows its effect.
    assert smpipe_in_process("check", cwd=model, env=ENV).returncode == 2
    assert smpipe_in_process("render", cwd=model, env=ENV).returncode == 0
    git(model, "add", ".")
    git(model, "commit", "-q", "-m", "template v2")
    plan = smpipe_in_process("plan", cwd=model, env=ENV)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert re.search(r"~ tags: .*\bmodel\b.* -> .*model-name", plan.stdout), plan.stdout


def test_update_conflicts_stop_the_pr_build(tmp_path):
    """A conflict `copier update` leaves in a template-owned file fails the PR build's first command."""
    template = template_repo(tmp_path)
    model = tmp_path / "model"
    assert sh(COPIER + ["copy", "--defaults", "--quiet", str(template), str(model)]).returncode == 0
    git(model, "init", "-q", "-b", "main")
    git(model, "add", ".")
    git(model, "commit", "-q", "-m", "v1")
    edit(model / "README.md", "## The loop\n", "## The loop (ours)\n")
    git(model, "commit", "-q", "-am", "user")
    edit(template / "templates" / "README.md.jinja", "## The loop\n", "## The loop (theirs)\n")
    git(template, "commit", "-q", "-am", "v2")
    git(template, "tag", "v2.0.0")
    assert sh(COPIER + ["update", "--defaults", "--trust", "--quiet"], model).returncode == 0
    assert "<<<<<<< " in (model / "README.md").read_text()
    git(model, "add", ".")
    log, bin_dir = recorders(tmp_path)
    (tmp_path / "home").mkdir()
    result = run_phase(inline_buildspecs(model)["PullRequestPlanProject"], "build", model, {
        "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path / "home"), "SMPIPE_TESTS_STATUS": "SUCCEEDED"})
    assert result.returncode != 0 and "note: **Unresolved conflict markers** in README.md." in result.stdout
