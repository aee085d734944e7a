"""The config's ``dependencies`` lines, written in Airflow order: ``a >> b``, ``a >> [b, c]``,
``[a, b] >> c``, parsed into (upstream, downstream) edges of the step graph (dag.py)."""

from __future__ import annotations

import re

_NAME = r"[A-Za-z0-9\-_]+"
_GROUP = re.compile(rf"^\[\s*{_NAME}(\s*,\s*{_NAME})*\s*,?\s*\]$")


class DependencySyntaxError(ValueError):
    """A ``dependencies`` line that is not ``a >> b``, ``a >> [b, c]`` or ``[a, b] >> c``."""


def parse_chain(line: str) -> list[tuple[str, str]]:
    """``a >> [b, c] >> d`` -> [(a, b), (a, c), (b, d), (c, d)]."""
    parts = [part.strip() for part in line.split(">>")]
    if len(parts) < 2:
        raise DependencySyntaxError("expected at least one '>>'")
    groups: list[list[str]] = []
    for part in parts:
        if re.fullmatch(_NAME, part):
            groups.append([part])
        elif _GROUP.match(part):
            groups.append([name.strip() for name in part[1:-1].split(",") if name.strip()])
        else:
            raise DependencySyntaxError(f"{part!r} is not a step name or a [list, of, names]")
    return [(a, b) for left, right in zip(groups, groups[1:]) for a in left for b in right]
