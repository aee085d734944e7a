"""Fuzz validate and render with mutated example configs and print counts by outcome.

    python benchmarks/fuzz.py [--validate 10000] [--render 500] [--seed 1]

Each case copies an example, damages one config file (tree edits: deletions, nulls, renames,
hostile strings, huge numbers, list/map swaps, deep nesting; or byte damage: NUL, bad UTF-8,
control characters, alias bombs, 5,000-deep nesting) and runs the CLI in-process. Failures are
tracebacks, exit codes other than 0/1, error lines naming no file/key, and partial writes.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz_support import EXAMPLE_NAMES, classify, prepare_repo, write_mutation  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validate", type=int, default=10_000)
    parser.add_argument("--render", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    chooser = RandomChooser(args.seed)
    with tempfile.TemporaryDirectory(prefix="smpipe-fuzz-") as tmp:
        for command, cases in (("validate", args.validate), ("render", args.render)):
            started = time.monotonic()
            counts = campaign(command, cases, chooser, Path(tmp))
            failures = {k: v for k, v in counts.items() if k.startswith("failure")}
            print(f"{command}: {cases} cases in {time.monotonic() - started:.0f} s: ok {counts['ok']}, "
                  f"refused {counts['refused']}, failures {sum(failures.values())} {dict(sorted(failures.items()))}")


if __name__ == "__main__":
    main()
