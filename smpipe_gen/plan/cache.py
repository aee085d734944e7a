"""The cache outcome SageMaker will give each step on the next execution, predicted from the
base definition (assumed to be the last one that ran) and the head.

SageMaker's rules, as its developer guide states them:
- Only some step types are cached (the registry's cache_key, smpipe_gen/steps/); the others (CreateModel, RegisterModel,
  Condition, Fail, ...) run on every execution.
- A step with ``CacheConfig.Enabled`` reuses a previous successful run of the same step name in
  the same pipeline whose cache key is equal, if that run is younger than ``ExpireAfter``.
- The cache key is the step type's key arguments (the registry's cache_key, smpipe_gen/steps/) with every expression
  resolved: parameters, execution variables and other steps' properties. SageMaker does not
  look at the data or code an S3 URI points to: code changes reach the key through its URI,
  whose path carries the code's hash.
- A step that hits the cache returns the properties of the run it reuses, so steps reading them
  can hit too. A step that runs again gets a new job name, and its output paths hold the
  execution id when the SDK built them (``Join(..., Execution.PipelineExecutionId, ...)``):
  every step reading those properties misses. An output path without an execution variable
  stays the same, and a step reading it hits even though the data under it changed.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Iterator, Mapping

from smpipe_gen.definition import Definition, Step, expire_seconds
from smpipe_gen.json_values import thaw
from smpipe_gen.plan.changes import leaf_changes
from smpipe_gen.plan.model import MISSING, CacheCost, CacheOutcome, CachePrediction, CacheReason, CauseDetail, Change
from smpipe_gen.plan.rules import OUTPUT_PATHS, Category
from smpipe_gen.steps import step_type
from smpipe_gen.plan.values import dig, rewrite, show

_STEP_REFERENCE = re.compile(r"^Steps\.(?P<step>[^.\[]+)[.\[]?(?P<path>.*)$")


def cache_key(step: Step) -> dict[str, Any]:
    """The step's arguments that SageMaker's cache key is made of, by argument path."""
    args = thaw(step.arguments)
    return {path: dig(args, path) for path in step_type(step.type).cache_key or () if dig(args, path) is not None}


def _gets(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for name, item in value.items():
            if name == "Get" and isinstance(item, str):
                yield item
            else:
                yield from _gets(item)
    elif isinstance(value, list):
        for item in value:
            yield from _gets(item)


def changed_code(before: Definition, after: Definition) -> set[str]:
    """Repository files some step runs whose content differs between the two renders."""
    old = {path: sha for step in before for path, sha in step.code_files().items()}
    return {path for step in after for path, sha in step.code_files().items() if old.get(path, sha) != sha}


def _untouched_code(step: Step, changed: set[str]) -> str:
    """The changed files next to this step's code that its bundle does not hold (each step
    ships only what its entry point reaches), so they leave its cache key alone."""
    own = [f.path for code in step.code if code.artifact for f in code.artifact.files]
    if not own or not changed:
        return ""
    directory = posixpath.commonpath([posixpath.dirname(path) for path in own])
    near = sorted(path for path in changed - set(own) if not directory or path.startswith(directory + "/"))
    return f"{', '.join(near)} changed, but this step does not ship {'it' if len(near) == 1 else 'them'}" \
        if near else ""


def _varies_per_run(upstream: Step, path: str) -> bool:
    """Whether the property ``path`` of ``upstream`` takes a new value when it runs again."""
    for pattern in OUTPUT_PATHS:
        match = pattern.match(path)
        if not match:
            continue
        args = thaw(upstream.arguments)
        if "name" in match.groupdict():
            outputs = dig(args, "ProcessingOutputConfig.Outputs") or []
            uri = next((dig(o, "S3Output.S3Uri") for o in outputs if o.get("OutputName") == match["name"]), None)
        else:
            uri = dig(args, "TransformOutput.S3OutputPath")
        return uri is None or any(not get.startswith("Parameters.") for get in _gets(uri))
    return True  # job names, model names and ARNs are new on every run


def _cost(step: Step) -> CacheCost | None:
    """An upper bound of the instance hours of a job step, from its config: instance count x
    max runtime (x the maximum number of training jobs for a tuning step)."""
    kind = step_type(step.type)
    if not kind.cacheable:
        return None
    args = thaw(step.arguments)
    jobs = dig(args, "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs") \
        if step.type == "Tuning" else 1
    args = kind.job_arguments(args)
    if kind.resources is None:
        return CacheCost(unknown=f"no instance limits known for {step.type} steps")
    paths, runtime_path = kind.resources
    resources = next((dig(args, path) for path in paths if isinstance(dig(args, path), dict)), {})
    count, instance_type = resources.get("InstanceCount", 1), resources.get("InstanceType")
    runtime = dig(args, runtime_path) if runtime_path else None
    cost = CacheCost(instance_type=instance_type if isinstance(instance_type, str) else None,
                     instance_count=count if isinstance(count, int) else None,
                     max_runtime_seconds=runtime if isinstance(runtime, int) else None)
    if runtime_path is None:
        cost.unknown = f"{step.type} jobs have no max runtime"
    elif cost.max_runtime_seconds is None:
        cost.unknown = "no MaxRuntimeInSeconds in the definition"
    elif cost.instance_count is None or cost.instance_type is None or not isinstance(jobs, int):
        cost.unknown = "the instance type or count, or the number of jobs, is a parameter or missing"
    else:
        cost.max_instance_hours = round(jobs * cost.instance_count * cost.max_runtime_seconds / 3600, 2)
    return cost


def _argument_causes(old: Step, new: Step, renamed: dict[str, str], note: str) -> list[CauseDetail]:
    changes = leaf_changes(rewrite(cache_key(old), renamed), cache_key(new))
    code = [c.path for c in changes if c.category is Category.CODE]
    other = [_spelled(c) for c in changes if c.category is not Category.CODE]
    return ([CauseDetail(CacheReason.CODE, note or ", ".join(code))] if code else []) + \
        ([CauseDetail(CacheReason.ARGUMENTS, "; ".join(other))] if other else [])


def _spelled(change: Change) -> str:
    """``hyperparameter num_round: 50 -> 60``; ``InputDataConfig[x] added`` for a whole item."""
    if change.before == MISSING and change.after.startswith("{"):
        return f"{change.path} added"
    if change.after == MISSING and change.before.startswith("{"):
        return f"{change.path} removed"
    return f"{_argument(change.path)}: {change.before} -> {change.after}"


def _property(path: str) -> str:
    """``output train`` for a processing output's S3 URI; other property paths as they are."""
    for pattern in OUTPUT_PATHS:
        match = pattern.match(path)
        if match:
            return f"output {match['name']}" if "name" in match.groupdict() else "transform output"
    return path


def _argument(path: str) -> str:
    """``hyperparameter num_round`` for ``HyperParameters.num_round``; other paths as they are."""
    return f"hyperparameter {path[len('HyperParameters.'):]}" if path.startswith("HyperParameters.") else path


def _expression_causes(step: Step, before: Definition, after: Definition,
                       outcomes: dict[str, CachePrediction]) -> list[CauseDetail]:
    """Causes that come from what the key's expressions resolve to on the next execution:
    execution variables, parameter defaults, upstream steps' properties."""
    gets = list(dict.fromkeys(_gets(list(cache_key(step).values()))))
    causes = [CauseDetail(CacheReason.EXECUTION_VARIABLE, f"{get} differs on every execution")
              for get in gets if get.startswith("Execution.")]
    old_parameters = {p.name: p for p in before.parameters}
    for parameter in after.parameters:
        old = old_parameters.get(parameter.name)
        if f"Parameters.{parameter.name}" in gets and (old is None or old.default != parameter.default):
            was = "new parameter" if old is None else f"default {show(thaw(old.default))}"
            causes.append(CauseDetail(CacheReason.PARAMETER, f"{parameter.name}: {was} -> default "
                                      f"{show(thaw(parameter.default))} (when the execution uses the defaults)"))
    return causes + _upstream_causes(gets, after, outcomes)


def _upstream_causes(gets: list[str], after: Definition, outcomes: dict[str, CachePrediction]) -> list[CauseDetail]:
    """One cause per upstream step that runs and whose properties the key reads: a miss when
    they take new values, a warning when they stay the same (a fixed output path)."""
    changed: dict[str, list[str]] = {}  # upstream display name -> the properties it gives anew
    fixed: dict[str, list[str]] = {}
    when: dict[str, str] = {}
    for get in gets:
        match = _STEP_REFERENCE.match(get)
        upstream = outcomes.get(match["step"]) if match else None
        if upstream is None or upstream.outcome is CacheOutcome.HIT:
            continue
        varies = _varies_per_run(after[match["step"]], match["path"])
        (changed if varies else fixed).setdefault(upstream.display_name, []).append(_property(match["path"]))
        when[upstream.display_name] = "on every execution" if upstream.outcome is CacheOutcome.RUNS else "again"
    causes = [CauseDetail(CacheReason.UPSTREAM, f"{name} runs {when[name]}: new {', '.join(props)}")
              for name, props in changed.items()]
    return causes + [CauseDetail(CacheReason.FIXED_UPSTREAM_PATH, f"{name} runs {when[name]} but writes to the same "
                                 f"{', '.join(props)}: this step reuses its cached result even if that data changed")
                     for name, props in fixed.items() if name not in changed]


def _predict(step: Step, before: Definition, after: Definition, renamed: dict[str, str],
             outcomes: dict[str, CachePrediction], notes: dict[str, str], changed: set[str],
             new_pipeline: str | None = None) -> CachePrediction:
    job = step_type(step.type).cacheable
    prediction = CachePrediction(step=step.name, display_name=step.display_name, type=step.step_class,
                                 outcome=CacheOutcome.RUNS, job=job, cost=_cost(step),
                                 expire_after=step.cache.expire_after if step.cache else None)
    if not job:
        prediction.causes = [CauseDetail(CacheReason.NOT_CACHEABLE, f"SageMaker never caches {step.type} steps")]
        return prediction
    if step.cache is None or not step.cache.enabled:
        prediction.causes = [CauseDetail(CacheReason.DISABLED, "no CacheConfig" if step.cache is None else
                                         "CacheConfig.Enabled is false")]
        return prediction
    old_name = next((old for old, new in renamed.items() if new == step.name), step.name)
    old = before.steps.get(old_name)
    if new_pipeline:
        prediction.outcome = CacheOutcome.MISS
        prediction.causes = [CauseDetail(CacheReason.NEW_PIPELINE, f"{new_pipeline} is a new pipeline: SageMaker "
                                         "caches per pipeline, and it has no runs yet")]
        return prediction
    if old is None:
        causes = [CauseDetail(CacheReason.NEW_STEP, "no previous run")]
    elif old_name != step.name:
        causes = [CauseDetail(CacheReason.RENAMED, f"no previous run under this name (was {old.display_name})")]
    else:
        causes = _argument_causes(old, step, renamed, notes.get(step.name, ""))
    causes += _expression_causes(step, before, after, outcomes)
    misses = [c for c in causes if c.reason is not CacheReason.FIXED_UPSTREAM_PATH]
    prediction.outcome = CacheOutcome.MISS if misses else CacheOutcome.HIT
    kept = _untouched_code(step, changed)
    prediction.causes = causes if misses else \
        [_hit_cause(step, old)] + ([CauseDetail(CacheReason.UNCHANGED, kept)] if kept else []) + causes
    return prediction


def _hit_cause(step: Step, old: Step | None) -> CauseDetail:
    """Why a step with the base's cache key may still run: its cache policy."""
    expiry = step.cache.expire_after if step.cache else None
    was = old.cache if old is not None else None
    notes = []
    if was is not None and was.enabled and was.expire_after != expiry:
        notes.append(f"ExpireAfter was {was.expire_after or 'unset'}")
    if was is None or not was.enabled:
        notes.append("caching was off in the base: a hit needs a run made with caching on")
    note = f" ({'; '.join(notes)})" if notes else ""
    if expiry:
        return CauseDetail(CacheReason.EXPIRY, f"a hit only if the last run is younger than {expiry}{note}")
    return CauseDetail(CacheReason.UNCHANGED, f"same cache key as the base{note}")


def predict(before: Definition, after: Definition, renamed: dict[str, str],
            code_notes: dict[str, str] | None = None, changed: set[str] | None = None,
            new_pipeline: str | None = None) -> list[CachePrediction]:
    """One prediction per step of ``after``, in definition order; ``code_notes`` name the files
    behind each step's code change, ``changed`` every code file that changed (changed_code);
    ``new_pipeline`` names the head when it is a new pipeline (a rename): nothing hits."""
    outcomes: dict[str, CachePrediction] = {}
    for name in after.order():
        outcomes[name] = _predict(after[name], before, after, renamed, outcomes, code_notes or {}, changed or set(),
                                  new_pipeline)
    return [outcomes[step.name] for step in after]



@dataclass(frozen=True)
class Run:
    """One execution of the deployed pipeline, as its cache sees it."""

    arn: str
    started: datetime
    definition: Definition  # as it ran, each parameter's default the value it ran with
    succeeded: frozenset[str]  # steps whose run SageMaker may reuse
    # step -> the execution whose run it reused (a cache hit); None when the endpoint did not say
    sources: Mapping[str, str] | None = None


@dataclass(frozen=True)
class History:
    """What ran, for the forecast: the runs, the executions read and the one line saying so."""

    runs: list[Run]
    executions: list[Any]  # model.Execution
    assumption: str
    now: datetime


def predict_from_runs(after: Definition, offline: list[CachePrediction], runs: list[Run],
                      now: datetime) -> list[CachePrediction]:
    """The predictions of ``offline`` for cached job steps made again against the runs that
    happened: a step hits when a run of it within its ExpireAfter has its cache key, with the
    upstream results it reads being the ones that run read (reverts hit)."""
    return _match(after, offline, _with_sources(runs), now)


def _with_sources(runs: list[Run]) -> list[Run]:
    """The runs newest first, each with the earlier run every step of it reused: as listed by
    the endpoint, else inferred oldest first the way SageMaker decides a hit (_match)."""
    known: list[Run] = []
    for run in sorted(runs, key=lambda r: r.started):
        if run.sources is None:
            matched = _match(run.definition, predict(run.definition, run.definition, {}), known, run.started)
            run = replace(run, sources={p.step: p.source_execution for p in matched
                                        if p.outcome is CacheOutcome.HIT and p.source_execution})
        known.insert(0, run)
    return known


def _source(run: Run, step: str) -> str:
    return (run.sources or {}).get(step, run.arn)


def _match(after: Definition, offline: list[CachePrediction], runs: list[Run], now: datetime) -> list[CachePrediction]:
    final: dict[str, CachePrediction] = {}
    by_name = {p.step: p for p in offline}
    for name in after.order():
        step, prediction = after[name], by_name[name]
        if not prediction.job or prediction.outcome is CacheOutcome.RUNS or \
                any(c.reason is CacheReason.NEW_PIPELINE for c in prediction.causes):
            final[name] = prediction
            continue
        limit = expire_seconds(step.cache.expire_after if step.cache else None)
        tried: list[CachePrediction] = []
        for run in runs:
            source, ran = _source(run, name), run.started  # a hit in ``run`` is a successful run of it too
            if name not in run.succeeded or (limit is not None and (now - ran).total_seconds() > limit):
                continue
            view = {upstream: _as_seen_by(run, upstream, seen) for upstream, seen in final.items()}
            attempt = _predict(step, run.definition, after, {}, view, {}, set())
            if attempt.outcome is CacheOutcome.HIT:
                final[name] = replace(prediction, outcome=CacheOutcome.HIT, source_execution=source,
                                      ran=ran.isoformat(), causes=[CauseDetail(
                                          CacheReason.MATCHED_RUN, f"same cache key as in execution "
                                          f"{run.arn.rsplit('/', 1)[-1]} of {ran:%Y-%m-%d %H:%M} UTC"
                                          + (f" (which reused {source.rsplit('/', 1)[-1]}'s run)" if source != run.arn
                                             else ""))]
                                      + [c for c in attempt.causes if c.reason is CacheReason.FIXED_UPSTREAM_PATH])
                break
            tried.append(attempt)
        else:
            window = f"within {step.cache.expire_after}" if limit is not None else "so far"
            why = f"no successful run of this step {window} has this cache key"
            final[name] = replace(prediction, outcome=CacheOutcome.MISS, source_execution=None, ran=None,
                                  causes=[CauseDetail(CacheReason.NO_MATCHING_RUN, why)]
                                  + (tried[0].causes if tried else []))
    return [final[p.step] for p in offline]


def _as_seen_by(run: Run, name: str, prediction: CachePrediction) -> CachePrediction:
    """An upstream step's prediction as a reader comparing with ``run`` sees it: a hit only
    when it reuses the very result that run read; otherwise it has new properties."""
    if prediction.outcome is not CacheOutcome.HIT or prediction.source_execution is None:
        return prediction
    return prediction if _source(run, name) == prediction.source_execution else \
        replace(prediction, outcome=CacheOutcome.MISS)
