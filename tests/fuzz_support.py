"""Mutate the example configs the way an attacker or a clumsy user would, run the real CLI on
them, and classify the outcome. Shared by tests/test_fuzz.py (hypothesis, small profile) and
benchmarks/fuzz.py (thousands of cases, counts by class).

A case fails when the CLI raises (a traceback), exits with a code other than 0/1, prints an
error line that names no file, key or variable, or changes the output directory while refusing.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import yaml

from helpers import smpipe_in_process

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
EXAMPLE_NAMES = ("abalone", "two-models", "lightgbm-purchase", "pca-tf-housing", "llm-summarization")

# A refusal (and a warning) must say where: a config file (with line), an environment variable or a step/key.
LOCATED = re.compile(r"^(error|warning): (\S+\.(ya?ml|env)\b|SMP_[A-Z_]+|[\w./-]+:\d+|pipeline/)")

HOSTILE_STRINGS = (
    "m\n    open('canary', 'w').write('x')\n    #", "../outside", "../../etc/passwd", "/etc/hostname", "/etc",
    "a\x00b", "x" * 100_000, "é" * 300, "\u2028\u202e", "${SMP_ROLE}", "SMP_ROLE", "{{ 7*7 }}", "'\"\\",
    "", " ", "-", "0", "null", "s3://", "s3://b/../../k", "*", "**/*", "a" * 300 + ".py",
)
HOSTILE_SCALARS = (None, True, False, 0, -1, 1, 10**30, -(10**30), 1.5, float("inf"), float("nan"), 2**63)


class Chooser(Protocol):
    """Where the randomness comes from: hypothesis in tests, random.Random in the benchmark."""

    def choice(self, options: list | tuple) -> Any: ...
    def index(self, size: int) -> int: ...


@dataclass
class Outcome:
    kind: str  # "ok", "refused" or "failure:<class>"
    detail: str = ""


def paths_in(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a parsed YAML tree (mapping keys and list indexes)."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found.extend(paths_in(value, prefix + (key,)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(paths_in(value, prefix + (index,)))
    return found


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def _hostile_value(chooser: Chooser, current: Any) -> Any:
    kind = chooser.choice(("string", "scalar", "list", "map", "swap", "deep", "wrap"))
    if kind == "string":
        return chooser.choice(HOSTILE_STRINGS)
    if kind == "scalar":
        return chooser.choice(HOSTILE_SCALARS)
    if kind == "list":
        return [chooser.choice(HOSTILE_STRINGS + HOSTILE_SCALARS)]
    if kind == "map":
        return {chooser.choice(HOSTILE_STRINGS): chooser.choice(HOSTILE_SCALARS)}
    if kind == "swap":  # list <-> map
        if isinstance(current, dict):
            return list(current.values())
        if isinstance(current, list):
            return {str(index): item for index, item in enumerate(current)}
        return {"value": current}
    if kind == "deep":
        value: Any = current
        for _ in range(chooser.choice((10, 70, 200))):
            value = [value]
        return value
    return [current, current]


def mutate(data: Any, chooser: Chooser, rounds: int) -> Any:
    """``rounds`` edits at random places: delete, null, replace, rename a key, swap types."""
    for _ in range(rounds):
        paths = [path for path in paths_in(data) if path]
        if not paths:
            return chooser.choice(HOSTILE_SCALARS + HOSTILE_STRINGS)
        path = paths[chooser.index(len(paths))]
        parent, last = _get(data, path[:-1]), path[-1]
        action = chooser.choice(("delete", "null", "replace", "replace", "rename"))
        if action == "delete":
            del parent[last]
        elif action == "null":
            parent[last] = None
        elif action == "replace":
            parent[last] = _hostile_value(chooser, parent[last])
        elif isinstance(parent, dict):
            parent[chooser.choice(HOSTILE_STRINGS + ("models", "steps", "entry_point"))] = parent.pop(last)
        else:
            parent.reverse()
    return data


def raw_bytes_variant(text: str, chooser: Chooser) -> bytes:
    """Byte-level damage the YAML layer must report: NUL, bad UTF-8, control characters, bombs."""
    data = text.encode()
    cut = chooser.index(len(data) + 1)
    kind = chooser.choice(("nul", "latin1", "control", "bomb", "nest", "tab", "truncate"))
    if kind == "nul":
        return data[:cut] + b"\x00" + data[cut:]
    if kind == "latin1":
        return data[:cut] + b"\xff\xfe" + data[cut:]
    if kind == "control":
        return data[:cut] + b"\x07" + data[cut:]
    if kind == "bomb":
        lines = ["  a: &a [x, x, x, x, x, x, x, x, x, x]"] + [
            f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(9)]
        return data + ("\nunused:\n" + "\n".join(lines) + "\n").encode()
    if kind == "nest":
        return data + b"\ndeep: " + b"[" * 5000 + b"]" * 5000 + b"\n"
    if kind == "tab":
        return data[:cut] + b"\t" + data[cut:]
    return data[:cut]


def prepare_repo(example: str, dest: Path) -> tuple[Path, list[Path]]:
    """A copy of an example (with its committed render) and its model config files."""
    root = dest / example
    if not root.exists():
        shutil.copytree(EXAMPLES / example, root, ignore=shutil.ignore_patterns(".smpipe", "__pycache__"))
    files = sorted(root.glob("**/conf/*.yaml"))
    for file in files:  # undo the previous case's damage
        shutil.copyfile(EXAMPLES / example / file.relative_to(root), file)
    return root, files


def write_mutation(files: list[Path], chooser: Chooser) -> str:
    """Damage one config file of the repository; return what was done, for failure reports."""
    file = files[chooser.index(len(files))]
    text = file.read_text(encoding="utf-8")
    if chooser.choice(("tree", "tree", "tree", "bytes")) == "bytes":
        file.write_bytes(raw_bytes_variant(text, chooser))
        return f"bytes:{file.name}"
    data = mutate(yaml.safe_load(text), chooser, rounds=chooser.choice((1, 1, 2, 3)))
    file.write_text(_dump(data), encoding="utf-8")
    return f"tree:{file.name}"


def _dump(data: Any) -> str:
    """YAML text of a mutated tree. Repeated "deep" edits can nest past PyYAML's recursion
    (several frames a level): the harness, not the tool under test, needs the head room."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=False)
    finally:
        sys.setrecursionlimit(limit)


def run_in_process(args: list[str]) -> tuple[int | str, str]:
    """Call the CLI's main() as the console script would (in this process's environment); return
    (exit code, stderr), or ("traceback:<Type>", stderr) when it raised."""
    done = smpipe_in_process(*args, env=dict(os.environ))
    if done.exception is not None:
        exc = done.exception
        return f"traceback:{type(exc).__name__}", f"{type(exc).__name__}: {str(exc)[:300]}"
    return done.returncode, done.stderr


def snapshot(directory: Path) -> dict[str, bytes]:
    if not directory.is_dir():
        return {}
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def classify(command: str, root: Path, run: Callable[[list[str]], tuple[int | str, str]] = run_in_process) -> Outcome:
    out = root / "pipeline"
    before = snapshot(out)
    code, stderr = run([command, "-C", str(root)])
    if isinstance(code, str):
        return Outcome(f"failure:{code}", stderr[-300:])
    if code not in (0, 1):
        return Outcome(f"failure:exit-{code}", stderr[-300:])
    if code == 0:
        return Outcome("ok")
    lines = [line for line in stderr.splitlines() if line.strip()]
    unlocated = [line for line in lines if not LOCATED.match(line)]
    if not lines or unlocated:
        return Outcome("failure:unlocated-message", (unlocated or ["<no message>"])[0][:300])
    if any(len(line) > 2000 for line in lines):
        return Outcome("failure:long-message", lines[0][:300])
    if snapshot(out) != before:
        return Outcome("failure:partial-write", command)
    return Outcome("refused")
