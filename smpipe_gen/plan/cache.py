"""The cache outcome SageMaker will give each step on the next execution, predicted from the
base definition (assumed to be the last one that ran) and the head.

SageMaker's rules, as its developer guide states them:
- Only some step types are cached (rules.CACHE_KEYS); the others (CreateModel, RegisterModel,
  Condition, Fail, ...) run on every execution.
- A step with ``CacheConfig.Enabled`` reuses a previous successful run of the same step name in
  the same pipeline whose cache key is equal, if that run is younger than ``ExpireAfter``.
- The cache key is the step type's key arguments (rules.CACHE_KEYS) with every expression
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

import re
from typing import Any, Iterator

from smpipe_gen.definition import Definition, Step, thaw
from smpipe_gen.plan.model import CacheCost, CacheOutcome, CachePrediction, CacheReason, CauseDetail
from smpipe_gen.plan.rules import CACHE_KEYS, OUTPUT_PATHS, RESOURCES, Category, categorize
from smpipe_gen.plan.values import dig, flatten, rewrite, show, show_leaf

_STEP_REFERENCE = re.compile(r"^Steps\.(?P<step>[^.\[]+)[.\[]?(?P<path>.*)$")


def cache_key(step: Step) -> dict[str, Any]:
    """The leaves of the step's arguments that SageMaker's cache key is made of."""
    args = thaw(step.arguments)
    key: dict[str, Any] = {}
    for path in CACHE_KEYS.get(step.type, ()):
        value = dig(args, path)
        if value is not None:
            key.update(flatten(value, path))
    return key


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
    """An upper bound of the instance hours of a job step, from its config."""
    args = thaw(step.arguments)
    if step.type == "Tuning":
        jobs = dig(args, "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs")
        args, kind = args.get("TrainingJobDefinition") or {}, "Training"
    else:
        jobs, kind = 1, step.type
    if kind not in RESOURCES:
        return CacheCost(unknown=f"no instance limits known for {step.type} steps") if step.type in CACHE_KEYS else None
    path, runtime_path = RESOURCES[kind]
    resources = dig(args, path) or {}
    count, instance_type = resources.get("InstanceCount", 1), resources.get("InstanceType")
    cost = CacheCost(instance_type=instance_type if isinstance(instance_type, str) else show(instance_type),
                     instance_count=count if isinstance(count, int) else None)
    runtime = dig(args, runtime_path) if runtime_path else None
    cost.max_runtime_seconds = runtime if isinstance(runtime, int) else None
    if runtime_path is None:
        cost.unknown = f"{step.type} jobs have no max runtime"
    elif cost.max_runtime_seconds is None:
        cost.unknown = "no MaxRuntimeInSeconds in the definition"
    elif cost.instance_count is None or not isinstance(jobs, int):
        cost.unknown = "the instance count or the number of jobs is a parameter"
    else:
        cost.max_instance_hours = round(jobs * cost.instance_count * cost.max_runtime_seconds / 3600, 2)
    return cost


def _argument_causes(old: Step, new: Step, renamed: dict[str, str], note: str) -> list[CauseDetail]:
    before, after = rewrite(cache_key(old), renamed), cache_key(new)
    changed = [p for p in sorted(set(before) | set(after)) if before.get(p) != after.get(p)]
    code = [p for p in changed if categorize(p, show(before.get(p)), show(after.get(p))) is Category.CODE]
    other = [p for p in changed if p not in code]
    causes = []
    if code:
        causes.append(CauseDetail(CacheReason.CODE, note or ", ".join(code)))
    if other:
        causes.append(CauseDetail(CacheReason.ARGUMENTS, ", ".join(
            f"{_argument(p)}: {show_leaf(p, before[p]) if p in before else '<none>'} -> {show_leaf(p, after[p]) if p in after else '<none>'}"
            for p in other)))
    return causes


def _argument(path: str) -> str:
    """``hyperparameter num_round`` for ``HyperParameters.num_round``; other paths as they are."""
    return f"hyperparameter {path[len('HyperParameters.'):]}" if path.startswith("HyperParameters.") else path


def _expression_causes(step: Step, before: Definition, after: Definition,
                       outcomes: dict[str, CachePrediction]) -> list[CauseDetail]:
    """Causes that come from what the key's expressions resolve to on the next execution."""
    defaults_before = {p.name: p for p in before.parameters}
    causes: list[CauseDetail] = []
    seen: set[str] = set()
    for get in _gets(list(cache_key(step).values())):
        if get in seen:
            continue
        seen.add(get)
        if get.startswith("Execution."):
            causes.append(CauseDetail(CacheReason.EXECUTION_VARIABLE, f"{get} differs on every execution"))
        elif get.startswith("Parameters."):
            name = get[len("Parameters."):]
            new = next((p for p in after.parameters if p.name == name), None)
            old = defaults_before.get(name)
            if new is not None and (old is None or old.default != new.default):
                was = "new parameter" if old is None else f"default {show(thaw(old.default))}"
                causes.append(CauseDetail(CacheReason.PARAMETER, f"{name}: {was} -> default {show(thaw(new.default))} "
                                          "(when the execution uses the defaults)"))
        else:
            match = _STEP_REFERENCE.match(get)
            upstream = outcomes.get(match["step"]) if match else None
            if upstream is None or upstream.outcome is CacheOutcome.HIT:
                continue
            if _varies_per_run(after[match["step"]], match["path"]):
                when = "on every execution" if upstream.outcome is CacheOutcome.RUNS else "again"
                causes.append(CauseDetail(CacheReason.UPSTREAM, f"{upstream.display_name} runs {when}: "
                                          f"new {match['path'] or 'properties'}"))
            else:
                causes.append(CauseDetail(CacheReason.FIXED_UPSTREAM_PATH, f"{upstream.display_name} runs again but "
                                          f"writes to the same {match['path']}: this step reuses its cached result "
                                          "even if that data changed"))
    return causes


def _predict(step: Step, before: Definition, after: Definition, renamed: dict[str, str],
             outcomes: dict[str, CachePrediction], notes: dict[str, str]) -> CachePrediction:
    job = step.type in CACHE_KEYS
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
    if old is None:
        causes = [CauseDetail(CacheReason.NEW_STEP, "no previous run")]
    elif old_name != step.name:
        causes = [CauseDetail(CacheReason.RENAMED, f"no previous run under this name (was {old.display_name})")]
    else:
        causes = _argument_causes(old, step, renamed, notes.get(step.name, ""))
    causes += _expression_causes(step, before, after, outcomes)
    misses = [c for c in causes if c.reason is not CacheReason.FIXED_UPSTREAM_PATH]
    prediction.outcome = CacheOutcome.MISS if misses else CacheOutcome.HIT
    if not misses:
        expiry = step.cache.expire_after
        was = old.cache.expire_after if old is not None and old.cache else None
        changed = f" (ExpireAfter was {was or 'unset'})" if was != expiry else ""
        causes.insert(0, CauseDetail(CacheReason.EXPIRY, f"a hit only if the last run is younger than {expiry}{changed}")
                      if expiry else CauseDetail(CacheReason.UNCHANGED, "same cache key as the base"))
    prediction.causes = causes
    return prediction


def predict(before: Definition, after: Definition, renamed: dict[str, str],
            code_notes: dict[str, str] | None = None) -> list[CachePrediction]:
    """One prediction per step of ``after``, in definition order; ``code_notes`` name the files
    behind each step's code change."""
    outcomes: dict[str, CachePrediction] = {}
    for name in after.order():
        outcomes[name] = _predict(after[name], before, after, renamed, outcomes, code_notes or {})
    return [outcomes[step.name] for step in after]

