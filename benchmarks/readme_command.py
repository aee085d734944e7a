"""The README's first command, as a new user runs it: in a fresh clone of this repository, from
nothing (no .venv), wall time split into the set-up (everything before the first `smpipe-gen`)
and the main job (render and run --local of the example).

    python benchmarks/readme_command.py [--uv-cache cold|warm] [--before-uv]

The command is read from README.md, so what is timed is what the README says. ``--uv-cache cold``
(the default) gives uv an empty cache, as on a fresh machine: packages come from the index.
``--before-uv`` also times, on the same machine, the command as it was before it used uv: plain pip
installing the whole ``dev`` extra with no cache (what issue 14 measured at 476 s), and prints
the ratio. Needs the package index (the network), and takes a minute or more.
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

from startup import print_rows

REPO = Path(__file__).resolve().parents[1]
# The set-up of command 1 before it used uv: pip, every test tool included, before anything rendered.
BEFORE_UV = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'"


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


def timed_in_clone(setup: str, job: str, uv_cache: str = "cold") -> tuple[float, float]:
    """(set-up, main job) wall seconds in a fresh clone; a cold cache is an empty one, for uv and pip."""
    with tempfile.TemporaryDirectory(prefix="smpipe-readme-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        if uv_cache == "cold":
            env["UV_CACHE_DIR"] = str(Path(tmp) / "uv-cache")
            env["PIP_NO_CACHE_DIR"] = "1"
        return timed(setup, clone, env), timed(job, clone, env)


def readme_rows(uv_cache: str = "cold", before_uv: bool = False) -> list[tuple[str, str]]:
    """(label, figure) rows: the README's command 1 and, on request, the same job set up as before uv."""
    setup, job = split(readme_command())
    runs = {f"README command 1 (uv, {uv_cache} cache)": timed_in_clone(setup, job, uv_cache)}
    if before_uv:
        runs["README command 1 before uv (pip, whole dev extra)"] = timed_in_clone(BEFORE_UV, job)
    rows = [(label, f"total {sum(t):6.1f} s  (set-up {t[0]:.1f} s, render + run --local {t[1]:.1f} s)")
            for label, t in runs.items()]
    if before_uv:
        now, before = (sum(t) for t in runs.values())
        rows.append(("README command 1, now vs before uv", f"{before / now:5.1f}x faster on this machine (goal: >= 3x)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uv-cache", choices=("cold", "warm"), default="cold")
    parser.add_argument("--before-uv", action="store_true", help="also time the set-up as it was before uv (pip)")
    args = parser.parse_args()
    print_rows(readme_rows(args.uv_cache, args.before_uv), "result")


if __name__ == "__main__":
    sys.exit(main())
