"""check's fast path (smpipe_gen/fingerprint.py): "current" without a render only when nothing a
render reads changed. One render of abalone is shared; every test works on its own copy, so the
record made at one path also proves that the fingerprint does not depend on the checkout dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import copy_example, offline_env, smpipe, smpipe_in_process, write

from smpipe_gen import fingerprint
from smpipe_gen.project import Project

# One xdist worker runs the module, so its rendered repository is built once per run.
pytestmark = pytest.mark.xdist_group("check-fingerprint")

SMP_FREE: dict[str, str] = {}  # no --env overrides
PACKAGE = Path(fingerprint.__file__).resolve().parent


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("check-cache")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, cache_dir) -> Path:
    """abalone in a git repository of its own, rendered (which records the verified state)."""
    repo = copy_example("abalone", tmp_path_factory.mktemp("rendered"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "abalone")
    done = smpipe_in_process("render", "-C", str(repo), env=offline_env(SMPIPE_CACHE_DIR=str(cache_dir)))
    assert done.returncode == 0, done.stderr
    return repo


@pytest.fixture
def repo(rendered, tmp_path, cache_dir, monkeypatch) -> Path:
    monkeypatch.setenv(fingerprint.CACHE_VARIABLE, str(cache_dir))
    for name in [key for key in os.environ if key.startswith("SMP_")]:
        monkeypatch.delenv(name)
    copy = tmp_path / "copy"
    shutil.copytree(rendered, copy, symlinks=True)
    return copy


def is_verified(root: Path, overrides: dict | None = None, environment: str | None = None) -> bool:
    return fingerprint.verified(Project.at(root, environment=environment), overrides or SMP_FREE)


def test_an_unchanged_copy_is_verified_without_the_sdk(repo, cache_dir, tmp_path):
    assert is_verified(repo)
    # A SageMaker SDK that cannot even be imported: the fast path must not need it.
    broken = write(tmp_path / "poison" / "sagemaker" / "__init__.py", "raise ImportError('SDK imported')\n")
    env = offline_env(SMPIPE_CACHE_DIR=str(cache_dir),
                      PYTHONPATH=f"{broken.parent.parent}:{Path(__file__).resolve().parents[1]}")
    result = smpipe("check", "-C", str(repo), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok: rendered artifacts are current"


def test_comment_only_env_edit_keeps_the_record(repo):
    """The record holds the variables that reach the render, not the env file's bytes."""
    env_file = repo / "env.env"
    env_file.write_text(env_file.read_text() + "# a comment\n")
    assert is_verified(repo)


@pytest.mark.parametrize("edit", ["config", "env file", "code file", "added tracked file", "framework conf",
                                  "new model file", "untracked file in a source directory",
                                  "pipeline.py", "definition.json", "manifest.json", "removed local data"])
def test_a_changed_input_or_artifact_is_never_verified(repo, edit):
    conf = repo / "conf" / "conf.yaml"
    if edit == "config":
        conf.write_text(conf.read_text().replace("ml.m5.xlarge", "ml.c5.2xlarge", 1))
    elif edit == "env file":
        env_file = repo / "env.env"
        env_file.write_text(env_file.read_text().replace("us-east-1", "eu-west-1"))
    elif edit == "code file":
        (repo / "scripts" / "train.py").write_text((repo / "scripts" / "train.py").read_text() + "\n# tuned\n")
    elif edit == "added tracked file":
        write(repo / "scripts" / "helpers.py", "X = 1\n")
        git(repo, "add", "scripts/helpers.py")
    elif edit == "framework conf":
        write(repo / "framework" / "conf" / "conf.yaml", "conf:\n  s3Bucket: another-bucket\n")
    elif edit == "new model file":
        env_file = repo / "env.env"
        env_file.write_text(env_file.read_text().replace('"conf/conf.yaml"', '"conf/*.yaml"'))
        assert not is_verified(repo)  # the pattern itself is an input
        env_file.write_text(env_file.read_text().replace('"conf/*.yaml"', '"conf/conf.yaml"'))
        assert is_verified(repo)
        write(repo / "conf" / "conf.yaml", conf.read_text())  # unchanged content, same pattern
        env_file.write_text(env_file.read_text().replace('"conf/conf.yaml"', '"conf/*.yaml"'))
        write(repo / "conf" / "other.yaml", "conf:\n  models: {}\n")
    elif edit == "untracked file in a source directory":
        write(repo / "scripts" / "setup.py", "")  # validation reads it even untracked
    elif edit == "removed local data":
        local_data = json.loads((repo / "pipeline" / "manifest.json").read_text())["local_data"]
        (repo / next(iter(local_data.values()))).unlink()
    else:
        path = repo / "pipeline" / edit
        path.write_text(path.read_text().replace("ml.m5.xlarge", "ml.m5.large", 1) + " ")
    assert not is_verified(repo)


def test_overrides_and_process_variables_are_inputs(repo, monkeypatch):
    assert not is_verified(repo, {"SMP_KMSKEY": "arn:aws:kms:us-east-1:123456789012:key/k"})
    monkeypatch.setenv("SMP_SUBNETS", "subnet-1")
    assert not is_verified(repo)
    monkeypatch.delenv("SMP_SUBNETS")
    assert is_verified(repo)


def test_the_environment_is_an_input(repo):
    env_text = (repo / "env.env").read_text()
    write(repo / "environments" / "dev.env", env_text)
    write(repo / "environments" / "prod.env", env_text)
    dev, prod = (fingerprint.inputs_digest(Project.at(repo, environment=name), SMP_FREE) for name in ("dev", "prod"))
    assert dev and prod and dev != prod


def test_an_sdk_upgrade_a_new_tool_or_interpreter_is_never_verified(repo, monkeypatch, tmp_path):
    (tmp_path / "site" / "sagemaker-9.9.9.dist-info").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site"), *sys.path])
    assert not is_verified(repo)
    monkeypatch.setattr(sys, "path", sys.path[1:])
    assert is_verified(repo)

    tool = tmp_path / "tool"
    shutil.copytree(fingerprint._PACKAGE, tool, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprint, "_PACKAGE", tool)
    assert is_verified(repo)  # the same files elsewhere: the same tool
    version = tool / "_version.py"
    version.write_text(version.read_text().replace("version = '", "version = '9."))
    assert not is_verified(repo)
    shutil.copy2(PACKAGE / "_version.py", version)
    assert is_verified(repo)
    # A tool pinned at another git commit keeps its version string: its code still counts.
    (tool / "render" / "codegen.py").write_text((tool / "render" / "codegen.py").read_text() + "\n# changed\n")
    assert not is_verified(repo)
    monkeypatch.setattr(fingerprint, "_PACKAGE", PACKAGE)
    monkeypatch.setattr(sys, "version", sys.version + " (another build)")
    assert not is_verified(repo)


def test_check_still_catches_a_hand_edited_definition(repo, cache_dir):
    definition = repo / "pipeline" / "definition.json"
    definition.write_text(definition.read_text().replace("ml.m5.xlarge", "ml.m5.large", 1))
    result = smpipe_in_process("check", "-C", str(repo), env=offline_env(SMPIPE_CACHE_DIR=str(cache_dir)))
    assert result.returncode == 2, result.stdout + result.stderr
    assert '+            "InstanceType": "ml.m5.xlarge",' in result.stdout
    assert "differ from the config" in result.stderr


def test_sdk_drift_is_named_and_a_version_line_alone_is_not_drift(repo, cache_dir):
    env = offline_env(SMPIPE_CACHE_DIR=str(cache_dir))
    manifest = repo / "pipeline" / "manifest.json"
    installed = json.loads(manifest.read_text())["sagemaker_version"]
    assert installed == fingerprint.installed_sdk_version()
    manifest.write_text(manifest.read_text().replace(f'"sagemaker_version": "{installed}"',
                                                     '"sagemaker_version": "2.200.0"'))
    assert smpipe_in_process("check", "-C", str(repo), env=env).returncode == 0  # same output, older SDK: current
    definition = repo / "pipeline" / "definition.json"
    definition.write_text(definition.read_text().replace("ml.m5.xlarge", "ml.m5.large", 1))
    drift = smpipe_in_process("check", "-C", str(repo), env=env)
    assert drift.returncode == 2
    assert (f"stale: SDK drift: the committed artifacts were rendered with sagemaker 2.200.0, "
            f"this render used the installed sagemaker {installed}") in drift.stderr
    assert "pin it in requirements.txt" in drift.stderr and "differ from the config" not in drift.stderr


AUDIT = """
import json, os, sys
root = os.path.realpath(sys.argv[1])
opened = set()
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if path.startswith(root + os.sep):
            opened.add(os.path.relpath(path, root))
sys.addaudithook(hook)
from smpipe_gen.render.engine import render_project
render_project(root)
print(json.dumps(sorted(opened)))
"""


def test_every_file_a_render_opens_is_in_the_fingerprint(repo):
    """The safety net under the list above: audit every file the real render opens in the
    repository, and require each to be one the fingerprint reads (or an env file: the
    fingerprint holds the variables they define)."""
    done = subprocess.run([sys.executable, "-c", AUDIT, str(repo)], capture_output=True, text=True,
                          env=offline_env(), timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    read = {name for name in json.loads(done.stdout) if not name.startswith(".git/")}  # git's own state
    project = Project.at(repo)
    variables = {"SMP_MODEL_CONFIGPATH": "conf/conf.yaml"}
    covered = {path.relative_to(repo).as_posix() for path in
               fingerprint._config_files(repo, variables) + fingerprint.code_files(project, ("scripts",))}
    covered.add("env.env")
    assert {"conf/conf.yaml", "scripts/train.py"} <= read <= covered


def test_a_script_edited_while_the_render_ran_is_not_recorded(repo):
    """render packs the scripts and then records the state: a script saved in between must not
    be recorded as rendered (the manifest's digests of the packed files say what was packed)."""
    project = Project.at(repo)
    inputs = fingerprint.inputs_digest(project, SMP_FREE)
    train = repo / "scripts" / "train.py"
    train.write_text(train.read_text() + "\n# saved during the render\n")
    fingerprint.remember(project, SMP_FREE, inputs, ("scripts",))
    assert not is_verified(repo)


def test_records_unused_for_months_are_pruned_and_used_ones_kept(repo, tmp_path, monkeypatch):
    monkeypatch.setenv(fingerprint.CACHE_VARIABLE, str(tmp_path / "cache"))
    project = Project.at(repo)
    inputs = fingerprint.inputs_digest(project, SMP_FREE)
    fingerprint.remember(project, SMP_FREE, inputs, ("scripts",))
    record = tmp_path / "cache" / f"{inputs}.json"
    stale = write(tmp_path / "cache" / f"{'0' * 64}.json", "{}")
    months_ago = time.time() - 100 * 24 * 3600
    for path in (record, stale):
        os.utime(path, (months_ago, months_ago))
    assert is_verified(repo)  # found: in use again, so kept
    fingerprint._prune(tmp_path / "cache")  # what every remember() does after writing
    assert record.is_file() and not stale.exists()
