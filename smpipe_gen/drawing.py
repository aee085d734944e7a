"""The DAG of a pipeline definition, read from the JSON alone (no SageMaker SDK), drawn as
mermaid or Graphviz dot.

Edges come from three places: ``DependsOn`` lists, data references (``{"Get": "Steps.X...."}``
anywhere in a step's body) and the if/else branches of Condition steps, whose nested steps are
drawn as steps of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

EDGE_KINDS = ("data", "depends", "if", "else")


@dataclass(frozen=True)
class Step:
    """One step of a definition; ``parent``/``branch`` say which Condition branch holds it."""

    name: str
    type: str
    body: dict[str, Any]
    parent: str | None = None
    branch: str | None = None

    def own_body(self) -> dict[str, Any]:
        """The step without the steps nested in its branches (those are steps of their own)."""
        if self.type != "Condition":
            return self.body
        arguments = {key: value for key, value in self.body.get("Arguments", {}).items()
                     if key not in ("IfSteps", "ElseSteps")}
        return {**self.body, "Arguments": arguments}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # one of EDGE_KINDS


def steps(definition: dict[str, Any]) -> dict[str, Step]:
    """All steps by name, in definition order, nested Condition branches included."""
    found: dict[str, Step] = {}

    def visit(items: list[dict[str, Any]], parent: str | None, branch: str | None) -> None:
        for item in items:
            step = Step(item.get("Name", "?"), item.get("Type", "?"), item, parent, branch)
            found[step.name] = step
            if step.type == "Condition":
                arguments = item.get("Arguments", {})
                visit(arguments.get("IfSteps", []), step.name, "if")
                visit(arguments.get("ElseSteps", []), step.name, "else")

    visit(definition.get("Steps", []), None, None)
    return found


# The SageMaker SDK's ModelStep turns a step named X into X-CreateModel or X-RegisterModel, after
# X-RepackModel-<n> when it repacks the model; the name a person wrote (in a config or an SDK
# program) is X.
_MODEL_STEP = re.compile(r"^(?P<base>.+)-(?:CreateModel|RegisterModel|RepackModel-(?P<repack>\d+))$")
_MODEL_STEP_TYPES = {"CreateModel": "Model", "RegisterModel": "RegisterModel", "RepackModel": "Training"}


def display_names(definition: dict[str, Any]) -> dict[str, str]:
    """Each step's name as a person wrote it: ``X`` for ``X-CreateModel``/``X-RegisterModel``,
    ``X (repack n)`` for ``X-RepackModel-n``; every other step keeps its name. Derived from the
    definition alone, so foreign definitions get it too; a name that would be ambiguous stays
    the SDK's."""
    all_steps = steps(definition)
    wanted: dict[str, str] = {}
    for name, step in all_steps.items():
        match = _MODEL_STEP.match(name)
        kind = name.rsplit("-", 2)[-2] if match and match["repack"] else name.rsplit("-", 1)[-1]
        if match and match["base"] not in all_steps and _MODEL_STEP_TYPES.get(kind) == step.type:
            wanted[name] = f"{match['base']} (repack {match['repack']})" if match["repack"] else match["base"]
        else:
            wanted[name] = name
    counts: dict[str, int] = {}
    for display in wanted.values():
        counts[display] = counts.get(display, 0) + 1
    return {name: display if counts[display] == 1 or display == name else name for name, display in wanted.items()}


def step_named(definition: dict[str, Any], name: str) -> str | None:
    """The definition's step a person means by ``name``: its SDK name, its display name, or the
    name of a ModelStep (its first step: the repack when there is one)."""
    all_steps = steps(definition)
    if name in all_steps:
        return name
    display = display_names(definition)
    for sdk_name in all_steps:
        match = _MODEL_STEP.match(sdk_name)
        if display[sdk_name] == name or (match and match["base"] == name and display[sdk_name] != sdk_name):
            return sdk_name
    return None


def _gets(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Get" and isinstance(item, str):
                yield item
            else:
                yield from _gets(item)
    elif isinstance(value, list):
        for item in value:
            yield from _gets(item)


def referenced_steps(body: Any, names: set[str]) -> set[str]:
    """Names of the steps whose properties ``body`` reads (``Steps.<name>.<property>``)."""
    found = set()
    for ref in _gets(body):
        if not ref.startswith("Steps."):
            continue
        name = re.split(r"[.\[]", ref[len("Steps."):], maxsplit=1)[0]  # step names hold no "." or "["
        if name in names:
            found.add(name)
    return found


def edges(definition: dict[str, Any]) -> list[Edge]:
    """Every edge once, sorted; a data reference that duplicates a DependsOn is kept as data."""
    all_steps = steps(definition)
    names = set(all_steps)
    found: dict[tuple[str, str], str] = {}
    for step in all_steps.values():
        if step.parent:
            found[(step.parent, step.name)] = step.branch or "if"
        for source in sorted(referenced_steps(step.own_body(), names) - {step.name}):
            found.setdefault((source, step.name), "data")
        for source in step.body.get("DependsOn", []) or []:
            if isinstance(source, str):
                found.setdefault((source, step.name), "depends")
    return [Edge(s, t, k) for (s, t), k in sorted(found.items())]


def children(definition: dict[str, Any]) -> dict[str, set[str]]:
    """Step name -> the steps with an edge from it."""
    found: dict[str, set[str]] = {}
    for edge in edges(definition):
        found.setdefault(edge.source, set()).add(edge.target)
    return found


def downstream(graph: dict[str, set[str]], name: str, order: dict[str, Step]) -> list[str]:
    """The steps that run after ``name`` and may see its effect (``graph`` from children()),
    in the order of ``order`` (steps())."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        for child in graph.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return [step for step in order if step in seen and step != name]


_MERMAID_KEYWORDS = {"end", "graph", "subgraph", "flowchart", "class", "classdef", "style", "click",
                     "linkstyle", "direction"}


def _node_ids(names: list[str]) -> dict[str, str]:
    ids = {}
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "step"
        if base.lower() in _MERMAID_KEYWORDS:
            base = f"step_{base}"
        candidate, n = base, 1
        while candidate in ids.values():
            n += 1
            candidate = f"{base}_{n}"
        ids[name] = candidate
    return ids


_MERMAID_SHAPES = {"Condition": ("{", "}"), "Fail": ("[[", "]]"), "RegisterModel": ("[/", "/]")}
MERMAID_CLASSES = {
    "added": "fill:#d4f8d4,stroke:#2a7a2a",
    "removed": "fill:#f8d4d4,stroke:#a02a2a,stroke-dasharray:4 2",
    "changed": "fill:#fff1c2,stroke:#a07a00",
    "renamed": "fill:#d4e4f8,stroke:#2a4aa0",
}


def _label(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid(definition: dict[str, Any], marks: dict[str, str] | None = None) -> str:
    """A ``flowchart TD``; ``marks`` maps step names to a class of MERMAID_CLASSES (plan uses it
    to colour added, changed and removed steps)."""
    all_steps = steps(definition)
    shown = display_names(definition)
    ids = _node_ids(list(all_steps))
    lines = ["flowchart TD"]
    for name, step in all_steps.items():
        left, right = _MERMAID_SHAPES.get(step.type, ("[", "]"))
        lines.append(f'  {ids[name]}{left}"{_label(shown[name])}<br/>{step.type}"{right}')
    arrows = {"data": "-->", "depends": "-.->", "if": "-->|if|", "else": "-->|else|"}
    for edge in edges(definition):
        if edge.source in ids:
            lines.append(f"  {ids[edge.source]} {arrows[edge.kind]} {ids[edge.target]}")
    used = sorted({mark for name, mark in (marks or {}).items() if name in ids})
    for mark in used:
        lines.append(f"  classDef {mark} {MERMAID_CLASSES[mark]}")
        members = ",".join(ids[name] for name in all_steps if (marks or {}).get(name) == mark)
        lines.append(f"  class {members} {mark}")
    return "\n".join(lines) + "\n"


_DOT_SHAPES = {"Condition": "diamond", "Fail": "octagon", "RegisterModel": "parallelogram"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(definition: dict[str, Any]) -> str:
    """A Graphviz digraph: ``dot -Tsvg`` draws it."""
    all_steps = steps(definition)
    shown = display_names(definition)
    lines = ["digraph pipeline {", "  rankdir=TB;", "  node [shape=box, fontname=Helvetica];"]
    for name, step in all_steps.items():
        shape = _DOT_SHAPES.get(step.type, "box")
        label = _quote(shown[name])[:-1] + "\\n" + step.type + '"'
        lines.append(f"  {_quote(name)} [label={label}, shape={shape}];")
    styles = {"data": "", "depends": " [style=dashed]", "if": " [label=if]", "else": " [label=else, color=red]"}
    for edge in edges(definition):
        if edge.source in all_steps:
            lines.append(f"  {_quote(edge.source)} -> {_quote(edge.target)}{styles[edge.kind]};")
    lines.append("}")
    return "\n".join(lines) + "\n"
