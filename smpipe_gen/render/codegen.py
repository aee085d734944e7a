"""The resolved pipeline as SDK v2 calls: one block of assignments per step.

Everything SDK-specific lives here and in the pipeline.py template; a different SDK target
would replace these two. Values are spelled with ``literals.py`` so any string survives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from smpipe_gen.config.model import (
    DEFAULT_INSTANCE_TYPE,
    Channel,
    Comparison,
    ParameterRef,
    ProcessingSection,
    ReportValue,
    StepClass,
    TrainSection,
)
from smpipe_gen.config.resolve import ResolvedPipeline, ResolvedStep
from smpipe_gen.render.literals import Call, Code, DictOf, ListOf, Namer, Raw, comment_text, py

PROCESSING_INPUT = "/opt/ml/processing/input"
PROCESSING_OUTPUT = "/opt/ml/processing/output"
REPORT_FILE = "model_evaluation_metrics.json"
REPORT_OUTPUT = "evaluation"
ORIGINAL_REPORT_OUTPUT = "model_evaluation_metrics"  # what the original names the metrics output
REPORT_PROPERTY_FILE = "EvaluationReport"
DEFAULT_CACHE_EXPIRY = "P10D"  # the original's ten days
INFERENCE_REQUIREMENTS = "requirements.txt"


def dotted_module(entry_point: str | None, default: str = "inference") -> str:
    """An entry point as the module name the original passes (``transform/transform.py`` ->
    ``transform.transform``): what ``python -m`` and the inference toolkit import."""
    if not entry_point:
        return default
    path = entry_point[:-3] if entry_point.endswith(".py") else entry_point
    return path.strip("/").replace("/", ".")

_IMPORTS = {
    "CacheConfig": "sagemaker.workflow.steps",
    "ConditionStep": "sagemaker.workflow.condition_step",
    "ContinuousParameter": "sagemaker.tuner",
    "CategoricalParameter": "sagemaker.tuner",
    "Estimator": "sagemaker.estimator",
    "ExecutionVariables": "sagemaker.workflow.execution_variables",
    "FailStep": "sagemaker.workflow.fail_step",
    "FrameworkProcessor": "sagemaker.processing",
    "HyperparameterTuner": "sagemaker.tuner",
    "IntegerParameter": "sagemaker.tuner",
    "Join": "sagemaker.workflow.functions",
    "JsonGet": "sagemaker.workflow.functions",
    "MetricsSource": "sagemaker.model_metrics",
    "Model": "sagemaker.model",
    "ModelMetrics": "sagemaker.model_metrics",
    "ModelStep": "sagemaker.workflow.model_step",
    "NetworkConfig": "sagemaker.network",
    "ParameterBoolean": "sagemaker.workflow.parameters",
    "ParameterFloat": "sagemaker.workflow.parameters",
    "ParameterInteger": "sagemaker.workflow.parameters",
    "ParameterString": "sagemaker.workflow.parameters",
    "Pipeline": "sagemaker.workflow.pipeline",
    "PipelineSession": "sagemaker.workflow.pipeline_context",
    "ProcessingInput": "sagemaker.processing",
    "ProcessingOutput": "sagemaker.processing",
    "ProcessingStep": "sagemaker.workflow.steps",
    "PropertyFile": "sagemaker.workflow.properties",
    "SKLearn": "sagemaker.sklearn.estimator",
    "SageMakerJobExceptionTypeEnum": "sagemaker.workflow.retry",
    "SageMakerJobStepRetryPolicy": "sagemaker.workflow.retry",
    "StepExceptionTypeEnum": "sagemaker.workflow.retry",
    "StepRetryPolicy": "sagemaker.workflow.retry",
    "TrainingInput": "sagemaker.inputs",
    "TrainingStep": "sagemaker.workflow.steps",
    "Transformer": "sagemaker.transformer",
    "TransformStep": "sagemaker.workflow.steps",
    "TuningStep": "sagemaker.workflow.steps",
    "hash_files_or_dirs": "sagemaker.workflow.utilities",
    "tar_and_upload_dir": "sagemaker.fw_utils",
}
_CONDITIONS = {
    "Equals": "ConditionEquals",
    "GreaterThan": "ConditionGreaterThan",
    "GreaterThanOrEqualTo": "ConditionGreaterThanOrEqualTo",
    "LessThan": "ConditionLessThan",
    "LessThanOrEqualTo": "ConditionLessThanOrEqualTo",
    "In": "ConditionIn",
}
for _name in _CONDITIONS.values():
    _IMPORTS[_name] = "sagemaker.workflow.conditions"


@dataclass
class StepCode:
    name: str
    comment: str
    statements: list[tuple[str, Code]]


@dataclass
class ModuleCode:
    """What the pipeline.py template lays out."""

    imports: dict[str, list[str]]
    constants: list[tuple[str, str]]
    parameters: list[tuple[str, Code]]
    steps: list[StepCode]
    pipeline: Code
    helpers: set[str] = field(default_factory=set)


def generate(resolved: ResolvedPipeline, bundles: Mapping[str, list[str] | None]) -> ModuleCode:
    """``bundles``: per step with code, the entries of its source directory it ships (see
    bundles.py), or None for the whole directory (``code_scope: source_directory``)."""
    return _Generator(resolved, bundles).module()


class _Generator:
    def __init__(self, resolved: ResolvedPipeline, bundles: Mapping[str, list[str] | None]):
        self.resolved = resolved
        self.bundles = bundles
        self.spec = resolved.spec
        self.settings = resolved.spec.settings
        self.used: set[str] = {"Pipeline", "PipelineSession"}
        self.helpers: set[str] = set()
        self.names = Namer({"session", "get_pipeline", "ROLE", "BUCKET", "PIPELINE_NAME", "NETWORK",
                            "KMS_KEY", "REGION", "SUBNETS", "SECURITY_GROUPS"})
        self.param_vars = {p.name: self.names(p.name) for p in self.spec.pipeline.parameters}
        self.step_vars = {name: self.names(name) for name in resolved.steps}

    def use(self, *names: str) -> None:
        self.used.update(names)

    def param(self, ref: ParameterRef) -> str:
        return self.param_vars[ref.Parameter]

    def lit(self, value: Any) -> Raw:
        return Raw(py(value, self.param))

    # ---------------------------------------------------------------- module

    def module(self) -> ModuleCode:
        steps = [self.step(step) for step in self.resolved.steps.values()]
        parameters = [(self.param_vars[p.name], self.parameter(p)) for p in self.spec.pipeline.parameters]
        top = [self.step_vars[n] for n, s in self.resolved.steps.items() if s.in_branch_of is None]
        pipeline = Call("Pipeline", name="PIPELINE_NAME",
                        parameters=ListOf([Raw(v) for v, _ in parameters]),
                        steps=ListOf([Raw(v) for v in top]), sagemaker_session="session")
        imports: dict[str, list[str]] = {}
        for name in sorted(self.used):
            imports.setdefault(_IMPORTS[name], []).append(name)
        settings = self.settings
        constants = [("PIPELINE_NAME", py(self.spec.pipeline.pipelineName)),
                     ("REGION", py(settings.region)),
                     ("BUCKET", py(settings.bucket)),
                     ("ROLE", py(settings.role)),
                     ("KMS_KEY", py(settings.kms_key))]
        if self.vpc:
            constants += [("SUBNETS", py(settings.subnets)), ("SECURITY_GROUPS", py(settings.security_groups))]
        return ModuleCode(imports=dict(sorted(imports.items())), constants=constants, parameters=parameters,
                          steps=steps, pipeline=pipeline, helpers=self.helpers)

    @property
    def vpc(self) -> bool:
        return bool(self.settings.subnets or self.settings.security_groups)

    @property
    def kms(self) -> str | None:
        """The KMS_KEY constant where a key is configured (None leaves the SDK default)."""
        return "KMS_KEY" if self.settings.kms_key else None

    def parameter(self, parameter) -> Code:
        cls = f"Parameter{parameter.type}"
        self.use(cls)
        kwargs: dict[str, Any] = {"name": self.lit(parameter.name)}
        if parameter.default is not None:
            default = float(parameter.default) if parameter.type == "Float" else parameter.default
            kwargs["default_value"] = self.lit(default)
        if parameter.enum_values and parameter.type == "String":
            kwargs["enum_values"] = self.lit(parameter.enum_values)
        return Call(cls, **kwargs)

    def step(self, step: ResolvedStep) -> StepCode:
        builder = {
            StepClass.Processing: self.processing,
            StepClass.Metrics: self.processing,
            StepClass.Training: self.training,
            StepClass.Tuning: self.tuning,
            StepClass.CreateModel: self.create_model,
            StepClass.Transform: self.transform,
            StepClass.RegisterModel: self.register,
            StepClass.Condition: self.condition,
            StepClass.Fail: self.fail,
        }[step.cls]
        section = f", section {step.section_name}" if step.section_name else ""
        comment = f"{step.name}: {step.cls.value} (model {step.model}{section})"
        return StepCode(step.name, comment_text(comment), builder(step))

    # ---------------------------------------------------------------- common pieces

    def common_step_kwargs(self, step: ResolvedStep, cacheable: bool = True) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if step.step.description:
            kwargs["description"] = self.lit(step.step.description)
        if step.depends_on:
            kwargs["depends_on"] = ListOf([Raw(self.step_vars[d]) for d in step.depends_on])
        if cacheable and step.step.enable_cache:
            self.use("CacheConfig")
            kwargs["cache_config"] = Call("CacheConfig", enable_caching="True",
                                          expire_after=self.lit(step.step.cache_expire_after or DEFAULT_CACHE_EXPIRY))
        if step.step.retry_policies:
            kwargs["retry_policies"] = ListOf([self.retry_policy(p) for p in step.step.retry_policies])
        return kwargs

    def retry_policy(self, policy) -> Code:
        job = [t for t in policy.exception_types if t.startswith("SageMaker.")]
        service = [t for t in policy.exception_types if t.startswith("Step.")]
        common = dict(max_attempts=self.lit(policy.max_attempts),
                      interval_seconds=self.lit(policy.interval_seconds),
                      backoff_rate=self.lit(policy.backoff_rate))
        if job:
            self.use("SageMakerJobStepRetryPolicy", "SageMakerJobExceptionTypeEnum")
            return Call("SageMakerJobStepRetryPolicy", exception_types=ListOf(
                [Raw(f"SageMakerJobExceptionTypeEnum.{t.split('.', 1)[1]}") for t in job]), **common)
        self.use("StepRetryPolicy", "StepExceptionTypeEnum")
        return Call("StepRetryPolicy", exception_types=ListOf(
            [Raw(f"StepExceptionTypeEnum.{t.split('.', 1)[1]}") for t in service]), **common)

    def job_kwargs(self, section) -> dict[str, Any]:
        return dict(role="ROLE", instance_type=self.lit(section.instance_type),
                    instance_count=self.lit(section.instance_count))

    def tags(self, section) -> Code | None:
        tags = {**self.spec.pipeline.tags, **section.tags}
        if not tags:
            return None
        return ListOf([self.lit({"Key": k, "Value": v}) for k, v in tags.items()])

    def env(self, env: dict[str, Any]) -> Code | None:
        return DictOf({k: self.lit(v) for k, v in env.items()}) if env else None

    def network_config(self, isolation: bool = False, encrypt: bool = False) -> Code | None:
        """VPC, isolation and (as the original sets on processing jobs) inter-container traffic
        encryption; None when none applies."""
        if not self.vpc and not isolation and not encrypt:
            return None
        self.use("NetworkConfig")
        return Call("NetworkConfig", subnets="SUBNETS" if self.vpc else None,
                    security_group_ids="SECURITY_GROUPS" if self.vpc else None,
                    enable_network_isolation=self.lit(isolation) if isolation else None,
                    encrypt_inter_container_traffic=self.lit(True) if encrypt else None)

    def code_bundle(self, step: ResolvedStep) -> tuple[list[tuple[str, Code]], Code]:
        """Where a step's code comes from: the entries of the source directory it ships,
        uploaded by ``upload_code`` at a key derived from their content; or, with
        ``code_scope: source_directory``, the whole directory, as the SDK packs it."""
        directory = self.resolved.model(step).source_directory
        entries = self.bundles.get(step.name)
        if entries is None:
            return [], self.lit(directory)
        var = f"{self.step_vars[step.name]}_code"
        return [(var, self.upload_code(directory, entries))], Raw(var)

    def upload_code(self, directory: str, entries: list[str] | None) -> Code:
        self.helpers.add("upload_code")
        self.use("hash_files_or_dirs", "tar_and_upload_dir")
        return Call("upload_code", "session", self.lit(directory), *([self.lit(entries)] if entries else []))

    def processing_command(self, section) -> list[str]:
        """The original runs a processing entry point as a module from the source directory
        (``python -m training.training``); short-named pipelines run the file."""
        if not self.original_names:
            return ["python"]
        return ["python", "-m", dotted_module(section.entry_point)]

    def s3_uri(self, channel: Channel, data_file) -> Code:
        """A data file as an S3 URI: given outright or under the channel's bucket/prefix."""
        if data_file.fileName.startswith("s3://"):
            return self.lit(data_file.fileName)
        bucket = channel.bucket or self.settings.bucket
        parts = [p.strip("/") for p in (bucket, channel.prefix, data_file.fileName) if p and p.strip("/")]
        return self.lit("s3://" + "/".join(parts))

    def output_uri(self, step: ResolvedStep, channel: str) -> Code:
        """The S3 URI a processing output of ``step`` lands at, as a property reference."""
        return Raw(f"{self.step_vars[step.name]}.properties.ProcessingOutputConfig"
                   f".Outputs[{py(channel)}].S3Output.S3Uri")

    def model_data(self, step: ResolvedStep) -> Code:
        """The S3 URI of the model ``step`` uses (its model's latest Training/Tuning step)."""
        return self.trained_model_uri(self.resolved.steps[step.trained_step])  # type: ignore[index]

    def trained_model_uri(self, trained: ResolvedStep) -> Code:
        var = self.step_vars[trained.name]
        if trained.cls is StepClass.Tuning:
            prefix = self.output_prefix(trained)
            return Raw(f"{var}.get_top_model_s3_uri(top_k=0, s3_bucket=BUCKET, prefix={py(prefix)})")
        return Raw(f"{var}.properties.ModelArtifacts.S3ModelArtifacts")

    def output_prefix(self, trained: ResolvedStep) -> str:
        """The key prefix training jobs write models under (tuning needs it to find the best)."""
        path = self.training_output_path(trained.section)
        return path.split("/", 3)[3] if path.count("/") >= 3 else ""

    def training_output_path(self, section: TrainSection) -> str:
        return section.output_path or f"s3://{self.settings.bucket}/{self.spec.pipeline.pipelineName}/models"

    # ---------------------------------------------------------------- processing and metrics

    def processing_outputs(self, step: ResolvedStep) -> list[str]:
        section: ProcessingSection = step.section
        if step.cls is StepClass.Metrics:
            return [self.report_output]
        if section.outputs is not None:
            return section.outputs
        return list(section.channel_map()) or ["train"]

    @property
    def original_names(self) -> bool:
        """Chained inputs named as the original framework names them (the default)."""
        return self.spec.pipeline.input_names == "original"

    def chained_inputs(self, step: ResolvedStep) -> list[tuple[str, str, Code]]:
        """(input or channel name, directory under the processing input root, S3 URI) for each
        chained output. Original names (dspf-compat.md): Training channels ``<src>-<ch>``,
        Processing inputs ``<src>-input-<ch>``, Metrics inputs ``<src>-input`` at
        ``<src>-<evaluate channel>``. Short names: the channel, "model" for a trained model,
        "predictions" for a transform's output, plus the trained model for Metrics steps."""
        sources = step.step.chain_input_source_step
        if not self.original_names:
            inputs = [(name, name, uri) for source in sources for name, uri in self.source_outputs(source)]
            if step.cls is StepClass.Metrics and step.trained_step and step.trained_step not in sources:
                inputs.append(("model", "model", self.model_data(step)))
            return inputs
        if step.cls is StepClass.Metrics:
            channel = self.single_channel(step.section)
            return [(f"{source}-input", f"{source}-{channel}", self.source_output(source, channel))
                    for source in sources]
        inputs = []
        for source in sources:
            for channel, uri in self.source_outputs(source, self.chain_channels(step, source)):
                name = f"{source}-{channel}" if step.cls in (StepClass.Training, StepClass.Tuning) \
                    else f"{source}-input-{channel}"
                inputs.append((name, name, uri))
        return inputs

    @property
    def report_output(self) -> str:
        return ORIGINAL_REPORT_OUTPUT if self.original_names else REPORT_OUTPUT

    @staticmethod
    def single_channel(section) -> str:
        """The one channel a Metrics or Transform section reads a chained source through."""
        return next(iter(section.channel_map()), "train")

    def chain_channels(self, step: ResolvedStep, source_name: str) -> list[str]:
        """The channels the original chains from a source: a Processing step's outputs; for a
        trained model or a transform's output, the consuming model's train/transform channel
        names (default ["train"]), each carrying the same S3 URI."""
        source = self.resolved.steps[source_name]
        if source.cls in (StepClass.Processing, StepClass.Metrics):
            return self.processing_outputs(source)
        conf = self.resolved.model(step)
        section = conf.transform if source.cls is StepClass.Transform else conf.train
        return list(section.channel_map()) if section and section.channels else ["train"]

    def source_output(self, source_name: str, channel: str) -> Code:
        """The S3 URI of one chained source's output ``channel`` (a Processing source without
        that output gives its first)."""
        outputs = dict(self.source_outputs(source_name, [channel]))
        return outputs.get(channel) or next(iter(dict(self.source_outputs(source_name)).values()))

    def source_outputs(self, source_name: str, channels: list[str] | None = None) -> list[tuple[str, Code]]:
        """(name, S3 URI) of what one chained source step produces; ``channels`` names them
        (a model or a transform's output has one URI whatever the name)."""
        source = self.resolved.steps[source_name]
        if source.cls in (StepClass.Processing, StepClass.Metrics):
            produced = self.processing_outputs(source)
            return [(channel, self.output_uri(source, channel)) for channel in channels or produced
                    if channel in produced]
        if source.cls in (StepClass.Training, StepClass.Tuning):
            return [(channel, self.trained_model_uri(source)) for channel in channels or ["model"]]
        if source.cls is StepClass.Transform:
            uri = Raw(f"{self.step_vars[source_name]}.properties.TransformOutput.S3OutputPath")
            return [(channel, uri) for channel in channels or ["predictions"]]
        return []

    def processing(self, step: ResolvedStep) -> list[tuple[str, Code]]:
        section: ProcessingSection = step.section
        var = self.step_vars[step.name]
        statements, source_dir = self.code_bundle(step)
        self.use("FrameworkProcessor", "SKLearn", "ProcessingInput", "ProcessingOutput", "ProcessingStep")
        processor = Call(
            "FrameworkProcessor", estimator_cls="SKLearn", framework_version="None",
            image_uri=self.lit(section.image_uri), command=self.lit(self.processing_command(section)),
            **self.job_kwargs(section),
            volume_size_in_gb=self.lit(section.volume_size_in_gb),
            max_runtime_in_seconds=self.lit(section.max_runtime_seconds),
            base_job_name=self.lit(section.base_job_name) if section.base_job_name else None,
            env=self.env(section.env), tags=self.tags(section),
            volume_kms_key=self.kms, output_kms_key=self.kms,
            network_config=self.network_config(encrypt=self.original_names),
            sagemaker_session="session",
        )
        inputs: list[Code] = []
        for channel in section.channel_map().values():
            for data_file in channel.dataFiles:
                inputs.append(Call("ProcessingInput", input_name=self.lit(data_file.sourceName),
                                   source=self.s3_uri(channel, data_file),
                                   destination=self.lit(f"{PROCESSING_INPUT}/{data_file.sourceName}"),
                                   s3_data_distribution_type=self.lit(section.s3_data_distribution_type)
                                   if section.s3_data_distribution_type != "FullyReplicated" else None))
        for name, directory, uri in self.chained_inputs(step):
            inputs.append(Call("ProcessingInput", input_name=self.lit(name), source=uri,
                               destination=self.lit(f"{PROCESSING_INPUT}/{directory}")))
        if step.cls is StepClass.Metrics:
            outputs = [Call("ProcessingOutput", output_name=self.lit(self.report_output),
                            source=self.lit(PROCESSING_OUTPUT + "/" if self.original_names else PROCESSING_OUTPUT))]
        else:
            outputs = [Call("ProcessingOutput", output_name=self.lit(name),
                            source=self.lit(f"{PROCESSING_OUTPUT}/{name}"))
                       for name in self.processing_outputs(step)]
        run = Call(f"{var}_processor.run", code=self.lit(section.entry_point), source_dir=source_dir,
                   inputs=ListOf(inputs), outputs=ListOf(outputs),
                   arguments=self.lit(section.arguments) if section.arguments else None,
                   kms_key=self.kms)  # the SDK encrypts the code it uploads with it
        statements.append((f"{var}_processor", processor))
        kwargs = dict(name=self.lit(step.name), step_args=run, **self.common_step_kwargs(step))
        if step.cls is StepClass.Metrics:
            self.use("PropertyFile")
            statements.append((f"{var}_report", Call("PropertyFile", name=self.lit(REPORT_PROPERTY_FILE),
                                                     output_name=self.lit(self.report_output),
                                                     path=self.lit(REPORT_FILE))))
            kwargs["property_files"] = ListOf([Raw(f"{var}_report")])
        statements.append((var, Call("ProcessingStep", **kwargs)))
        return statements

    # ---------------------------------------------------------------- training and tuning

    def estimator(self, step: ResolvedStep, source_dir: Code) -> Code:
        section: TrainSection = step.section
        self.use("Estimator")
        metric_definitions = section.metric_definitions
        if step.cls is StepClass.Tuning and self.resolved.model(step).tune.metric_definitions:
            metric_definitions = self.resolved.model(step).tune.metric_definitions
        return Call(
            "Estimator", image_uri=self.lit(section.image), entry_point=self.lit(section.entry_point),
            source_dir=source_dir, **self.job_kwargs(section),
            volume_size=self.lit(section.volume_size_in_gb), max_run=self.lit(section.max_runtime_seconds),
            output_path=self.lit(self.training_output_path(section)),
            base_job_name=self.lit(section.base_job_name) if section.base_job_name else None,
            hyperparameters=self.static_hyperparameters(step),
            environment=self.env(section.env), tags=self.tags(section),
            metric_definitions=self.lit([m.model_dump() for m in metric_definitions]) if metric_definitions else None,
            subnets="SUBNETS" if self.vpc else None,
            security_group_ids="SECURITY_GROUPS" if self.vpc else None,
            volume_kms_key=self.kms, output_kms_key=self.kms,
            enable_network_isolation=self.lit(True) if section.enable_network_isolation else None,
            disable_profiler="True",
            sagemaker_session="session",
        )

    def static_hyperparameters(self, step: ResolvedStep) -> Code | None:
        """The section's hyperparameters; for tuning, those the tuner does not vary."""
        tuned = set(self.resolved.model(step).tune.hyperparameter_ranges) if step.cls is StepClass.Tuning else set()
        values = {k: self.lit(v) for k, v in step.section.all_hyperparameters.items() if k not in tuned}
        return DictOf(values) if values else None

    def training_inputs(self, step: ResolvedStep) -> Code:
        section: TrainSection = step.section
        self.use("TrainingInput")
        options = dict(content_type=self.lit(section.content_type) if section.content_type else None,
                       input_mode=self.lit(section.input_mode)
                       if section.input_mode != "File" or self.original_names else None,
                       distribution=self.lit(section.distribution)
                       if section.distribution != "FullyReplicated" else None)
        channels: dict[str, Code] = {}
        for name, channel in section.channel_map().items():
            for data_file in channel.dataFiles[:1]:
                channels[name] = Call("TrainingInput", s3_data=self.s3_uri(channel, data_file), **options)
        for name, _, uri in self.chained_inputs(step):
            channels[name] = Call("TrainingInput", s3_data=uri, **options)
        return DictOf(channels)

    def training(self, step: ResolvedStep) -> list[tuple[str, Code]]:
        var = self.step_vars[step.name]
        self.use("TrainingStep")
        fit = Call(f"{var}_estimator.fit", inputs=self.training_inputs(step))
        statements, source_dir = self.code_bundle(step)
        return [*statements, (f"{var}_estimator", self.estimator(step, source_dir)),
                (var, Call("TrainingStep", name=self.lit(step.name), step_args=fit,
                           **self.common_step_kwargs(step)))]

    def tuning(self, step: ResolvedStep) -> list[tuple[str, Code]]:
        var = self.step_vars[step.name]
        tune = self.resolved.model(step).tune
        section: TrainSection = step.section
        self.use("HyperparameterTuner", "TuningStep")
        ranges: dict[str, Code] = {}
        for name, spec in tune.hyperparameter_ranges.items():
            if spec.type == "Categorical":
                self.use("CategoricalParameter")
                ranges[name] = Call("CategoricalParameter", self.lit(spec.values))
            else:
                cls = "ContinuousParameter" if spec.type == "Continuous" else "IntegerParameter"
                self.use(cls)
                ranges[name] = Call(cls, self.lit(spec.min_value), self.lit(spec.max_value),
                                    scaling_type=self.lit(spec.scaling_type))
        statements, source_dir = self.code_bundle(step)
        statements.append((f"{var}_estimator", self.estimator(step, source_dir)))
        tuner = Call("HyperparameterTuner", estimator=f"{var}_estimator",
                     objective_metric_name=self.lit(tune.objective_metric_name),
                     hyperparameter_ranges=DictOf(ranges),
                     metric_definitions=self.lit([m.model_dump() for m in (tune.metric_definitions
                                                                          or section.metric_definitions)]),
                     strategy=self.lit(tune.strategy), objective_type=self.lit(tune.objective_type),
                     max_jobs=self.lit(tune.max_jobs), max_parallel_jobs=self.lit(tune.max_parallel_jobs),
                     early_stopping_type=self.lit(tune.early_stopping_type))
        statements.append((f"{var}_tuner", tuner))
        # A fixed job name keeps the code's S3 key and the static hyperparameters free of the
        # timestamp the SDK would otherwise put in them (SageMaker names the real job anyway).
        job_name = re.sub(r"[^A-Za-z0-9-]", "-", step.name)[:32].strip("-")
        fit = Call(f"{var}_tuner.fit", inputs=self.training_inputs(step), job_name=self.lit(job_name))
        statements.append((var, Call("TuningStep", name=self.lit(step.name), step_args=fit,
                                     **self.common_step_kwargs(step))))
        return statements

    # ---------------------------------------------------------------- models, transform, registry

    def inference_model(self, step: ResolvedStep, image: str | None) -> list[tuple[str, Code]]:
        """A Model of the trained artifact served by the inference toolkit (the original's
        ModelRepack: False): SAGEMAKER_PROGRAM is the module the toolkit imports (the transform
        entry point, dotted; ``inference`` without one), SAGEMAKER_SUBMIT_DIRECTORY ships the
        code that module reaches (see code_bundle), SAGEMAKER_REQUIREMENTS its requirements
        file. Short-named pipelines get the environment only with a transform entry point."""
        model_conf = self.resolved.model(step)
        var = self.step_vars[step.name]
        env: dict[str, Code] = {}
        statements: list[tuple[str, Code]] = []
        transform = model_conf.transform
        entry_point = transform.entry_point if transform else None
        if entry_point or self.original_names:
            statements.append((f"{var}_code", self.upload_code(model_conf.source_directory,
                                                               self.bundles.get(step.name))))
            env = {"SAGEMAKER_PROGRAM": self.lit(dotted_module(entry_point)),
                   "SAGEMAKER_SUBMIT_DIRECTORY": Raw(f"{var}_code"),
                   "SAGEMAKER_REQUIREMENTS": self.lit(INFERENCE_REQUIREMENTS)}
            env.update({k: self.lit(v) for k, v in (transform.env if transform else {}).items()})
        self.use("Model")
        vpc = self.lit({"Subnets": self.settings.subnets, "SecurityGroupIds": self.settings.security_groups}) \
            if self.vpc else None
        statements.append((f"{var}_model", Call(
            "Model", image_uri=self.lit(image), model_data=self.model_data(step), role="ROLE",
            env=DictOf(env) if env else None, vpc_config=vpc,
            model_kms_key=self.kms, sagemaker_session="session")))
        return statements

    def model_image(self, step: ResolvedStep) -> str | None:
        """The registry's inference image, as in the original (a transform section's image_uri
        is a fallback for models without one, then the training image)."""
        conf = self.resolved.model(step)
        spec = conf.registry.InferenceSpecification if conf.registry else None
        return (spec.image_uri if spec and spec.image_uri else None) \
            or (conf.transform.image_uri if conf.transform else None) or (conf.train.image if conf.train else None)

    def create_model(self, step: ResolvedStep) -> list[tuple[str, Code]]:
        var = self.step_vars[step.name]
        transform = self.resolved.model(step).transform
        self.use("ModelStep")
        statements = self.inference_model(step, self.model_image(step))
        create = Call(f"{var}_model.create",
                      instance_type=self.lit(transform.instance_type) if transform else self.lit(DEFAULT_INSTANCE_TYPE))
        kwargs = self.common_step_kwargs(step, cacheable=False)
        statements.append((var, Call("ModelStep", name=self.lit(step.name), step_args=create, **kwargs)))
        return statements

    def transform(self, step: ResolvedStep) -> list[tuple[str, Code]]:
        var = self.step_vars[step.name]
        section = step.section
        self.use("Transformer", "TransformStep", "Join", "ExecutionVariables")
        output_path = self.lit(section.output_path) if section.output_path else Call(
            "Join", on=self.lit("/"), values=ListOf([self.lit("s3:/"), "BUCKET", "PIPELINE_NAME",
                                                     "ExecutionVariables.PIPELINE_EXECUTION_ID",
                                                     self.lit(step.name)]))
        transformer = Call(
            "Transformer", model_name=f"{self.step_vars[step.model_step]}.properties.ModelName",
            instance_type=self.lit(section.instance_type), instance_count=self.lit(section.instance_count),
            strategy=self.lit(section.strategy) if section.strategy else None,
            assemble_with=self.lit(section.assemble_with) if section.assemble_with else None,
            accept=self.lit(section.accept or section.content_type),
            max_payload=self.lit(section.max_payload) if section.max_payload else None,
            output_path=output_path,
            base_transform_job_name=self.lit(section.base_job_name) if section.base_job_name else None,
            env=self.env(section.env), tags=self.tags(section), output_kms_key=self.kms, volume_kms_key=self.kms,
            sagemaker_session="session")
        transform = Call(f"{var}_transformer.transform", data=self.transform_data(step),
                         content_type=self.lit(section.content_type),
                         split_type=self.lit(section.split_type) if section.split_type else None,
                         join_source=self.lit(section.join_source) if section.join_source else None,
                         input_filter=self.lit(section.input_filter) if section.input_filter else None,
                         output_filter=self.lit(section.output_filter) if section.output_filter else None)
        return [(f"{var}_transformer", transformer),
                (var, Call("TransformStep", name=self.lit(step.name), step_args=transform,
                           **self.common_step_kwargs(step)))]

    def transform_data(self, step: ResolvedStep) -> Code:
        """The chained source's output (the channel the transform section names, else its first),
        joined with chain_input_additional_prefix; else the section's one data file."""
        section = step.section
        channels = section.channel_map()
        if step.step.chain_input_source_step and self.original_names:
            source = self.source_output(step.step.chain_input_source_step[0], self.single_channel(section))
            prefix = step.step.chain_input_additional_prefix or ""
            return Call("Join", on=self.lit("/"), values=ListOf([source, self.lit(prefix)]))
        if step.step.chain_input_source_step:
            outputs = dict(self.source_outputs(step.step.chain_input_source_step[0]))
            wanted = next((name for name in channels if name in outputs), next(iter(outputs)))
            base = outputs[wanted]
            prefix = step.step.chain_input_additional_prefix
            if not prefix:
                return base
            return Call("Join", on=self.lit("/"), values=ListOf([base, self.lit(prefix.strip("/"))]))
        for channel in channels.values():
            for data_file in channel.dataFiles:
                return self.s3_uri(channel, data_file)
        raise ValueError(f"Transform step {step.name} has neither a chained source nor a data file")

    def register(self, step: ResolvedStep) -> list[tuple[str, Code]]:
        var = self.step_vars[step.name]
        conf = self.resolved.model(step)
        registry = conf.registry
        spec = registry.InferenceSpecification
        self.use("ModelStep")
        statements = self.inference_model(step, self.model_image(step))
        group = registry.ModelPackageGroupName or (
            f"{self.settings.project_name}-{step.model}" if self.settings.project_name else step.model)
        status = registry.ModelApprovalStatus or (spec.approval_status if spec else None) or "PendingManualApproval"
        transform_types = (spec.SupportedTransformInstanceTypes if spec else []) or [DEFAULT_INSTANCE_TYPE]
        realtime_types = (spec.SupportedRealtimeInferenceInstanceTypes or spec.SupportedRealtimeInferenceInstanceType
                          if spec else []) or [DEFAULT_INSTANCE_TYPE]
        description = registry.ModelPackageDescription or registry.ModelPackageGroupDescription
        kwargs: dict[str, Any] = dict(
            content_types=self.lit(spec.supported_content_types if spec else ["text/csv"]),
            response_types=self.lit(spec.supported_response_MIME_types if spec else ["text/csv"]),
            inference_instances=self.lit(realtime_types), transform_instances=self.lit(transform_types),
            model_package_group_name=self.lit(group), approval_status=self.lit(status),
            description=self.lit(description) if description else None,
            customer_metadata_properties=DictOf({"PIPELINE_ARN": Raw("ExecutionVariables.PIPELINE_EXECUTION_ARN")}))
        self.use("ExecutionVariables")
        if step.metrics_step:
            self.use("ModelMetrics", "MetricsSource", "Join")
            metrics_var = self.step_vars[step.metrics_step]
            report = Call("Join", on=self.lit("/"), values=ListOf([
                Raw(f"{metrics_var}.properties.ProcessingOutputConfig.Outputs[{py(self.report_output)}].S3Output.S3Uri"),
                self.lit(REPORT_FILE)]))
            evaluate = conf.evaluate
            kwargs["model_metrics"] = Call("ModelMetrics", model_statistics=Call(
                "MetricsSource", s3_uri=report,
                content_type=self.lit(evaluate.content_type if evaluate and evaluate.content_type
                                      else "application/json")))
        register = Call(f"{var}_model.register", **kwargs)
        statements.append((var, Call("ModelStep", name=self.lit(step.name), step_args=register,
                                     **self.common_step_kwargs(step, cacheable=False))))
        return statements

    # ---------------------------------------------------------------- control flow

    def operand(self, operand: Any) -> Code:
        if isinstance(operand, ReportValue):
            self.use("JsonGet")
            metrics_var = self.step_vars[operand.step]
            return Call("JsonGet", step_name=f"{metrics_var}.name", property_file=f"{metrics_var}_report",
                        json_path=self.lit(operand.json_path))
        return self.lit(operand)

    def comparison(self, comparison: Comparison) -> Code:
        cls = _CONDITIONS[comparison.type]
        self.use(cls)
        if comparison.type == "In":
            return Call(cls, value=self.operand(comparison.left),
                        in_values=ListOf([self.lit(v) for v in comparison.values or []]))
        return Call(cls, left=self.operand(comparison.left), right=self.operand(comparison.right))

    def condition(self, step: ResolvedStep) -> list[tuple[str, Code]]:
        self.use("ConditionStep")
        var = self.step_vars[step.name]
        return [(var, Call(
            "ConditionStep", name=self.lit(step.name),
            conditions=ListOf([self.comparison(c) for c in step.step.conditions]),
            if_steps=ListOf([Raw(self.step_vars[n]) for n in step.step.if_steps]),
            else_steps=ListOf([Raw(self.step_vars[n]) for n in step.step.else_steps]),
            **self.common_step_kwargs(step, cacheable=False)))]

    def fail(self, step: ResolvedStep) -> list[tuple[str, Code]]:
        self.use("FailStep")
        return [(self.step_vars[step.name], Call("FailStep", name=self.lit(step.name),
                                                 error_message=self.lit(step.step.error_message),
                                                 **self.common_step_kwargs(step, cacheable=False)))]

