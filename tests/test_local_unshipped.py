"""A job that looks for a file its step's bundle leaves out: run --local says which file and the
fix, and the host's site-packages cannot hand the job the repository's copy. Real runs of the
mini fixture (its bundle is the manifest's list: a file added since is in no bundle)."""

from __future__ import annotations

import os
import site
import subprocess
import sys

from local_support import REPO, project, run


def _error(result) -> str:
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    return line


def _with_helper(tmp_path, call: str):
    repo = project(tmp_path)
    (repo / "scripts/helper.py").write_text("print('helping')\n")
    preprocess = repo / "scripts/preprocess.py"
    preprocess.write_text(f"import importlib, subprocess, sys\n{call}\n" + preprocess.read_text())
    return repo


def test_a_job_starting_a_file_no_bundle_holds_names_it_and_the_fix(tmp_path):
    repo = _with_helper(tmp_path, "subprocess.run([sys.executable, 'helper.py'], check=True)")
    line = _error(run(repo, expect=1))
    assert line.startswith("error: step Preprocess: execution failed: process exited with code 1; scripts/helper.py is "
                           "in the repository but not in this step's code bundle"), line
    assert "code_scope: source_directory" in line


def test_a_pth_file_of_the_host_does_not_hand_the_job_the_repository(tmp_path):
    """An interpreter whose site-packages holds a .pth naming the repository's scripts/: the
    computed import works in that interpreter, and fails in the job as it would in SageMaker."""
    repo = _with_helper(tmp_path, "importlib.import_module('hel' + 'per')")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    host = [*site.getsitepackages(), str(REPO)]  # this interpreter's packages, smpipe-gen's source
    (venv / purelib / "repository.pth").write_text("\n".join([*host, str(repo / "scripts")]) + "\n")
    assert subprocess.run([str(python), "-c", "import helper"], cwd=tmp_path, capture_output=True).returncode == 0
    done = subprocess.run([str(python), "-m", "smpipe_gen", "run", "--local", "-C", str(repo)], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 1, done.stderr
    assert "scripts/helper.py is in the repository but not in this step's code bundle" in _error(done)
    log = (next((repo / ".smpipe/runs").iterdir()) / "steps/Preprocess/log.txt").read_text()
    assert "ModuleNotFoundError: No module named 'helper'" in log
