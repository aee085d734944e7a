"""The resolved pipeline as SDK v2 calls: one block of assignments per step.

Everything SDK-specific lives here and in the pipeline.py template; a different SDK target
would replace these two. Values are spelled with ``literals.py`` so any string survives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from smpipe_gen.config.model import Channel, ParameterRef, StepClass, TrainSection
from smpipe_gen.config.resolve import ResolvedPipeline, ResolvedStep
from smpipe_gen.render.literals import Call, Code, DictOf, ListOf, Namer, Raw, comment_text, py
from smpipe_gen.steps import resolve
from smpipe_gen.steps.config_classes import config_class

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
CONDITION_CLASSES = {
    "Equals": "ConditionEquals",
    "GreaterThan": "ConditionGreaterThan",
    "GreaterThanOrEqualTo": "ConditionGreaterThanOrEqualTo",
    "LessThan": "ConditionLessThan",
    "LessThanOrEqualTo": "ConditionLessThanOrEqualTo",
    "In": "ConditionIn",
}
for _name in CONDITION_CLASSES.values():
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
    return Generator(resolved, bundles).module()


class Generator:
    """What every step's code shares: names, imports, parameters, settings and the common
    pieces (step options, job options, code upload, trained models); the step classes'
    builders (builders.py) and the chaining between steps (chaining.py) take it as ``g``."""


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
        builder = resolve(config_class(step.cls).builder)
        section = f", section {step.section_name}" if step.section_name else ""
        comment = f"{step.name}: {step.cls.value} (model {step.model}{section})"
        return StepCode(step.name, comment_text(comment), builder(self, step))

    # ---------------------------------------------------------------- common pieces

    def common_step_kwargs(self, step: ResolvedStep) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if step.step.description:
            kwargs["description"] = self.lit(step.step.description)
        if step.depends_on:
            kwargs["depends_on"] = ListOf([Raw(self.step_vars[d]) for d in step.depends_on])
        if config_class(step.cls).cacheable and step.step.enable_cache:
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

    # ---------------------------------------------------------------- naming

    @property
    def original_names(self) -> bool:
        """Chained inputs named as the original framework names them (the default)."""
        return self.spec.pipeline.input_names == "original"

    @property
    def report_output(self) -> str:
        return ORIGINAL_REPORT_OUTPUT if self.original_names else REPORT_OUTPUT
