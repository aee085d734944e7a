"""The step type registry: every fact the tool knows about one SageMaker definition step type,
in one module per type (``smpipe_gen/steps/<type>.py``) and one line of ``_MODULES`` below.

Plan, apply, graph and ``run --local`` read definitions without the SageMaker SDK or pydantic, so
the per-type modules hold pure facts; the local runner and its helpers are named as
``"module:function"`` strings and imported only when a step of that type runs (``resolve``).
The config's step classes (``Metrics``, ``CreateModel``, ...) and what they render to are a
table of their own: ``smpipe_gen/steps/config_classes.py``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from smpipe_gen.json_values import strings

# Where the SDK puts a job's or a model's code: the submit directory (training hyperparameters,
# a model container's environment).
CODE_KEYS = ("sagemaker_submit_directory", "SAGEMAKER_SUBMIT_DIRECTORY")


def submit_directories(arguments: Mapping[str, Any]) -> list[str]:
    """The S3 URIs of code the SDK names by its submit-directory keys, in order of appearance."""
    return [text for key, text in strings(arguments) if key in CODE_KEYS and text.startswith("s3://")]


def no_inputs(_arguments: Mapping[str, Any]) -> list[Any]:
    return []


@dataclass(frozen=True)
class StepType:
    """What one definition ``Type`` is to every part of the tool.

    cache_key: the argument paths SageMaker's step cache keys on ("Default cache key attributes
        by pipeline step type"); None: SageMaker never caches the type.
    job: the kind of SageMaker job the step runs (a Tuning step runs training jobs); None: the
        step runs no job (its processes cannot write to S3).
    resources: where that job keeps its instances (the first path present) and its time limit.
    job_arguments: the arguments of that job (Tuning: its TrainingJobDefinition).
    input_uris: the arguments the step reads data from (local cache keys hash their contents).
    code_uris: the S3 objects of code the step runs, without a manifest to say so.
    operation: the SageMaker API request the arguments are (name, its job-name key).
    effect: what the step does outside the pipeline on every run, for a reviewer
        (step JSON, spell(value) -> text); None: nothing beyond its own job.
    mermaid / dot: the shape the step is drawn in.
    branches: the step holds other steps (IfSteps/ElseSteps) and decides which run.
    gate: removing such a step removes a quality gate.
    registers_model: the step registers model package versions (an approval risk).
    runner: the local runner, "module:function"; None: the step cannot run locally, for
        ``refusal``'s reason.
    precheck: "module:function" (arguments, where) -> SmpipeError | None, asked before a run.
    local_cache_inputs: "module:function" (reuse, job arguments, where) -> CacheInputs: what the
        step reads besides its arguments (a transform's model, a built-in algorithm's xgboost),
        added to its local cache key.
    """

    name: str
    cache_key: tuple[str, ...] | None = None
    job: str | None = None
    resources: tuple[tuple[str, ...], str | None] | None = None
    job_arguments: Callable[[dict], dict] = lambda arguments: arguments
    input_uris: Callable[[Mapping[str, Any]], list[Any]] = no_inputs
    code_uris: Callable[[Mapping[str, Any]], list[str]] = submit_directories
    operation: tuple[str, str | None] | None = None
    effect: Callable[[dict, Callable[[Any], str]], str] | None = None
    mermaid: tuple[str, str] = ("[", "]")
    dot: str = "box"
    branches: bool = False
    gate: bool = False
    registers_model: bool = False
    runner: str | None = None
    refusal: str = "no local runner yet"
    precheck: str | None = None
    local_cache_inputs: str | None = None

    @property
    def cacheable(self) -> bool:
        return self.cache_key is not None


# One line per step type: the module that declares it.
_MODULES = (
    "processing", "training", "tuning", "transform", "model", "register_model", "condition", "fail",
    "lambda_", "callback", "emr", "quality_check", "clarify_check", "automl", "endpoint",
)
REGISTRY: dict[str, StepType] = {
    step.name: step for step in (importlib.import_module(f"{__name__}.{module}").STEP for module in _MODULES)
}


def step_type(name: str) -> StepType:
    """The facts of definition type ``name``; a type no module declares is known by nothing
    (never cached, drawn as a box, refused by the local runner)."""
    return REGISTRY.get(name) or StepType(name=name, refusal="not a SageMaker pipeline step type")


def cacheable() -> list[str]:
    """The step types SageMaker caches (and the local runner does), sorted."""
    return sorted(name for name, step in REGISTRY.items() if step.cacheable)


def local_types() -> list[str]:
    """The step types ``run --local`` runs, sorted."""
    return sorted(name for name, step in REGISTRY.items() if step.runner)


def resolve(reference: str) -> Any:
    """The object a ``"module:attribute"`` fact names, imported now (on first use)."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)
