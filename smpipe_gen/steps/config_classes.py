"""The config's step classes (``step_class:`` in a pipeline config) and what each becomes: its
default model section, the codegen builder that writes its SDK calls, the definition step
types it renders to, and how other config steps may use it.

A table of its own, beside the registry of definition step types: a config class is what a
person writes (``Metrics`` is a ``Processing`` step with a report), a definition type is what
SageMaker runs, and only render reads this table. ``config/model.py``'s ``StepClass`` is made
from its keys. Builders are ``"module:function"`` strings, imported when render runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from smpipe_gen.steps import step_type


@dataclass(frozen=True)
class ConfigClass:
    """definition_types: the definition steps one config step renders to.
    section: the model section it reads by default (``step_type`` names another); None: none.
    builder: "module:function" (generator, resolved step) -> [(variable, code)].
    outputs: what a step chaining from it reads ("processing" outputs, the trained "model",
        a transform's "predictions"); None: nothing to chain from.
    trains: it produces the model the later steps of its config model use.
    uses_model / needs_model: it uses that trained model (and fails without one).
    ships_code: the code it ships, "job" (its source directory) or "model" (inference code).
    runs_script: its section must name an entry point.
    """

    name: str
    definition_types: tuple[str, ...]
    builder: str
    section: str | None = None
    outputs: str | None = None
    trains: bool = False
    uses_model: bool = False
    needs_model: bool = False
    ships_code: str | None = None
    runs_script: bool = False

    @property
    def cacheable(self) -> bool:
        """Whether its steps take a cache config: SageMaker caches every step it renders to."""
        return all(step_type(name).cacheable for name in self.definition_types)


_BUILDERS = "smpipe_gen.render.builders"

# One line per config step class.
CONFIG_CLASSES: dict[str, ConfigClass] = {c.name: c for c in (
    ConfigClass("Processing", ("Processing",), f"{_BUILDERS}:processing", section="preprocess",
                outputs="processing", ships_code="job", runs_script=True),
    ConfigClass("Training", ("Training",), f"{_BUILDERS}:training", section="train", outputs="model", trains=True,
                ships_code="job"),
    ConfigClass("Tuning", ("Tuning",), f"{_BUILDERS}:tuning", section="train", outputs="model", trains=True,
                ships_code="job"),
    ConfigClass("CreateModel", ("Model",), f"{_BUILDERS}:create_model", uses_model=True, needs_model=True,
                ships_code="model"),
    ConfigClass("Transform", ("Transform",), f"{_BUILDERS}:transform", section="transform", outputs="predictions",
                uses_model=True),
    ConfigClass("Metrics", ("Processing",), f"{_BUILDERS}:processing", section="evaluate", outputs="processing",
                uses_model=True, ships_code="job", runs_script=True),
    ConfigClass("RegisterModel", ("RegisterModel",), f"{_BUILDERS}:register", uses_model=True, needs_model=True,
                ships_code="model"),
    ConfigClass("Condition", ("Condition",), f"{_BUILDERS}:condition"),
    ConfigClass("Fail", ("Fail",), f"{_BUILDERS}:fail"),
)}


def config_class(name: str) -> ConfigClass:
    """The facts of config step class ``name`` (the config model has refused any other)."""
    return CONFIG_CLASSES[str(getattr(name, "value", name))]
