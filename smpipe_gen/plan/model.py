"""The machine plan: what a plan says, as data, before anyone formats it.

Like Terraform's JSON plan, it is computed first and versioned (``FORMAT_VERSION``); the text,
markdown and JSON renderers read only its JSON form (``to_json``), so a saved ``--format json``
plan renders the same later. Statuses, categories, risks and cache outcomes are enums whose
values are the strings the JSON carries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from smpipe_gen.render.unshipped import Unshipped

# 1.0: first versioned format (steps with attributes and display names, risks with the steps
# they touch, cache predictions). Bump the minor for added keys, the major for changed ones.
# 2.0: ``before_graph``/``after_graph`` replaced by one ``graph`` of both (empty when the
# topology is the same) and ``topology_changed``; added ``pipeline`` (create, update or replace
# the pipeline), ``unshipped`` (files the code refers to that its bundle leaves out),
# ``effects`` (steps that act outside the pipeline on every execution), ``forecast`` (what the
# cache forecast compares with: the base, or the executions that ran), per prediction
# ``source_execution`` and ``ran``, per change ``when`` (a change outside the cache key of a step
# that hits), the risk kind ``replacement`` and the cache reasons ``new pipeline``, ``matches a
# run`` and ``no matching run``.
FORMAT_VERSION = "2.0"
MISSING = "<none>"


class Status(str, Enum):
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"
    RENAMED = "renamed"


class Category(str, Enum):
    """What a changed leaf of a step is about, for a reviewer (rules.CATEGORY_RULES)."""

    KMS = "kms"
    ROLE = "role"
    NETWORK = "network"
    CODE = "code"
    INSTANCE_TYPE = "instance type"
    RESOURCES = "resources"
    IMAGE = "image"
    HYPERPARAMETERS = "hyperparameters"
    ENVIRONMENT = "environment"
    CACHE = "cache"
    RETRY = "retry"
    DEPENDENCIES = "dependencies"
    GATE = "gate"
    INPUTS_OUTPUTS = "inputs/outputs"
    CONDITION = "condition"
    APPROVAL = "approval"
    COMMAND = "command"
    OTHER = "other"
    DEFINITION = "definition"  # a pipeline-level key of the definition
    PIPELINE = "pipeline"  # a pipeline setting of the manifest (name, description, ...)


class RiskKind(str, Enum):
    REPLACEMENT = "replacement"
    ROLE = "role"
    KMS = "kms"
    NETWORK = "network"
    GATE = "gate"
    APPROVAL = "approval"


class CacheOutcome(str, Enum):
    """What SageMaker will do with a step on the next execution (cache.py)."""

    HIT = "hit"  # reuses a previous run's result
    MISS = "miss"  # runs: no previous run with the same cache key
    RUNS = "runs"  # runs every time: caching is off, or the step type is never cached


class CacheReason(str, Enum):
    UNCHANGED = "unchanged"
    MATCHED_RUN = "matches a run"
    NO_MATCHING_RUN = "no matching run"
    NEW_PIPELINE = "new pipeline"
    EXPIRY = "may expire by policy"
    NEW_STEP = "new step"
    RENAMED = "renamed"
    CODE = "code changed"
    ARGUMENTS = "arguments changed"
    PARAMETER = "parameter default changed"
    UPSTREAM = "upstream output changed"
    EXECUTION_VARIABLE = "cache key reads an execution variable"
    FIXED_UPSTREAM_PATH = "upstream re-runs into a fixed path"
    DISABLED = "cache disabled"
    NOT_CACHEABLE = "step type never cached"


@dataclass
class Change:
    """One leaf that differs; ``before``/``after`` are display strings (``<none>`` when absent)."""

    category: Category
    path: str
    before: str
    after: str
    note: str = ""  # for code changes: which repository files differ
    when: str = ""  # when it takes effect, if not on the next execution (outside a hitting step's cache key)


@dataclass
class Attribute:
    """One line of what an added or removed step is: image, instance, inputs, code, ..."""

    name: str
    value: str


@dataclass
class StepDiff:
    name: str  # the definition's step name
    display_name: str  # as a person wrote it: X for X-CreateModel
    type: str  # as the config names it (Metrics) when the manifest says so, else the definition's
    status: Status
    old_name: str | None = None
    old_display_name: str | None = None
    model: str | None = None  # the config model the step belongs to
    changes: list[Change] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)  # added and removed steps
    downstream: list[str] = field(default_factory=list)  # display names


@dataclass
class ParameterDiff:
    name: str
    status: Status
    before: str
    after: str


@dataclass
class Risk:
    kind: RiskKind
    message: str
    steps: list[str] = field(default_factory=list)  # display names ("pipeline" for settings)


@dataclass
class CauseDetail:
    reason: CacheReason
    detail: str = ""


@dataclass
class CacheCost:
    """An upper bound of the instance hours a job step that runs may take: instance count x
    max runtime (StoppingCondition), or why there is none."""

    instance_type: str | None = None
    instance_count: int | None = None
    max_runtime_seconds: int | None = None
    max_instance_hours: float | None = None
    unknown: str = ""  # why there is no bound


@dataclass
class CachePrediction:
    step: str
    display_name: str
    type: str
    outcome: CacheOutcome
    job: bool  # a step that runs a job (processing, training, ...): the ones that cost
    causes: list[CauseDetail] = field(default_factory=list)
    expire_after: str | None = None
    cost: CacheCost | None = None
    source_execution: str | None = None  # a hit from an execution that ran: its ARN
    ran: str | None = None  # when that run started (ISO 8601)


class CacheBasis(str, Enum):
    BASE = "base"  # the base is assumed to be what ran last (offline)
    EXECUTIONS = "executions"  # the deployed pipeline's executions within each step's ExpireAfter


@dataclass
class Execution:
    arn: str
    started: str  # ISO 8601
    status: str


@dataclass
class Forecast:
    """What the cache predictions compare the head with, said in one line for people."""

    basis: CacheBasis
    assumption: str
    executions: list[Execution] = field(default_factory=list)  # the ones read, newest first


class PipelineAction(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"  # a new name: a new pipeline beside the old one
    NONE = "none"


@dataclass
class PipelineChange:
    name: str | None  # the head's pipeline name, when known (a manifest)
    action: PipelineAction
    replaces: str | None = None  # the base's name, for a replacement


@dataclass
class Effect:
    """A step that runs on every execution and changes something outside the pipeline."""

    step: str
    display_name: str
    type: str
    effect: str


@dataclass
class Plan:
    base: str  # what the head is compared with, for people
    head: str
    environment: str | None = None  # environments/<name>.env the compared renders belong to
    steps: list[StepDiff] = field(default_factory=list)
    parameters: list[ParameterDiff] = field(default_factory=list)
    settings: list[Change] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)
    cache: list[CachePrediction] = field(default_factory=list)
    forecast: Forecast | None = None
    pipeline: PipelineChange | None = None
    effects: list[Effect] = field(default_factory=list)
    unshipped: list[Unshipped] = field(default_factory=list)
    topology_changed: bool = False
    graph: str = ""  # one mermaid graph of both sides, changed steps marked; "" when the topology is the same

    @property
    def has_changes(self) -> bool:
        return bool(self.steps or self.parameters or self.settings)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def counts(plan: Plan) -> dict[str, int]:
    result = {status.value: 0 for status in Status}
    for step in plan.steps:
        result[step.status.value] += 1
    return result


def cache_summary(plan: Plan) -> dict[str, Any]:
    """How many job steps re-run, which, and the instance hours they may take at most."""
    jobs = [p for p in plan.cache if p.job]
    rerun = [p for p in jobs if p.outcome is not CacheOutcome.HIT]
    bounds = [p.cost.max_instance_hours for p in rerun if p.cost and p.cost.max_instance_hours is not None]
    return {"job_steps": len(jobs), "rerun": [p.display_name for p in rerun],
            "hits": [p.display_name for p in jobs if p.outcome is CacheOutcome.HIT],
            "max_instance_hours": round(sum(bounds), 2) if bounds else None,
            "unbounded": [p.display_name for p in rerun if not p.cost or p.cost.max_instance_hours is None]}


def to_json(plan: Plan) -> dict[str, Any]:
    """The machine plan as JSON data: everything a renderer may use, nothing else."""
    data = _plain(asdict(plan))
    data.update(format_version=FORMAT_VERSION, has_changes=plan.has_changes, counts=counts(plan),
                cache_summary=cache_summary(plan))
    return data
