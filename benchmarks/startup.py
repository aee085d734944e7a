"""Start-up of each smpipe-gen command a developer runs often, on a copy of a rendered example:
the wall time from exec to exit (median and best of several runs), and the modules it imports;
and ``check`` on an unchanged repository (no render: see smpipe_gen/fingerprint.py) next to
``check --full`` and ``render``, which import the SageMaker SDK and render.

    python benchmarks/startup.py [--example abalone] [--repeat 5]

``run --local`` is timed on a fully cached run (no job process starts), so what is measured is
the command's own start-up; benchmarks/local_run.py prints these rows next to the per-step costs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path | None = None, expect: tuple[int, ...] = (0,), env: dict | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "smpipe_gen", *args], cwd=cwd, capture_output=True, text=True,
                            env=env)
    wall = time.perf_counter() - started
    if result.returncode not in expect:
        raise RuntimeError(f"smpipe-gen {' '.join(args)}: exit {result.returncode}: {result.stderr.strip()[-300:]}")
    return wall


def _imports(*args: str, env: dict | None = None) -> int:
    """How many modules the command imports (python -X importtime lines)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "smpipe_gen", *args],
                            capture_output=True, text=True, env=env)
    return sum(1 for line in result.stderr.splitlines() if line.startswith("import time:")) - 1


def _committed_copy(example: str, root: Path) -> Path:
    """The example in a git repository of its own (plan compares with a git ref)."""
    project = root / example
    shutil.copytree(REPO / "examples" / example, project, ignore=shutil.ignore_patterns(".smpipe", "__pycache__"))
    git = ["git", "-C", str(project), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], check=True)
    return project


def command_startups(repeat: int, example: str = "abalone", cached_project: Path | None = None) -> list[tuple[str, str]]:
    """Rows (label, figure) for --help, graph, plan, validate and (given a project whose steps are
    all cached) run --local."""
    with tempfile.TemporaryDirectory() as tmp:
        project = _committed_copy(example, Path(tmp))
        env = {**os.environ, "SMPIPE_CACHE_DIR": str(Path(tmp) / "check-cache")}  # this run's own records
        _cli("render", "-C", str(project), env=env)  # records the state check (unchanged) finds verified
        commands = {
            "--help": ("--help",),
            "graph": ("graph", "-C", str(project)),
            "plan": ("plan", "-C", str(project), "--base", "HEAD"),
            "validate": ("validate", "-C", str(project)),
            "check (unchanged: no render)": ("check", "-C", str(project)),
            "check --full (renders)": ("check", "--full", "-C", str(project)),
            "render": ("render", "-C", str(project)),
        }
        if cached_project is not None:
            commands["run --local (all cached)"] = ("run", "--local", "-C", str(cached_project))
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeat):  # interleaved, so a busy moment hits every command alike
            for name, args in commands.items():
                times[name].append(_cli(*args, expect=(0, 2), env=env))
        rows = [(f"start-up: smpipe-gen {name}",
                 f"{statistics.median(t):6.3f} s  (best {min(t):.3f} s; {_imports(*commands[name], env=env)} modules imported)")
                for name, t in times.items()]
        ratio = statistics.median(times["render"]) / statistics.median(times["check (unchanged: no render)"])
        rows.append(("check (unchanged) vs render", f"render takes {ratio:5.1f}x as long (goal: >= 10x)"))
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--example", default="abalone")
    args = parser.parse_args()
    print_rows(command_startups(args.repeat, args.example), f"median of {args.repeat}")


def print_rows(rows: list[tuple[str, str]], heading: str) -> None:
    """One aligned table for every benchmark script: label, then the figure."""
    width = max(len(label) for label, _ in rows)
    print(f"{'measurement':<{width}}  {heading} ({os.cpu_count()} cores)")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
