"""The one step graph: which step feeds which, its order, its cycles and its walks.

Both sides use it: the config (edges from ``chain_input_source_step``, the models, reports and
metrics a step uses, ``dependencies`` lines (config/dependencies.py), and condition branches) and the rendered definition (smpipe_gen/definition.py: ``DependsOn``, property
references and condition branches). Ordering and cycle finding are the standard library's
``graphlib``; this module only adds declaration-order stability and the walks.
"""

from __future__ import annotations

import graphlib
import heapq
from dataclasses import dataclass, field
from typing import Iterable

@dataclass
class StepGraph:
    """Steps in declaration order and the edges between them (upstream -> downstream).

    Declaration order is the tie-breaker everywhere (order, walks, the cycle reported), so the
    same steps give the same output whatever order edges were added in."""

    steps: list[str] = field(default_factory=list)
    edges: dict[str, set[str]] = field(default_factory=dict)  # downstream -> its upstreams

    def add_step(self, name: str) -> None:
        self.steps.append(name)
        self.edges.setdefault(name, set())

    def add_edge(self, upstream: str, downstream: str) -> None:
        self.edges.setdefault(downstream, set()).add(upstream)

    def upstream(self, name: str) -> set[str]:
        """The steps with an edge into ``name``."""
        return self.edges.get(name, set())

    def downstream(self, name: str) -> list[str]:
        """The steps with an edge from ``name``, in declaration order."""
        return [step for step in self.steps if name in self.upstream(step)]

    def ancestors(self, name: str) -> list[str]:
        """Every step ``name`` waits for, directly or not, in declaration order."""
        return self._reachable(name, self.upstream)

    def descendants(self, name: str) -> list[str]:
        """Every step that runs after ``name`` and may see its effect, in declaration order."""
        children: dict[str, set[str]] = {}
        for step, ups in self.edges.items():
            for up in ups:
                children.setdefault(up, set()).add(step)
        return self._reachable(name, lambda step: children.get(step, set()))

    def _reachable(self, start: str, neighbours) -> list[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for step in neighbours(todo.pop()):
                if step not in seen:
                    seen.add(step)
                    todo.append(step)
        return [step for step in self._declared() if step in seen and step != start]

    def _declared(self) -> list[str]:
        """Declared steps first, then names only edges mention (sorted, for stable output)."""
        known = set(self.steps)
        mentioned = {up for ups in self.edges.values() for up in ups} | set(self.edges)
        return self.steps + sorted(mentioned - known)

    def _sorter(self) -> graphlib.TopologicalSorter:
        sorter: graphlib.TopologicalSorter = graphlib.TopologicalSorter()
        for name in self._declared():
            sorter.add(name, *sorted(self.upstream(name)))
        return sorter

    def find_cycle(self) -> list[str] | None:
        """A cycle in upstream -> downstream direction (first == last), or None."""
        try:
            self._sorter().prepare()
        except graphlib.CycleError as error:
            return list(error.args[1])
        return None

    def order(self) -> list[str]:
        """Topological order; among ready steps, declaration order wins (stable output).
        Raises graphlib.CycleError on a cycle (find_cycle names it first where users see it)."""
        position = {name: index for index, name in enumerate(self._declared())}
        sorter = self._sorter()
        sorter.prepare()
        ready: list[tuple[int, str]] = []
        ordered: list[str] = []
        while sorter.is_active():
            for name in sorter.get_ready():
                heapq.heappush(ready, (position[name], name))
            _, first = heapq.heappop(ready)
            ordered.append(first)
            sorter.done(first)
        return ordered


def from_upstreams(upstreams: Iterable[tuple[str, Iterable[str]]]) -> StepGraph:
    """A graph from (step, its upstream steps) pairs, in declaration order."""
    graph = StepGraph()
    for name, ups in upstreams:
        graph.add_step(name)
        for up in ups:
            graph.add_edge(up, name)
    return graph
