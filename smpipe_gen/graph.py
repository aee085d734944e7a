"""The step graph: which step feeds which, in Airflow ``a >> b`` order, with cycle detection.

Edges come from three places: data (a step's ``chain_input_source_step`` and the models,
reports and metrics it uses), explicit ``dependencies`` lines, and condition branches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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


@dataclass
class StepGraph:
    """Steps in declaration order and the edges between them (upstream -> downstream)."""

    steps: list[str] = field(default_factory=list)
    edges: dict[str, set[str]] = field(default_factory=dict)  # downstream -> its upstreams

    def add_step(self, name: str) -> None:
        self.steps.append(name)
        self.edges.setdefault(name, set())

    def add_edge(self, upstream: str, downstream: str) -> None:
        self.edges.setdefault(downstream, set()).add(upstream)

    def upstream(self, name: str) -> set[str]:
        return self.edges.get(name, set())

    def find_cycle(self) -> list[str] | None:
        """A cycle as a list of step names (first == last), or None."""
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        path: list[str] = []

        def visit(node: str) -> list[str] | None:
            state[node] = 1
            path.append(node)
            for nxt in sorted(self.upstream(node)):
                if state.get(nxt) == 1:
                    cycle = path[path.index(nxt):] + [nxt]
                    return list(reversed(cycle))
                if nxt not in state:
                    found = visit(nxt)
                    if found:
                        return found
            path.pop()
            state[node] = 2
            return None

        for start in self.steps:
            if start not in state:
                found = visit(start)
                if found:
                    return found
        return None

    def order(self) -> list[str]:
        """Topological order; among ready steps, declaration order wins (stable output)."""
        position = {name: index for index, name in enumerate(self.steps)}
        remaining = {name: set(self.upstream(name)) & set(position) for name in self.steps}
        ordered: list[str] = []
        while remaining:
            ready = [name for name, ups in remaining.items() if not ups]
            if not ready:
                raise ValueError("the step graph has a cycle")
            first = min(ready, key=position.__getitem__)
            ordered.append(first)
            del remaining[first]
            for ups in remaining.values():
                ups.discard(first)
        return ordered
