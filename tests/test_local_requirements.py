"""requirements.txt in local runs, where the containers install it (the processing bootstrap,
the training toolkit, the inference toolkit's SAGEMAKER_REQUIREMENTS), with real pip and no
network: a file the host satisfies installs nothing; anything else goes into one overlay
environment per file that never touches the interpreter running smpipe-gen."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import threading
import types
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from local_support import last_record, project, run
from smpipe_gen.local import bootstrap, requirements

HOST_PACKAGING = importlib.metadata.version("packaging")


def wheel(folder: Path, name: str, version: str, files: dict[str, str], scripts: dict[str, str] | None = None) -> Path:
    """A pure-Python wheel: a zip of the files plus METADATA, WHEEL, RECORD (and console scripts)."""
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    members = {**files, f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
               f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    if scripts:
        members[f"{dist}/entry_points.txt"] = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())

    def hashed(text: str) -> str:
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        return f"sha256={digest},{len(text.encode())}"
    record = "".join(f"{path},{hashed(text)}\n" for path, text in members.items()) + f"{dist}/RECORD,,\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in {**members, f"{dist}/RECORD": record}.items():
            archive.writestr(member, text)
    return path


def probe_wheels(folder: Path) -> None:
    """smpipe-probe 1.0 (a module and a command) and packaging 1.0, a version the host does not have."""
    wheel(folder, "smpipe-probe", "1.0", {"smpipe_probe/__init__.py": "VALUE = 'probe 1.0'\ndef main():\n    print('probe command')\n"},
          scripts={"smpipe-probe": "smpipe_probe:main"})
    wheel(folder, "packaging", "1.0", {"packaging/__init__.py": "__version__ = '1.0'\n"})


PROBE = """
import packaging, subprocess
print("job sees packaging", packaging.__version__)
"""
PROBE_INSTALLED = PROBE + """
import smpipe_probe
print("job sees", smpipe_probe.VALUE)
subprocess.run(["smpipe-probe"], check=True)
"""


def with_requirements(repo: Path, text: str, probe: str = PROBE) -> Path:
    """The mini fixture with scripts/requirements.txt (and scripts/wheels/) in every code bundle,
    its preprocess, train and inference scripts printing what they import."""
    scripts = repo / "scripts"
    (scripts / "requirements.txt").write_text(text)
    probe_wheels(scripts / "wheels")
    for script in ("preprocess.py", "train.py", "inference.py"):
        (scripts / script).write_text(probe + (scripts / script).read_text())
    manifest_path = repo / "pipeline" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    added = [{"arcname": p.relative_to(scripts).as_posix(), "path": p.relative_to(repo).as_posix(),
              "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
             for p in [scripts / "requirements.txt", *sorted((scripts / "wheels").iterdir())]]
    for artifact in manifest["artifacts"]:
        if artifact["kind"] == "sourcedir":
            for item in artifact["files"]:  # the probing scripts are what the render recorded
                item["sha256"] = hashlib.sha256((repo / item["path"]).read_bytes()).hexdigest()
            artifact["files"] += added
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return repo


def step_logs(repo: Path) -> dict[str, str]:
    record = last_record(repo)
    return {name: Path(step["log"]).read_text() for name, step in record["steps"].items() if step["log"]}


INSTALLING = "requirements.txt: installing what the interpreter running smpipe-gen lacks"


def test_a_file_the_host_satisfies_installs_nothing_and_the_bootstrap_skips_pip(tmp_path):
    repo = with_requirements(project(tmp_path), f"# what the jobs import\npackaging>={HOST_PACKAGING}\nnumpy ; python_version >= '3'\n"
                                                "no-such-package==1.0 ; sys_platform == 'no-such-platform'\n")
    run(repo)
    logs = step_logs(repo)
    for step in ("Preprocess", "Train", "Evaluate"):
        assert "requirements.txt: the interpreter running smpipe-gen has every package it names; nothing to install" in logs[step]
    assert "code/requirements.txt: the interpreter running smpipe-gen has every package" in logs["Transform"]
    assert f"job sees packaging {HOST_PACKAGING}" in logs["Preprocess"] and f"job sees packaging {HOST_PACKAGING}" in logs["Train"]
    # the bootstrap's requirements block (its echo, pip uninstall typing, pip install) did not run
    assert "Skipping login" not in logs["Preprocess"] and "Requirement already satisfied" not in logs["Preprocess"]
    assert not (repo / ".smpipe" / "envs").exists()


@pytest.mark.xdist_group("requirements-install")
def test_missing_and_conflicting_packages_go_to_one_overlay_reused_by_every_job_and_run(tmp_path):
    """Processing, training and transform each import the probe and see packaging 1.0 from the
    overlay, while the interpreter running smpipe-gen keeps its packaging; pip runs once."""
    host_files = sorted(p.name for p in Path(importlib.metadata.distribution("packaging").locate_file("")).iterdir())
    repo = with_requirements(project(tmp_path), "--no-index\n--find-links wheels\nsmpipe-probe==1.0\npackaging==1.0\n",
                             PROBE_INSTALLED)
    run(repo)
    logs = step_logs(repo)
    for step in ("Preprocess", "Train", "Transform"):
        assert "job sees packaging 1.0" in logs[step] and "job sees probe 1.0" in logs[step] and "probe command" in logs[step]
    installing = [step for step, log in logs.items() if INSTALLING in log]
    assert installing == ["Preprocess"], installing
    assert "outside environment" in logs["Preprocess"]  # pip left the host's packaging alone
    assert "requirements.txt: installed packaging 1.0, smpipe-probe 1.0;" in logs["Preprocess"]
    assert "reusing .smpipe/envs/" in logs["Train"] and "reusing .smpipe/envs/" in logs["Evaluate"]
    assert "code/requirements.txt: reusing .smpipe/envs/" in logs["Transform"]
    assert importlib.metadata.version("packaging") == HOST_PACKAGING
    assert sorted(p.name for p in Path(importlib.metadata.distribution("packaging").locate_file("")).iterdir()) == host_files

    run(repo, "--no-cache")
    logs = step_logs(repo)
    assert not [step for step, log in logs.items() if INSTALLING in log]
    assert "job sees probe 1.0" in logs["Train"]


def test_an_unsatisfiable_requirement_fails_the_step_in_one_line(tmp_path):
    repo = with_requirements(project(tmp_path), "--no-index\n--find-links wheels\nno-such-package==1.0\n")
    result = run(repo, expect=1)
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1, result.stderr
    assert "step Preprocess: installing requirements.txt failed (exit 1): ERROR: No matching distribution found for " \
           "no-such-package==1.0" in error[0]
    assert "Traceback" not in result.stderr + result.stdout
    log = step_logs(repo)["Preprocess"]
    assert "ERROR: Could not find a version that satisfies the requirement no-such-package==1.0" in log
    assert log.rstrip().splitlines()[-1].startswith("[smpipe-gen] step failed: step Preprocess: installing requirements.txt")


def _context(run_root: Path, log_path: Path) -> types.SimpleNamespace:
    """What requirements.prepare uses of a JobContext."""
    log = open(log_path, "wb")
    return types.SimpleNamespace(run_root=run_root, name=log_path.stem, pass_aws=False, log=log,
                                 say=lambda text: (log.write(f"[smpipe-gen] {text}\n".encode()), log.flush()))


@pytest.mark.xdist_group("requirements-install")
def test_parallel_steps_install_once_and_an_interrupted_install_is_redone(tmp_path):
    code = tmp_path / "code"
    probe_wheels(code / "wheels")
    (code / "requirements.txt").write_text("--no-index\n--find-links wheels\nsmpipe-probe==1.0\n")
    contexts = [_context(tmp_path / "root", tmp_path / f"step{i}.log") for i in range(2)]
    overlays = [None, None]

    def step(i: int) -> None:
        overlays[i] = requirements.prepare(contexts[i], code / "requirements.txt", "requirements.txt")
    threads = [threading.Thread(target=step, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logs = [c.log.name for c in contexts]
    texts = [Path(name).read_text() for name in logs]
    assert overlays[0] == overlays[1] is not None
    assert sum(INSTALLING in text for text in texts) == 1 and sum("reusing" in text for text in texts) == 1

    (overlays[0].root / requirements.READY).unlink()  # as a crash during pip leaves it
    again = _context(tmp_path / "root", tmp_path / "again.log")
    assert requirements.prepare(again, code / "requirements.txt", "requirements.txt") == overlays[0]
    assert INSTALLING in Path(again.log.name).read_text() and (overlays[0].site / "smpipe_probe").is_dir()


def test_plain_requirements_and_what_the_host_lacks():
    host = requirements.host_paths()
    assert requirements.plain_requirements("# comment only\n\n") == []
    assert requirements.plain_requirements("--find-links wheels\nx\n") is None
    assert requirements.plain_requirements("./x.whl\n") is None
    assert requirements.plain_requirements("x @ https://example.com/x.whl\n") is None
    found = requirements.plain_requirements("pack\\\naging>=1  # joined\n")
    assert [str(r) for r in found] == ["packaging>=1"]
    assert requirements.missing(found, host) == []
    assert requirements.missing([Requirement("packaging==1.0")], host) == ["packaging==1.0"]
    assert requirements.missing([Requirement("no-such-package; python_version < '3'")], host) == []
    # dependencies count, extras included: pip would install a missing one
    assert requirements.missing([Requirement("smpipe-gen")], host) == []
    assert requirements.missing([Requirement("no-such-package")], host) == ["no-such-package"]


RUNPROC = """#!/bin/bash

cd /opt/ml/processing/input/code/
tar -xzf sourcedir.tar.gz

set -e

if [[ -f 'requirements.txt' ]]; then
    if ! hash aws 2>/dev/null; then
        echo "AWS CLI is not installed. Skipping CodeArtifact login."
    else
        echo 'CodeArtifact repository not specified. Skipping login.'
    fi

    pip uninstall --yes typing

    python -m pip install -r requirements.txt
fi

python preprocess.py "$@"
"""


def test_bootstrap_leaves_out_only_what_the_runner_did():
    code = "/opt/ml/processing/input/code"
    assert bootstrap.requirements_dir(RUNPROC) == code
    assert bootstrap.rewrite(RUNPROC, bootstrap.Prepared()) == RUNPROC
    both = bootstrap.rewrite(RUNPROC, bootstrap.Prepared(unpacked={code: "sourcedir.tar.gz"}, installed={code}))
    assert "tar -xzf" not in both and "pip install" not in both and "pip uninstall" not in both and "if [[" not in both
    assert "# requirements.txt is satisfied before the job starts" in both and both.endswith('python preprocess.py "$@"\n')
    only_unpacked = bootstrap.rewrite(RUNPROC, bootstrap.Prepared(unpacked={code: "sourcedir.tar.gz"}))
    assert "tar -xzf" not in only_unpacked and "python -m pip install -r requirements.txt" in only_unpacked
