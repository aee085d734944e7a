"""Helpers for the local runner tests: copy a rendered fixture project, run the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "local_fixtures"
REPO = Path(__file__).resolve().parents[1]


def project(tmp_path: Path, name: str = "mini") -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target, ignore=shutil.ignore_patterns(".smpipe", "__pycache__", "build.py"))
    return target


def run(project_dir: Path, *args: str, expect: int = 0, out: str = "pipeline") -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "smpipe_gen", "run", "--local", "-C", str(project_dir), "--out", out, *args]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == expect, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def last_record(project_dir: Path) -> dict:
    root = project_dir / ".smpipe"
    execution = json.loads((root / "last-run.json").read_text())["execution_id"]
    return json.loads((root / "runs" / execution / "run.json").read_text())


def statuses(record: dict) -> dict[str, str]:
    return {name: step["status"] for name, step in record["steps"].items()}
