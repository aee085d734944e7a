"""The plan's renderers: text (a terminal), markdown (a PR comment), JSON (the machine plan
itself). Each reads only the machine plan's JSON (model.to_json), as Terraform's renderer reads
its JSON plan, so what a reviewer reads is what ``--format json`` gives a program.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, Callable

from smpipe_gen import canonical
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


def effect_line(effect: dict[str, Any]) -> str:
    return f"{effect['display_name']} {effect['effect']}"


def unshipped_line(item: dict[str, Any]) -> str:
    """``scripts/helper.py (scripts/preprocess.py:4 starts it with subprocess; abalone-Preprocess)``."""
    return f"{', '.join(item['targets'])} ({item['file']}:{item['line']} {item['how']}; {', '.join(item['steps'])})"


def forecast_line(plan: dict[str, Any]) -> str:
    return plan["forecast"]["assumption"] if plan.get("forecast") else ""


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
        lines += [f"      {'':<{width}}  files {change['note']}"] if change["note"] else []
        lines += [f"      {'':<{width}}  {change['when']}"] if change["when"] else []
    if step["downstream"]:
        lines.append(f"      downstream: {', '.join(step['downstream'])}")
    return lines


def _text_parameter(parameter: dict[str, Any]) -> str:
    sign, name = _SIGNS[parameter["status"]], parameter["name"]
    if parameter["status"] == "changed":
        return f"  {sign} {name}: {parameter['before']} -> {parameter['after']}"
    return f"  {sign} {name} ({parameter['after'] if parameter['status'] == 'added' else parameter['before']})"


def _text_cache(plan: dict[str, Any]) -> list[str]:
    predictions = _shown_predictions(plan)
    lines = ["", "Cache on SageMaker (predicted):"] + ([f"  ({forecast_line(plan)})"] if forecast_line(plan) else [])
    width = max(len(p["display_name"]) for p in predictions)
    for prediction in predictions:
        lines.append(f"  {_OUTCOMES[prediction['outcome']]}  {prediction['display_name']:<{width}}  {causes(prediction)}")
        if cost(prediction):
            lines.append(f"        {'':<{width}}  {cost(prediction)}")
    return lines


def text(plan: dict[str, Any]) -> str:
    lines = [f"Plan: {title(plan, '->')}", summary(plan)]
    lines += [cache_line(plan)] if plan["has_changes"] and cache_line(plan) else []
    lines += ["", "Unshipped files:"] + [f"  ! {unshipped_line(u)}" for u in plan["unshipped"]] if plan["unshipped"] else []
    if not plan["has_changes"]:
        return "\n".join(lines) + "\n"
    lines += _text_risks(plan) if plan["risks"] else []
    lines += ["", "Steps:"] + [line for step in plan["steps"] for line in _text_step(step)] if plan["steps"] else []
    lines += ["", "Parameters:"] + [_text_parameter(p) for p in plan["parameters"]] if plan["parameters"] else []
    if plan["settings"]:
        lines += ["", "Pipeline settings:"] + [f"  ~ {c['path']}: {c['before']} -> {c['after']}" for c in plan["settings"]]
    lines += _text_cache(plan) if _shown_predictions(plan) else []
    lines += ["", "Runs on every execution:"] + [f"  {effect_line(e)}" for e in plan["effects"]] if plan["effects"] else []
    return "\n".join(lines) + "\n"


# -- markdown -----------------------------------------------------------------------------------
# Everything a plan holds may come from the pull request (step names, config values, file names,
# the environment's name), so the markdown renderer puts every such text in a code span (code):
# GitHub makes no emphasis, link, HTML, @mention, #reference or autolink of a code span's text.
# Line breaks and other control characters become spaces (a line could otherwise start a block:
# ``<!--`` opens an HTML comment that hides the rest of the comment), the fence is longer than any
# run of backticks inside, and in a table cell ``|`` is escaped. Only our own words stay plain.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def code(value: Any, table: bool = False) -> str:
    """``value`` as a GitHub-flavoured markdown code span that nothing inside can leave."""
    text = _CONTROL.sub(" ", str(value))
    if table:
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{text}{pad}{fence}" if text.strip() else "` `"


def _codes(values: list[Any], table: bool = False) -> str:
    return ", ".join(code(value, table) for value in values)


def _md_title(plan: dict[str, Any]) -> str:
    where = f"environment {code(plan['environment'])}: " if plan["environment"] else ""
    return f"### smpipe-gen plan · {where}{code(plan['base'])} → {code(plan['head'])}"


def _md_reruns(plan: dict[str, Any]) -> str:
    cache = plan["cache_summary"]
    if not cache["job_steps"]:
        return "no job steps"
    text = f"{len(cache['rerun'])} of {cache['job_steps']} job steps" + \
        (f" ({_codes(cache['rerun'])})" if cache["rerun"] else "")
    if cache["max_instance_hours"] is not None:
        text += f"; at most {cache['max_instance_hours']:g} instance-hours (instance count × max runtime)"
    if cache["unbounded"]:
        text += f"; no instance-hour bound for {_codes(cache['unbounded'])}"
    return text


def _md_verdict(plan: dict[str, Any]) -> list[str]:
    """One line each: what re-runs and what it may cost, risks, unshipped files, what runs on
    every execution, what the forecast assumes."""
    risks = "; ".join(f"**{r['kind']}**: {code(r['message'])} ({_codes(r['steps'])})" for r in plan["risks"])
    lines = [f"- **Re-runs on SageMaker:** {_md_reruns(plan)}", f"- **Risks:** {risks or 'none'}",
             "- **Unshipped files:** " + ("; ".join(code(unshipped_line(u)) for u in plan["unshipped"]) or "none")]
    if plan["effects"]:
        lines.append("- **Runs on every execution:** "
                     + "; ".join(f"{code(e['display_name'])} {code(e['effect'])}" for e in plan["effects"]))
    lines.append(f"- **Changes:** {summary(plan)}")
    if forecast_line(plan):
        lines.append(f"- **Cache forecast:** {code(forecast_line(plan))}")
    return lines


def _markdown_step(step: dict[str, Any]) -> list[str]:
    name = f"{code(step['old_display_name'])} → {code(step['display_name'])}" if step["status"] == "renamed" \
        else code(step["display_name"])
    lines = [f"- `{_SIGNS[step['status']]}` **{step['status']}** {name} ({code(step['type'])})"]
    lines += [f"  - {a['name']}: {code(brief(a['value']))}" for a in step["attributes"]]
    for change in step["changes"]:
        lines.append(f"  - {change['category']} {code(change['path'])}: {code(brief(change['before']))} → "
                     f"{code(brief(change['after']))}" + (f", files {code(change['note'])}" if change["note"] else "")
                     + (f"; {code(change['when'])}" if change["when"] else ""))
    return lines


def _markdown_cache(predictions: list[dict[str, Any]]) -> list[str]:
    lines = ["", "#### Cache on SageMaker (predicted)", "", "| Step | Outcome | Why | Cost of a re-run |",
             "|---|---|---|---|"]
    return lines + [f"| {code(p['display_name'], True)} | {p['outcome']} | {code(causes(p), True)} | "
                    f"{code(cost(p), True) if cost(p) else ''} |" for p in predictions]


def markdown(plan: dict[str, Any]) -> str:
    lines = [_md_title(plan), ""]
    if not plan["has_changes"]:
        lines.append("**No changes.**")
        lines += ["", f"- **Unshipped files:** {'; '.join(code(unshipped_line(u)) for u in plan['unshipped'])}"] \
            if plan["unshipped"] else []
        return "\n".join(lines) + "\n"
    lines += _md_verdict(plan)
    lines += ["", "#### Steps", ""] + [line for step in plan["steps"] for line in _markdown_step(step)] \
        if plan["steps"] else []
    if plan["parameters"]:
        lines += ["", "#### Parameters", "", "| | Parameter | Before | After |", "|---|---|---|---|"]
        lines += [f"| {_SIGNS[p['status']]} | {code(p['name'], True)} | {code(p['before'], True)} | "
                  f"{code(p['after'], True)} |" for p in plan["parameters"]]
    if plan["settings"]:
        lines += ["", "#### Pipeline settings", ""]
        lines += [f"- {code(c['path'])}: {code(c['before'])} → {code(c['after'])}" for c in plan["settings"]]
    lines += _markdown_cache(_shown_predictions(plan)) if _shown_predictions(plan) else []
    if plan["graph"]:
        lines += ["", "<details><summary>Graph (changed steps marked)</summary>", "", "```mermaid",
                  plan["graph"].rstrip(), "```", "", "</details>"]
    return "\n".join(lines) + "\n"


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
        return canonical.canonical_json(machine[0] if len(plans) == 1 and plans[0].environment is None else machine)
    return "\n".join(render(plan, output_format) for plan in machine)
