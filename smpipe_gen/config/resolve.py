"""Cross-check the merged config and resolve it into the pipeline render needs.

This is the intermediate representation between the YAML and the generated SDK code: every
step knows its model, its config section, the trained model / created model / metrics it
uses, its data sources and its explicit dependencies, and the steps come in an order where
each one follows everything it refers to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel

from smpipe_gen.config import cloud_checks
from smpipe_gen.config.loader import LoadedConfig
from smpipe_gen.config.model import (
    ModelConfig,
    ParameterRef,
    PipelineSpec,
    ProcessingSection,
    ReportValue,
    Step,
    StepClass,
)
from smpipe_gen.errors import ConfigErrors, SmpipeError, did_you_mean, shorten
from smpipe_gen.config.dependencies import DependencySyntaxError, parse_chain
from smpipe_gen.dag import StepGraph
from smpipe_gen.paths import inside
from smpipe_gen.steps.config_classes import config_class



@dataclass
class ResolvedStep:
    name: str
    model: str
    step: Step
    section_name: str | None = None
    section: Any = None
    trained_step: str | None = None  # the Training/Tuning step whose model this step uses
    model_step: str | None = None  # the CreateModel step a Transform runs
    metrics_step: str | None = None  # the Metrics step a RegisterModel registers
    depends_on: list[str] = field(default_factory=list)  # from `>>` lines
    in_branch_of: str | None = None  # the Condition step whose if/else holds this step

    @property
    def cls(self) -> StepClass:
        return self.step.step_class


@dataclass
class ResolvedPipeline:
    root: Path
    spec: PipelineSpec
    steps: dict[str, ResolvedStep]  # in render order
    graph: StepGraph

    def model(self, step: ResolvedStep) -> ModelConfig:
        return self.spec.models[step.model]


def resolve(loaded: LoadedConfig) -> ResolvedPipeline:
    checker = _Checker(loaded)
    return checker.run()


class _Checker:
    def __init__(self, loaded: LoadedConfig):
        self.loaded = loaded
        self.spec = loaded.spec
        self.sources = loaded.sources
        self.errors: list[SmpipeError] = []
        self.steps: dict[str, ResolvedStep] = {}
        self.where: dict[str, tuple[str, int]] = {}  # step -> (model, index) in sagemakerPipeline

    def fail(self, message: str, where: str, hint: str) -> None:
        self.errors.append(SmpipeError(message, where=where, hint=hint))

    def step_where(self, name: str, *keys: str | int) -> str:
        model, index = self.where[name]
        return self.sources.pipeline_where("models", model, "steps", index, *keys)

    def run(self) -> ResolvedPipeline:
        self._collect_steps()
        self._resolve_sections()
        self._check_references()
        self._check_files()
        graph = self._graph()
        self._check_parameters()
        self.errors.extend(cloud_checks.check(self.spec, self.sources, self.loaded.root))
        if self.errors:
            raise ConfigErrors(self.errors)
        cycle = graph.find_cycle()
        if cycle:
            raise SmpipeError(f"dependency cycle: {' >> '.join(cycle)}", where=self.step_where(cycle[0]),
                              hint="remove one of these edges (a dependencies line or a chain_input_source_step)")
        ordered = {name: self.steps[name] for name in self._definition_order(graph)}
        return ResolvedPipeline(root=self.loaded.root, spec=self.spec, steps=ordered, graph=graph)

    def _definition_order(self, graph: StepGraph) -> list[str]:
        """The order the generated code defines steps in: like the execution order, except that
        a Condition step is built after the steps of its branches, which it refers to."""
        code = StepGraph()
        for name in graph.steps:
            code.add_step(name)
        for downstream in graph.steps:
            owner = self.steps[downstream].in_branch_of
            for upstream in graph.upstream(downstream):
                if upstream != owner:
                    code.add_edge(upstream, downstream)
            if owner:
                code.add_edge(downstream, owner)
        cycle = code.find_cycle()
        if cycle:
            raise SmpipeError(f"condition branch cycle: {' >> '.join(cycle)}", where=self.step_where(cycle[0]),
                              hint="a Condition step cannot depend on a step in its own branches")
        return code.order()

    # ---------------------------------------------------------------- steps and sections

    def _collect_steps(self) -> None:
        for model, block in self.spec.pipeline.models.items():
            if model not in self.spec.models:
                self.fail(f"pipeline model {model!r} has no conf.models.{model} section",
                          self.sources.pipeline_where("models", model),
                          did_you_mean(model, self.spec.models, "define the model in a model file"))
            for index, step in enumerate(block.steps):
                if step.step_name in self.steps:
                    other_model, other_index = self.where[step.step_name]
                    self.fail(f"step name {step.step_name!r} is used twice",
                              self.sources.pipeline_where("models", model, "steps", index, "step_name"),
                              f"step names must be unique across models (also models.{other_model}.steps[{other_index}])")
                    continue
                self.where[step.step_name] = (model, index)
                self.steps[step.step_name] = ResolvedStep(step.step_name, model, step)

    def _resolve_sections(self) -> None:
        latest: dict[str, dict[StepClass, str]] = {}
        for name, resolved in self.steps.items():
            cls = resolved.cls
            config = self.spec.models.get(resolved.model)
            seen = latest.setdefault(resolved.model, {})
            if config is None:
                continue
            facts = config_class(cls)
            if facts.section:
                section_name = resolved.step.step_type or facts.section
                section = self._section(config, resolved, section_name)
                resolved.section_name, resolved.section = section_name, section
                if cls is StepClass.Tuning and config.tune is None:
                    self.fail(f"Tuning step {name!r} needs a conf.models.{resolved.model}.tune section",
                              self.step_where(name, "step_class"),
                              "add tune: {objective_metric_name, hyperparameter_ranges, ...}")
            if facts.uses_model:
                resolved.trained_step = seen.get(StepClass.Training)
                if resolved.trained_step is None and facts.needs_model:
                    self.fail(f"{cls.value} step {name!r} has no trained model: no Training or Tuning step "
                              f"precedes it in model {resolved.model!r}", self.step_where(name, "step_class"),
                              "add a Training step before it in the same model's steps")
            if cls is StepClass.Transform:
                resolved.model_step = seen.get(StepClass.CreateModel)
                if resolved.model_step is None:
                    self.fail(f"Transform step {name!r} has no model to use: no CreateModel step precedes it "
                              f"in model {resolved.model!r}", self.step_where(name, "step_class"),
                              "add a CreateModel step after the Training step")
            if cls is StepClass.RegisterModel:
                resolved.metrics_step = seen.get(StepClass.Metrics)
                if config.registry is None:
                    self.fail(f"RegisterModel step {name!r} needs a conf.models.{resolved.model}.registry section",
                              self.step_where(name, "step_class"), "add registry: {InferenceSpecification: ...}")
            if facts.trains:
                seen[StepClass.Training] = name
            elif cls in (StepClass.CreateModel, StepClass.Metrics):
                seen[cls] = name
        for model, config in self.spec.models.items():
            if config.registry and config.registry.ModelRepack:
                # The SDK's repack step names its job and code upload with a timestamp, which
                # would make every render differ: the one thing a reviewed artifact must not do.
                self.fail("ModelRepack: True is not supported: repacking gives a different definition on every "
                          "render", self.sources.model_where(model, "registry", "ModelRepack"),
                          "use ModelRepack: False; the inference code then ships as SAGEMAKER_SUBMIT_DIRECTORY")
            used = {r.section_name for r in self.steps.values() if r.model == model}
            for extra in config.extra_sections():
                if extra not in used:
                    self.fail(f"unknown key {extra!r}", self.sources.model_where(model, extra),
                              did_you_mean(extra, type(config).model_fields,
                                           "a custom Processing section must be named by some step's step_type"))

    def _section(self, config: ModelConfig, resolved: ResolvedStep, section_name: str) -> Any:
        section = getattr(config, section_name, None) if section_name in type(config).model_fields \
            else config.extra_sections().get(section_name)
        if section is None:
            self.fail(f"step {resolved.name!r} uses section {section_name!r}, which model "
                      f"{resolved.model!r} does not define", self.step_where(resolved.name, "step_type"),
                      f"add conf.models.{resolved.model}.{section_name} or set step_type to an existing section")
            return None
        if isinstance(section, dict):  # a custom Processing section (extra key)
            try:
                return ProcessingSection.model_validate(section)
            except Exception as exc:  # pydantic.ValidationError
                first = exc.errors()[0]  # type: ignore[attr-defined]
                self.fail(f"{first['msg']}", self.sources.model_where(resolved.model, section_name,
                                                                       *map(str, first["loc"])),
                          "a custom section has the shape of a Processing section (preprocess)")
                return None
        if resolved.cls is StepClass.Processing and not isinstance(section, ProcessingSection):
            self.fail(f"Processing step {resolved.name!r} names section {section_name!r}, which is not a "
                      "Processing section", self.step_where(resolved.name, "step_type"),
                      "use preprocess, evaluate or a custom processing section")
            return None
        if config_class(resolved.cls).runs_script and not section.entry_point:
            self.fail(f"{resolved.cls.value} step {resolved.name!r} has no script to run: section "
                      f"{section_name!r} sets no entry_point", self.sources.model_where(resolved.model, section_name),
                      "add entry_point: <script>.py (relative to source_directory)")
        return section

    # ---------------------------------------------------------------- references

    def _check_references(self) -> None:
        names = list(self.steps)
        branch_owner: dict[str, str] = {}
        for name, resolved in self.steps.items():
            step = resolved.step
            for index, source in enumerate(step.chain_input_source_step):
                if source not in self.steps:
                    self._unknown_step(source, self.step_where(name, "chain_input_source_step", index), names)
                elif source == name:
                    self.fail("a step cannot chain its own outputs",
                              self.step_where(name, "chain_input_source_step", index), "remove it")
                elif config_class(self.steps[source].cls).outputs is None:
                    self.fail(f"{source!r} is a {self.steps[source].cls.value} step and has no outputs to chain",
                              self.step_where(name, "chain_input_source_step", index),
                              "chain from a Processing, Training, Tuning or Transform step")
            if resolved.cls is StepClass.Transform and len(step.chain_input_source_step) > 1:
                self.fail("a Transform step takes at most one chain_input_source_step",
                          self.step_where(name, "chain_input_source_step"), "keep the step whose output is scored")
            if resolved.cls is StepClass.Transform and resolved.section is not None and \
                    not step.chain_input_source_step and \
                    not any(c.dataFiles for c in resolved.section.channel_map().values()):
                self.fail(f"Transform step {name!r} has no data to score: no chain_input_source_step and no "
                          "dataFiles in its section's channels", self.step_where(name, "step_class"),
                          "chain the step whose output it scores, or give the transform section a channel "
                          "with dataFiles")
            for key in ("if_steps", "else_steps"):
                for index, target in enumerate(getattr(step, key)):
                    if target not in self.steps:
                        self._unknown_step(target, self.step_where(name, key, index), names)
                    elif target in branch_owner:
                        self.fail(f"step {target!r} is already in a branch of {branch_owner[target]!r}",
                                  self.step_where(name, key, index), "a step can sit in one branch only")
                    elif target == name:
                        self.fail("a Condition step cannot be its own branch", self.step_where(name, key, index),
                                  "remove it")
                    else:
                        branch_owner[target] = name
                        self.steps[target].in_branch_of = name
            for index, comparison in enumerate(step.conditions):
                for side in ("left", "right"):
                    operand = getattr(comparison, side)
                    if isinstance(operand, ReportValue):
                        where = self.step_where(name, "conditions", index, side, "step")
                        if operand.step not in self.steps:
                            self._unknown_step(operand.step, where, names)
                        elif self.steps[operand.step].cls is not StepClass.Metrics:
                            self.fail(f"{operand.step!r} is a {self.steps[operand.step].cls.value} step; "
                                      "conditions read JSON reports of Metrics steps", where,
                                      "name a Metrics step")

    def _check_files(self) -> None:
        """Source directories, entry points and local data must exist and stay inside the
        repository (symlinks resolved): render ships them to S3 and run --local executes them."""
        root = self.loaded.root
        for model, config in self.spec.models.items():
            where = self.sources.model_where(model, "source_directory")
            try:
                source_dir = inside(root, config.source_directory, where=where, what="source_directory",
                                    hint="give the scripts' directory relative to the repository root")
            except SmpipeError as error:
                self.errors.append(error)
                continue
            if not source_dir.is_dir():
                self.fail(f"source_directory {config.source_directory!r} is not a directory under the repository root",
                          where, "give the scripts' directory relative to the repository root")
                continue
            sections = {name: getattr(config, name) for name in ("preprocess", "train", "transform", "evaluate")}
            sections.update(config.extra_sections())
            for name, section in sections.items():
                entry = section.get("entry_point") if isinstance(section, dict) else getattr(section, "entry_point", None)
                if entry is None:
                    continue
                where = self.sources.model_where(model, name, "entry_point")
                hint = "entry points are file names relative to source_directory"
                try:
                    entry_file = inside(source_dir, entry, where=where, what="entry_point", hint=hint)
                except SmpipeError as error:
                    self.errors.append(error)
                    continue
                if not entry_file.is_file():
                    self.fail(f"entry_point {shorten(repr(entry))} not found in {config.source_directory}", where, hint)
        for uri, path in self.spec.pipeline.local_data.items():
            where = self.sources.pipeline_where("local_data", uri)
            if not uri.startswith("s3://"):
                self.fail(f"local_data key {shorten(repr(uri))} is not an s3:// URI", where,
                          "map s3://bucket/prefix to a repository path")
            hint = "give a file or directory relative to the repository root"
            try:
                if not inside(root, path, where=where, what="local_data path", hint=hint).exists():
                    self.fail(f"local_data path {shorten(repr(path))} does not exist", where, hint)
            except SmpipeError as error:
                self.errors.append(error)

    def _unknown_step(self, name: str, where: str, names: list[str]) -> None:
        self.fail(f"unknown step {name!r}", where,
                  did_you_mean(name, names, "name a step_name declared in sagemakerPipeline.models.<model>.steps"))

    def _graph(self) -> StepGraph:
        graph = StepGraph()
        for name in self.steps:
            graph.add_step(name)
        for name, resolved in self.steps.items():
            step = resolved.step
            for upstream in step.chain_input_source_step:
                if upstream in self.steps:
                    graph.add_edge(upstream, name)
            for upstream in (resolved.trained_step, resolved.model_step, resolved.metrics_step):
                if upstream:
                    graph.add_edge(upstream, name)
            for comparison in step.conditions:
                for operand in (comparison.left, comparison.right):
                    if isinstance(operand, ReportValue) and operand.step in self.steps:
                        graph.add_edge(operand.step, name)
            for target in step.if_steps + step.else_steps:
                if target in self.steps:
                    graph.add_edge(name, target)
        for index, line in enumerate(self.spec.pipeline.dependencies):
            where = self.sources.pipeline_where("dependencies", index)
            try:
                pairs = parse_chain(line)
            except DependencySyntaxError as exc:
                self.fail(f"cannot parse {line!r}: {exc}", where, "write a >> b >> [c, d]")
                continue
            for upstream, downstream in pairs:
                missing = [n for n in (upstream, downstream) if n not in self.steps]
                for unknown in missing:
                    self._unknown_step(unknown, where, list(self.steps))
                if missing:
                    continue
                graph.add_edge(upstream, downstream)
                if self.steps[downstream].in_branch_of == upstream:
                    continue  # a branch step already runs after its condition
                if upstream not in self.steps[downstream].depends_on:
                    self.steps[downstream].depends_on.append(upstream)
        return graph

    # ---------------------------------------------------------------- parameters

    def _check_parameters(self) -> None:
        declared = {p.name for p in self.spec.pipeline.parameters}
        seen: set[str] = set()
        for parameter in self.spec.pipeline.parameters:
            if parameter.name in seen:
                self.fail(f"parameter {parameter.name!r} is declared twice",
                          self.sources.pipeline_where("parameters"), "keep one")
            seen.add(parameter.name)
        for where, ref in self._parameter_refs():
            if ref.Parameter not in declared:
                self.fail(f"unknown parameter {ref.Parameter!r}", where,
                          did_you_mean(ref.Parameter, declared, "declare it under sagemakerPipeline.parameters"))

    def _parameter_refs(self) -> Iterator[tuple[str, ParameterRef]]:
        for model, config in self.spec.models.items():
            for path, ref in _refs(config, ()):
                yield self.sources.model_where(model, *path), ref
        for name, resolved in self.steps.items():
            for path, ref in _refs(resolved.step, ()):
                yield self.step_where(name, *path), ref


def _refs(value: Any, path: tuple) -> Iterator[tuple[tuple, ParameterRef]]:
    if isinstance(value, ParameterRef):
        yield path, value
    elif isinstance(value, BaseModel):
        for key in type(value).model_fields:
            yield from _refs(getattr(value, key), path + (key,))
        for key, item in (value.__pydantic_extra__ or {}).items():
            yield from _refs(item, path + (key,))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _refs(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _refs(item, path + (index,))
