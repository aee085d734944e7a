"""Fuzz validate, render and local runs of foreign definitions; print counts by outcome.

    python benchmarks/fuzz.py [--validate 10000] [--render 500] [--foreign 1000] [--seed 1]

Validate and render: each case copies an example and damages one config file (tree edits:
deletions, nulls, renames, hostile strings, huge numbers, list/map swaps, deep nesting; or byte
damage: NUL, bad UTF-8, control characters, alias bombs, 5,000-deep nesting) or its environment
files (hostile, huge or unparsable values, bad bytes, environment names that are no directory
name, links leading out of the repository), and runs the CLI in-process. Failures are
tracebacks, exit codes other than 0/1, error lines naming no file/key, writes outside the output
directory and partial writes.

Foreign: each case writes a damaged or hostile definition (tree edits with definition-shaped
hostile strings; reproduced attacks: LocalPaths leaving /opt/ml, buckets and code keys with
"..", links in outputs, odd step names, MaxRuntimeInSeconds; damaged text: truncated, 100k
deep, not UTF-8, 5 MB) and runs ``run --local --definition`` in-process. Failures add the
runner's "internal error" and any change to a victim directory beside the run.
"""

from __future__ import annotations

import argparse
import collections
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz_support import (EXAMPLE_NAMES, classify, classify_foreign, prepare_foreign, prepare_repo,  # noqa: E402
                          write_foreign_mutation, write_mutation)

FOREIGN_RUN_ROOT_CASES = 50  # a fresh run root every so many cases: cached results meet later cases, but not forever


class RandomChooser:
    def __init__(self, seed: int):
        self.random = random.Random(seed)

    def choice(self, options):
        return options[self.random.randrange(len(options))]

    def index(self, size: int) -> int:
        return self.random.randrange(size)


def campaign(command: str, cases: int, chooser: RandomChooser, workdir: Path) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    examples: list[str] = []
    for case in range(cases):
        example = EXAMPLE_NAMES[case % len(EXAMPLE_NAMES)]
        root, files = prepare_repo(example, workdir)
        what = write_mutation(files, chooser)
        outcome = classify(command, root)
        counts[outcome.kind] += 1
        if outcome.kind.startswith("failure") and counts[outcome.kind] <= 3:
            print(f"  {command} {example} {what}: {outcome.kind}: {outcome.detail}", file=sys.stderr)
            examples.append(what)
    return counts


def foreign_campaign(cases: int, chooser: RandomChooser, workdir: Path) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    folder = workdir / "foreign" / "work"
    folder.mkdir(parents=True)
    prepare_foreign(folder)
    for case in range(cases):
        what = write_foreign_mutation(folder, chooser)
        outcome = classify_foreign(folder)
        counts[outcome.kind] += 1
        if outcome.kind.startswith("failure") and counts[outcome.kind] <= 3:
            print(f"  foreign {what}: {outcome.kind}: {outcome.detail}", file=sys.stderr)
        if case % FOREIGN_RUN_ROOT_CASES == FOREIGN_RUN_ROOT_CASES - 1:
            shutil.rmtree(folder / ".smpipe", ignore_errors=True)
    return counts


def report(command: str, cases: int, seconds: float, counts: collections.Counter) -> None:
    failures = {k: v for k, v in counts.items() if k.startswith("failure")}
    print(f"{command}: {cases} cases in {seconds:.0f} s: ok {counts['ok']}, "
          f"refused {counts['refused']}, failures {sum(failures.values())} {dict(sorted(failures.items()))}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validate", type=int, default=10_000)
    parser.add_argument("--render", type=int, default=500)
    parser.add_argument("--foreign", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    chooser = RandomChooser(args.seed)
    print(f"seed {args.seed}", flush=True)
    with tempfile.TemporaryDirectory(prefix="smpipe-fuzz-") as tmp:
        for command, cases in (("validate", args.validate), ("render", args.render)):
            started = time.monotonic()
            counts = campaign(command, cases, chooser, Path(tmp))
            report(command, cases, time.monotonic() - started, counts)
        started = time.monotonic()
        counts = foreign_campaign(args.foreign, chooser, Path(tmp))
        report("run --local --definition", args.foreign, time.monotonic() - started, counts)


if __name__ == "__main__":
    main()
