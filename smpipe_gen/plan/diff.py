"""The semantic diff of two definition models, turned into the machine plan.

Steps are matched by name, then leftover removed/added pairs of the same type are matched by
body (a rename). Each changed leaf of a step gets a category (rules.CATEGORY_RULES); some
categories are risks whatever the step (rules.RISK_RULES), reported once with every step they
touch; a removed gate, a step moved under another gate and a model approved without review are
risks too. Added and removed steps carry their attributes; every step the head runs gets a
predicted cache outcome (cache.py).
"""

from __future__ import annotations

import json
from typing import Any

from smpipe_gen import drawing
from smpipe_gen.definition import Definition, Edge, Step
from smpipe_gen.json_values import thaw
from smpipe_gen.plan import cache
from smpipe_gen.plan.attributes import attributes
from smpipe_gen.plan.model import (MISSING, CacheBasis, CacheOutcome, CachePrediction, Category, Change, Effect,
                                   Forecast, ParameterDiff, PipelineAction, PipelineChange, Plan, Risk, RiskKind,
                                   Status, StepDiff)
from smpipe_gen.plan.changes import leaf_changes
from smpipe_gen.plan.rules import RISK_RULES, spelled, waits_for_rerun
from smpipe_gen.steps import step_type
from smpipe_gen.plan.values import flatten, rewrite, show

RENAME_SIMILARITY = 0.8


def comparable(step: Step) -> dict[str, Any]:
    """What a step's diff covers: its own body (a Condition's without its branches' steps)
    without its name, plus the gate it sits under."""
    body = {key: value for key, value in step.own_json().items() if key != "Name"}
    if step.condition:
        body["Gate"] = f"{step.condition} ({step.branch})"
    return body


def _similarity(before: dict[str, Any], after: dict[str, Any]) -> float:
    old = {(p, json.dumps(v, sort_keys=True)) for p, v in flatten(before).items()}
    new = {(p, json.dumps(v, sort_keys=True)) for p, v in flatten(after).items()}
    return len(old & new) / max(len(old | new), 1)


def renames(removed: list[Step], added: list[Step]) -> dict[str, str]:
    """Old name -> new name for removed/added pairs of one type whose bodies (with renamed
    steps' names abstracted away) are equal or nearly so; best pairs first. Repeats while new
    renames turn up, since renaming a step changes the references of the steps reading it."""
    result: dict[str, str] = {}
    while True:
        scored = []
        for old in removed:
            if old.name in result:
                continue
            for new in added:
                if old.type != new.type or new.name in result.values():
                    continue
                score = _similarity(rewrite(comparable(old), {**result, old.name: new.name}), comparable(new))
                if score >= RENAME_SIMILARITY:
                    scored.append((score, old.name, new.name))
        found: dict[str, str] = {}
        for _score, old_name, new_name in sorted(scored, key=lambda s: (-s[0], s[1], s[2])):
            if old_name not in found and new_name not in found.values():
                found[old_name] = new_name
        if not found:
            return result
        result.update(found)


def _parameters(before: Definition, after: Definition) -> list[ParameterDiff]:
    def spell(parameter: Any) -> str:
        default = f", default {show(thaw(parameter.default))}" if parameter.default is not None else ""
        return f"{parameter.type}{default}"

    old = {p.name: p for p in before.parameters}
    new = {p.name: p for p in after.parameters}
    diffs = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            diffs.append(ParameterDiff(name, Status.ADDED, MISSING, spell(new[name])))
        elif name not in new:
            diffs.append(ParameterDiff(name, Status.REMOVED, spell(old[name]), MISSING))
        elif old[name] != new[name]:
            diffs.append(ParameterDiff(name, Status.CHANGED, spell(old[name]), spell(new[name])))
    return diffs


def code_note(old: Step, new: Step) -> str:
    """Which repository files make the two steps' code differ ("" without manifests)."""
    before, after = old.code_files(), new.code_files()
    if not before or not after:
        return ""
    parts = [f"{label}: {', '.join(paths)}" for label, paths in (
        ("changed", sorted(p for p in before.keys() & after.keys() if before[p] != after[p])),
        ("added", sorted(after.keys() - before.keys())), ("removed", sorted(before.keys() - after.keys()))) if paths]
    return "; ".join(parts)


def _approval(step: Step, model: Definition) -> str | None:
    """The approval status a RegisterModel step gives by default (parameters resolved)."""
    value = thaw(step.arguments.get("ModelApprovalStatus"))
    if isinstance(value, dict) and isinstance(value.get("Get"), str) and value["Get"].startswith("Parameters."):
        name = value["Get"][len("Parameters."):]
        value = next((p.default for p in model.parameters if p.name == name), None)
    return value if isinstance(value, str) else None


class _Risks:
    """Risks collected once per (kind, message), with every step that has them."""

    def __init__(self) -> None:
        self.found: dict[tuple[RiskKind, str], Risk] = {}

    def add(self, kind: RiskKind, message: str, step: str) -> None:
        risk = self.found.setdefault((kind, message), Risk(kind, message))
        if step not in risk.steps:
            risk.steps.append(step)


def _risks(diffs: list[StepDiff], before: Definition, after: Definition, settings: list[Change]) -> list[Risk]:
    risks = _Risks()
    for diff in diffs:
        if diff.status is Status.REMOVED and step_type(before[diff.name].type).gate:
            guarded = [s.display_name for s in before if s.condition == diff.name]
            risks.add(RiskKind.GATE, f"{before[diff.name].type} step removed: a quality gate is gone"
                      + (f" (it guarded {', '.join(guarded)})" if guarded else ""), diff.display_name)
        for change in diff.changes:
            if change.category in RISK_RULES:
                kind, message = RISK_RULES[change.category]
                risks.add(kind, message(change), diff.display_name)
            elif change.category is Category.GATE and change.before.split(" (")[0] in after:
                risks.add(RiskKind.GATE, f"runs under a different gate: {change.before} -> {change.after}",
                          diff.display_name)
            elif change.category is Category.CONDITION and step_type(after[diff.name].type).branches:
                risks.add(RiskKind.GATE, f"gate condition changes: {change.before} -> {change.after}",
                          diff.display_name)
    renamed = {d.name: d.old_name for d in diffs if d.old_name}
    for step in after:
        if not step_type(step.type).registers_model or _approval(step, after) != "Approved":
            continue
        old = before.steps.get(renamed.get(step.name, step.name))
        was = _approval(old, before) if old else "not registered"
        if was != "Approved":
            risks.add(RiskKind.APPROVAL, f"models are registered as Approved without manual review (was {was})",
                      step.display_name)
    for change in settings:  # the pipeline's own role: the same risk as its steps' when it is the same change
        if change.category in RISK_RULES:
            kind, message = RISK_RULES[change.category]
            risks.add(kind, message(change), "pipeline")
    return list(risks.found.values())


def _step_diff(step: Step, model: Definition, status: Status, old: Step | None = None,
               changes: list[Change] | None = None) -> StepDiff:
    return StepDiff(name=step.name, display_name=step.display_name, type=step.step_class, status=status,
                    old_name=old.name if old else None, old_display_name=old.display_name if old else None,
                    model=step.model, changes=changes or [],
                    attributes=attributes(step, model) if status in (Status.ADDED, Status.REMOVED) else [],
                    downstream=[model[name].display_name for name in model.downstream(step.name)])


def _definition_settings(before: Definition, after: Definition) -> list[Change]:
    """Pipeline-level keys of the definition (experiment config, ...) that differ."""
    old, new = before.json(), after.json()
    if not old:
        return []
    return [Change(Category.DEFINITION, key, show(old.get(key, MISSING)), show(new.get(key, MISSING)))
            for key in sorted((set(old) | set(new)) - {"Steps", "Parameters"}) if old.get(key) != new.get(key)]


def compare(before: Definition, after: Definition, *, base: str, head: str, settings: list[Change] | None = None,
            environment: str | None = None, pipeline_name: str | None = None,
            history: cache.History | None = None) -> Plan:
    """The machine plan from ``before`` to ``after`` (an empty definition stands for "no
    pipeline"); ``settings`` are changed pipeline settings (manifest or DescribePipeline), where
    a changed ``name`` makes the head a new pipeline beside the old one; with ``history`` (what
    ran, history.py) the cache forecast compares with the runs instead of the base."""
    removed = [step for step in before if step.name not in after]
    added = [step for step in after if step.name not in before]
    renamed = renames(removed, added)
    new_names = {new: old for old, new in renamed.items()}
    diffs: list[StepDiff] = []
    for step in after:
        old = before.steps.get(new_names.get(step.name, step.name))
        if old is None:
            diffs.append(_step_diff(step, after, Status.ADDED))
            continue
        changes = leaf_changes(rewrite(comparable(old), renamed), comparable(step))
        note = code_note(old, step) if any(c.category is Category.CODE for c in changes) else ""
        for change in changes:
            if change.category is Category.CODE:
                change.note = note
        if old.name != step.name:
            diffs.append(_step_diff(step, after, Status.RENAMED, old, changes))
        elif changes:
            diffs.append(_step_diff(step, after, Status.CHANGED, None, changes))
    diffs += [_step_diff(step, before, Status.REMOVED) for step in removed if step.name not in renamed]
    all_settings = list(settings or []) + _definition_settings(before, after)
    pipeline = _pipeline_change(before, all_settings, pipeline_name, bool(diffs))
    replaced = pipeline.name if pipeline.action is PipelineAction.REPLACE else None
    predictions = cache.predict(before, after, renamed, {d.name: c.note for d in diffs for c in d.changes if c.note},
                                cache.changed_code(before, after), new_pipeline=replaced)
    forecast = Forecast(CacheBasis.BASE, f"assumes {base} is what ran last on SageMaker (offline; "
                        "--cache-history reads the executions that ran)")
    if history is not None:
        predictions = cache.predict_from_runs(after, predictions, history.runs, history.now)
        forecast = Forecast(CacheBasis.EXECUTIONS, history.assumption, history.executions)
    _say_when(diffs, after, predictions)
    risks = _risks(diffs, before, after, all_settings)
    if replaced:
        risks.insert(0, Risk(RiskKind.REPLACEMENT, f"pipeline {pipeline.replaces} is replaced by {replaced}, a new "
                             f"pipeline: no cache (every step runs) and no executions; {pipeline.replaces}'s executions "
                             f"stay under its name, and {pipeline.replaces} is not deleted", ["pipeline"]))
    topology = _topology_changed(before, after, renamed)
    return Plan(base=base, head=head, environment=environment, steps=diffs, parameters=_parameters(before, after),
                settings=all_settings, risks=risks, cache=predictions,
                forecast=forecast,
                pipeline=pipeline, effects=_effects(after, predictions), topology_changed=topology,
                graph=_graph(before, after, diffs, renamed) if topology else "")


def _pipeline_change(before: Definition, settings: list[Change], name: str | None, steps_change: bool) -> PipelineChange:
    """Create, update or replace: a new name is a new pipeline (SageMaker has no rename)."""
    renamed = next((c for c in settings if c.category is Category.PIPELINE and c.path == "name"
                    and MISSING not in (c.before, c.after)), None)
    if renamed is not None:
        return PipelineChange(name, PipelineAction.REPLACE, str(json.loads(renamed.before)))
    if not len(before):
        return PipelineChange(name, PipelineAction.CREATE)
    return PipelineChange(name, PipelineAction.UPDATE if steps_change or settings else PipelineAction.NONE)


def _say_when(diffs: list[StepDiff], after: Definition, predictions: list[CachePrediction]) -> None:
    """A change outside the cache key of a step that hits waits for the step to run again."""
    hits = {p.step: p for p in predictions if p.outcome is CacheOutcome.HIT}
    for diff in diffs:
        prediction = hits.get(diff.name)
        if prediction is None:
            continue
        expiry = f" (a hit reuses a run younger than {prediction.expire_after})" if prediction.expire_after else ""
        for change in diff.changes:
            if waits_for_rerun(after[diff.name].type, change):
                change.when = (f"takes effect only when {diff.display_name} runs again: its cache key is unchanged, "
                               f"so executions reuse its cached result{expiry}")


def _effects(after: Definition, predictions: list[CachePrediction]) -> list[Effect]:
    runs = {p.step for p in predictions if p.outcome is CacheOutcome.RUNS}
    def spell(value: Any) -> str:
        return spelled(value, after)

    return [Effect(step.name, step.display_name, step.step_class, effect(step.json(), spell))
            for step in after if step.name in runs for effect in [step_type(step.type).effect] if effect]


def _edge_set(model: Definition, names: dict[str, str]) -> set[tuple[str, str, str]]:
    return {(names.get(e.source, e.source), names.get(e.target, e.target), e.kind) for e in model.edges()}


def _topology_changed(before: Definition, after: Definition, renamed: dict[str, str]) -> bool:
    """Steps added, removed or renamed, or edges that differ: what a graph shows."""
    return set(rewrite(list(before.steps), renamed)) != set(after.steps) or \
        _edge_set(before, renamed) != _edge_set(after, {})


def _graph(before: Definition, after: Definition, diffs: list[StepDiff], renamed: dict[str, str]) -> str:
    """The head's graph with the removed steps and their edges drawn in, each changed step marked."""
    marks = {d.name: d.status.value for d in diffs}
    gone = [before[d.name] for d in diffs if d.status is Status.REMOVED]
    names = {step.name for step in gone}
    edges = [Edge(renamed.get(e.source, e.source), renamed.get(e.target, e.target), e.kind)
             for e in before.edges() if e.source in names or e.target in names]
    return drawing.mermaid(after, marks, gone, edges)


def settings_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Pipeline settings (from the manifest, or DescribePipeline) that differ; a role change
    is categorized so it is reported as a risk."""
    return [Change(Category.ROLE if key == "role_arn" else Category.PIPELINE, key,
                   show(before.get(key, MISSING)), show(after.get(key, MISSING)))
            for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]
