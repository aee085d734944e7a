"""Helpers for the local runner tests: copy a rendered fixture project, run it (helpers.smpipe)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from helpers import smpipe

FIXTURES = Path(__file__).parent / "local_fixtures"
REPO = Path(__file__).resolve().parents[1]


def project(tmp_path: Path, name: str = "mini") -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target, ignore=shutil.ignore_patterns(".smpipe", "__pycache__", "build.py"))
    return target


def run(project_dir: Path, *args: str, expect: int = 0, out: str = "pipeline") -> subprocess.CompletedProcess:
    """``smpipe-gen run --local`` of a rendered project as a real process, its exit status asserted."""
    return run_local("-C", str(project_dir), "--out", out, *args, expect=expect)


def run_local(*args: str, expect: int = 0, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``smpipe-gen run --local ARGS`` as a real process (helpers.smpipe: the runner's process
    groups, signal handling and job processes are what these tests exercise), in a wide terminal
    unless ``env`` says otherwise, its exit status asserted."""
    result = smpipe("run", "--local", *args, cwd=cwd, env=env or {**os.environ, "COLUMNS": "200"}, timeout=600)
    assert result.returncode == expect, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def last_record(project_dir: Path) -> dict:
    root = project_dir / ".smpipe"
    execution = json.loads((root / "last-run.json").read_text())["execution_id"]
    return json.loads((root / "runs" / execution / "run.json").read_text())


def statuses(record: dict) -> dict[str, str]:
    return {name: step["status"] for name, step in record["steps"].items()}
