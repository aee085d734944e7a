"""The README's first command, as a new user runs it: in a fresh clone of this repository, from
nothing (no .venv), wall time split into the set-up (everything before the first `smpipe-gen`)
and the main job (render and run --local of the example).

    python benchmarks/readme_command.py [--uv-cache cold|warm] [--pip]

The command is read from README.md, so what is timed is what the README says. ``--uv-cache cold``
(the default) gives uv an empty cache, as on a fresh machine: packages come from the index.
``--pip`` times the same set-up with plain pip (``pip install -e '.[examples]'``) for comparison.
Needs the package index (the network), and takes a minute or more.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEFORE_UV = 476.0  # seconds, idle 2-core machine, when command 1 pip-installed the whole dev extra (issue 14)


def readme_command() -> str:
    """The first command of the README's first code block (the line after '# 1.')."""
    block = re.search(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)[1]
    return next(line for line in block.splitlines() if line.strip() and not line.startswith("#"))


def split(command: str) -> tuple[str, str]:
    """(set-up, main job): the main job starts at the first smpipe-gen call."""
    parts = command.split(" && ")
    first = next(i for i, part in enumerate(parts) if "smpipe-gen" in part)
    return " && ".join(parts[:first]), " && ".join(parts[first:])


def timed(command: str, cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def readme_row(uv_cache: str = "cold", pip: bool = False) -> tuple[str, str]:
    """(label, figure) of one fresh-clone run of the README's first command."""
    setup, job = split(readme_command())
    if pip:
        setup = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[examples]'"
    with tempfile.TemporaryDirectory(prefix="smpipe-readme-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        if uv_cache == "cold":
            env["UV_CACHE_DIR"] = str(Path(tmp) / "uv-cache")
            env["PIP_NO_CACHE_DIR"] = "1"
        set_up, main_job = timed(setup, clone, env), timed(job, clone, env)
    how = "pip" if pip else f"README (uv, {uv_cache} cache)"
    return (f"README command 1, {how}",
            f"total {set_up + main_job:6.1f} s  (set-up {set_up:.1f} s, render + run --local {main_job:.1f} s; "
            f"{BEFORE_UV / (set_up + main_job):.1f}x faster than {BEFORE_UV:.0f} s with pip; goal: >= 3x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uv-cache", choices=("cold", "warm"), default="cold")
    parser.add_argument("--pip", action="store_true", help="set up with plain pip instead of the README's uv")
    args = parser.parse_args()
    label, figure = readme_row(args.uv_cache, args.pip)
    print(f"{label:<44} {figure}")


if __name__ == "__main__":
    sys.exit(main())
