"""The plan's renderers: text (a terminal), markdown (a PR comment), JSON (the machine plan
itself). Each reads only the machine plan's JSON (model.to_json), as Terraform's renderer reads
its JSON plan, so what a reviewer reads is what ``--format json`` gives a program.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, Callable

from smpipe_gen import artifacts
from smpipe_gen.plan.model import Plan, to_json
from smpipe_gen.plan.values import duration

_SIGNS = {"added": "+", "removed": "-", "changed": "~", "renamed": "→"}
_OUTCOMES = {"hit": "hit ", "miss": "MISS", "runs": "RUNS"}


class Format(str, Enum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"


# -- shared spellings --------------------------------------------------------------------------
def summary(plan: dict[str, Any]) -> str:
    if not plan["has_changes"]:
        return "No changes."
    params = {status: sum(p["status"] == status for p in plan["parameters"]) for status in ("added", "removed", "changed")}
    text = ("Steps: " + ", ".join(f"{n} {s}" for s, n in plan["counts"].items())
            + " | Parameters: " + ", ".join(f"{n} {s}" for s, n in params.items()))
    if plan["settings"]:
        text += f" | Pipeline settings: {len(plan['settings'])} changed"
    return text + f" | Risks: {len(plan['risks'])}"


def cache_line(plan: dict[str, Any]) -> str:
    """``Cache: 3 of 5 job steps will re-run on SageMaker (...); at most 2.5 instance-hours``."""
    cache = plan["cache_summary"]
    if not cache["job_steps"]:
        return ""
    rerun = cache["rerun"]
    text = (f"Cache: {len(rerun)} of {cache['job_steps']} job steps will re-run on SageMaker"
            + (f" ({', '.join(rerun)})" if rerun else ""))
    if cache["max_instance_hours"] is not None:
        text += f"; at most {cache['max_instance_hours']:g} instance-hours (upper bound: instance count × max runtime"
        text += f"; no bound for {', '.join(cache['unbounded'])})" if cache["unbounded"] else ")"
    return text


def title(plan: dict[str, Any], arrow: str) -> str:
    where = f"environment {plan['environment']}: " if plan["environment"] else ""
    return f"{where}{plan['base']} {arrow} {plan['head']}"


def step_title(step: dict[str, Any]) -> str:
    if step["status"] == "renamed":
        return f"{step['old_display_name']} renamed to {step['display_name']} ({step['type']})"
    return f"{step['display_name']} ({step['type']})"


def brief(text: str) -> str:
    """Code S3 URIs differ only in their content hash: show its first 12 digits."""
    return re.sub(r"/([0-9a-f]{12})[0-9a-f]{20,}/", r"/\1…/", text)


def causes(prediction: dict[str, Any]) -> str:
    return "; ".join(f"{c['reason']}" + (f" ({c['detail']})" if c["detail"] else "") for c in prediction["causes"])


def cost(prediction: dict[str, Any]) -> str:
    """``≤ 0.83 instance-h (1 × ml.m5.xlarge × 50 min)``, or why there is no bound."""
    item = prediction["cost"]
    if prediction["outcome"] == "hit" or not item:
        return ""
    if item["max_instance_hours"] is None:
        return f"no bound: {item['unknown']}" if item["unknown"] else ""
    return (f"≤ {item['max_instance_hours']:g} instance-h "
            f"({item['instance_count']} × {item['instance_type']} × {duration(item['max_runtime_seconds'])} max runtime)")


def _shown_predictions(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Job steps, the ones that cost; the others run on every execution anyway."""
    return [p for p in plan["cache"] if p["job"]]


# -- text ---------------------------------------------------------------------------------------
def _text_risks(plan: dict[str, Any]) -> list[str]:
    lines = ["", "Risks:"]
    for risk in plan["risks"]:
        lines.append(f"  ! [{risk['kind']}] {risk['message']}")
        lines.append(f"      {'step' if len(risk['steps']) == 1 else 'steps'}: {', '.join(risk['steps'])}")
    return lines


def _text_step(step: dict[str, Any]) -> list[str]:
    lines = [f"  {_SIGNS[step['status']]} {step_title(step)}"]
    width = max([len(c["category"]) for c in step["changes"]] + [len(a["name"]) for a in step["attributes"]],
                default=0)
    lines += [f"      {a['name']:<{width}}  {brief(a['value'])}" for a in step["attributes"]]
    for change in step["changes"]:
        lines.append(f"      {change['category']:<{width}}  {change['path']}: {brief(change['before'])} -> "
                     f"{brief(change['after'])}")
        if change["note"]:
            lines.append(f"      {'':<{width}}  files {change['note']}")
    if step["downstream"]:
        lines.append(f"      downstream: {', '.join(step['downstream'])}")
    return lines


def _text_parameter(parameter: dict[str, Any]) -> str:
    sign, name = _SIGNS[parameter["status"]], parameter["name"]
    if parameter["status"] == "changed":
        return f"  {sign} {name}: {parameter['before']} -> {parameter['after']}"
    return f"  {sign} {name} ({parameter['after'] if parameter['status'] == 'added' else parameter['before']})"


def _text_cache(predictions: list[dict[str, Any]]) -> list[str]:
    lines = ["", "Cache on SageMaker (predicted, assuming the base is what ran last):"]
    width = max(len(p["display_name"]) for p in predictions)
    for prediction in predictions:
        lines.append(f"  {_OUTCOMES[prediction['outcome']]}  {prediction['display_name']:<{width}}  {causes(prediction)}")
        if cost(prediction):
            lines.append(f"        {'':<{width}}  {cost(prediction)}")
    return lines


def text(plan: dict[str, Any]) -> str:
    lines = [f"Plan: {title(plan, '->')}", summary(plan)]
    if not plan["has_changes"]:
        return "\n".join(lines) + "\n"
    lines += [cache_line(plan)] if cache_line(plan) else []
    lines += _text_risks(plan) if plan["risks"] else []
    lines += ["", "Steps:"] + [line for step in plan["steps"] for line in _text_step(step)] if plan["steps"] else []
    lines += ["", "Parameters:"] + [_text_parameter(p) for p in plan["parameters"]] if plan["parameters"] else []
    if plan["settings"]:
        lines += ["", "Pipeline settings:"] + [f"  ~ {c['path']}: {c['before']} -> {c['after']}" for c in plan["settings"]]
    lines += _text_cache(_shown_predictions(plan)) if _shown_predictions(plan) else []
    return "\n".join(lines) + "\n"


# -- markdown -----------------------------------------------------------------------------------
def _md(value: str) -> str:
    return "`" + value.replace("`", "'").replace("|", "\\|") + "`"


def _markdown_step(step: dict[str, Any]) -> list[str]:
    lines = [f"- `{_SIGNS[step['status']]}` **{step_title(step)}** {step['status']}"]
    lines += [f"  - {a['name']}: {_md(brief(a['value']))}" for a in step["attributes"]]
    for change in step["changes"]:
        lines.append(f"  - {change['category']}: {_md(change['path'])}: {_md(brief(change['before']))} → "
                     f"{_md(brief(change['after']))}" + (f" (files {change['note']})" if change["note"] else ""))
    if step["downstream"]:
        lines.append(f"  - downstream: {', '.join(step['downstream'])}")
    return lines


def _markdown_cache(predictions: list[dict[str, Any]]) -> list[str]:
    lines = ["", "#### Cache on SageMaker (predicted)", "", "| Step | Outcome | Why | Cost of a re-run |",
             "|---|---|---|---|"]
    return lines + [f"| {p['display_name']} | {p['outcome']} | {causes(p).replace('|', '/')} | {cost(p)} |"
                    for p in predictions]


def _markdown_graphs(plan: dict[str, Any]) -> list[str]:
    lines = []
    for heading, graph in (("Before", plan["before_graph"]), ("After", plan["after_graph"])):
        if graph:
            lines += ["", f"<details><summary>{heading}</summary>", "", "```mermaid", graph.rstrip(), "```", "",
                      "</details>"]
    return lines


def markdown(plan: dict[str, Any]) -> str:
    lines = [f"### smpipe-gen plan: {title(plan, '→')}", "", f"**{summary(plan)}**"]
    if not plan["has_changes"]:
        return "\n".join(lines) + "\n"
    lines += ["", cache_line(plan)] if cache_line(plan) else []
    if plan["risks"]:
        lines += ["", "#### ⚠️ Risks", ""]
        lines += [f"- **{r['kind']}** {r['message']} ({', '.join(_md(s) for s in r['steps'])})" for r in plan["risks"]]
    lines += ["", "#### Steps", ""] + [line for step in plan["steps"] for line in _markdown_step(step)] \
        if plan["steps"] else []
    if plan["parameters"]:
        lines += ["", "#### Parameters", "", "| | Parameter | Before | After |", "|---|---|---|---|"]
        lines += [f"| {_SIGNS[p['status']]} | {p['name']} | {_md(p['before'])} | {_md(p['after'])} |"
                  for p in plan["parameters"]]
    if plan["settings"]:
        lines += ["", "#### Pipeline settings", ""]
        lines += [f"- {_md(c['path'])}: {_md(c['before'])} → {_md(c['after'])}" for c in plan["settings"]]
    lines += _markdown_cache(_shown_predictions(plan)) if _shown_predictions(plan) else []
    return "\n".join(lines + _markdown_graphs(plan)) + "\n"


RENDERERS: dict[Format, Callable[[dict[str, Any]], str]] = {Format.TEXT: text, Format.MARKDOWN: markdown}


# Characters a terminal acts on (C0 but tab and line feed, DEL, C1): a definition's string holding
# ESC could rewrite the line above the one the plan prints it on.
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _inert(text: str) -> str:
    """``text`` with every terminal control character written as its escape (``\\x1b``)."""
    return _TERMINAL_CONTROLS.sub(lambda match: repr(match.group())[1:-1], text)


def render(machine_plan: dict[str, Any], output_format: Format | str) -> str:
    """One machine plan (as JSON data, e.g. a saved ``--format json``) as text or markdown."""
    return _inert(RENDERERS[Format(output_format)](machine_plan))


def format_plans(plans: list[Plan], output_format: Format | str) -> str:
    """One plan as before; several (one per environment) as one section each, or for JSON a
    list of machine plans."""
    output_format = Format(output_format)
    machine = [to_json(plan) for plan in plans]
    if output_format is Format.JSON:
        return artifacts.canonical_json(machine[0] if len(plans) == 1 and plans[0].environment is None else machine)
    return "\n".join(render(plan, output_format) for plan in machine)
