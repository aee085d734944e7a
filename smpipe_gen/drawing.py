"""A pipeline definition's DAG drawn as mermaid or Graphviz dot, from the definition model
(smpipe_gen/definition.py: edges from DependsOn, property references and condition branches).

When the manifest says which config model each step belongs to, the steps of a model are drawn
in a box of their own (a mermaid ``subgraph``, a dot ``cluster``).
"""

from __future__ import annotations

import re

from smpipe_gen.definition import Definition, Edge, Step
from smpipe_gen.steps import step_type

_MERMAID_KEYWORDS = {"end", "graph", "subgraph", "flowchart", "class", "classdef", "style", "click",
                     "linkstyle", "direction"}


def _node_ids(names: list[str], taken: tuple[str, ...] = ()) -> dict[str, str]:
    """A mermaid id per name: unique (also against ``taken``), never a mermaid keyword."""
    ids: dict[str, str] = {}
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "step"
        if base.lower() in _MERMAID_KEYWORDS:
            base = f"step_{base}"
        candidate, n = base, 1
        while candidate in ids.values() or candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        ids[name] = candidate
    return ids


MERMAID_CLASSES = {
    "added": "fill:#d4f8d4,stroke:#2a7a2a",
    "removed": "fill:#f8d4d4,stroke:#a02a2a,stroke-dasharray:4 2",
    "changed": "fill:#fff1c2,stroke:#a07a00",
    "renamed": "fill:#d4e4f8,stroke:#2a4aa0",
}


def _label(text: str) -> str:
    """A label inside quotes: mermaid's entity codes for what would end the label, add markup, or
    (a line break, a backtick) close the markdown code fence a PR comment puts the graph in."""
    text = re.sub(r"[\x00-\x1f\x7f\u0085\u2028\u2029]", " ", text)
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("`", "#96;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


def _groups(steps: list[Step]) -> list[tuple[str | None, list[Step]]]:
    """(model, its steps) in order of first appearance; one unnamed group when no step's model
    is known (a definition without a manifest), so nothing is boxed."""
    groups: dict[str | None, list[Step]] = {}
    for step in steps:
        groups.setdefault(step.model, []).append(step)
    return list(groups.items())


def mermaid(definition: Definition, marks: dict[str, str] | None = None, gone: list[Step] | None = None,
            gone_edges: list[Edge] | None = None) -> str:
    """A ``flowchart TD``; ``marks`` maps step names to a class of MERMAID_CLASSES (plan uses it
    to colour added, changed and removed steps). ``gone``: steps of an earlier definition drawn
    too (plan's removed steps, with ``gone_edges``, the earlier edges that touch them)."""
    steps = [*definition, *(gone or [])]
    ids = _node_ids([step.name for step in steps])
    groups = _groups(steps)
    group_ids = _node_ids([f"model_{model}" for model, _ in groups if model is not None], tuple(ids.values()))
    lines = ["flowchart TD"]
    for model, members in groups:
        indent = "  " if model is None else "    "
        if model is not None:
            lines.append(f'  subgraph {group_ids[f"model_{model}"]}["{_label(model)}"]')
        for step in members:
            left, right = step_type(step.type).mermaid
            lines.append(f'{indent}{ids[step.name]}{left}"{_label(step.display_name)}<br/>{_label(step.step_class)}"{right}')
        if model is not None:
            lines.append("  end")
    arrows = {"data": "-->", "depends": "-.->", "if": "-->|if|", "else": "-->|else|"}
    for edge in [*definition.edges(), *(gone_edges or [])]:
        if edge.source in ids and edge.target in ids:
            lines.append(f"  {ids[edge.source]} {arrows[edge.kind]} {ids[edge.target]}")
    used = sorted({mark for name, mark in (marks or {}).items() if name in ids})
    for mark in used:
        lines.append(f"  classDef {mark} {MERMAID_CLASSES[mark]}")
        members_marked = ",".join(ids[step.name] for step in steps if (marks or {}).get(step.name) == mark)
        lines.append(f"  class {members_marked} {mark}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(definition: Definition) -> str:
    """A Graphviz digraph: ``dot -Tsvg`` draws it."""
    lines = ["digraph pipeline {", "  rankdir=TB;", "  node [shape=box, fontname=Helvetica];"]
    for number, (model, members) in enumerate(_groups(list(definition))):
        indent = "  " if model is None else "    "
        if model is not None:
            lines += [f"  subgraph cluster_{number} {{", f"    label={_quote(model)};"]
        for step in members:
            shape = step_type(step.type).dot
            label = _quote(step.display_name)[:-1] + "\\n" + _quote(step.step_class)[1:]
            lines.append(f"{indent}{_quote(step.name)} [label={label}, shape={shape}];")
        if model is not None:
            lines.append("  }")
    styles = {"data": "", "depends": " [style=dashed]", "if": " [label=if]", "else": " [label=else, color=red]"}
    for edge in definition.edges():
        lines.append(f"  {_quote(edge.source)} -> {_quote(edge.target)}{styles[edge.kind]};")
    lines.append("}")
    return "\n".join(lines) + "\n"
