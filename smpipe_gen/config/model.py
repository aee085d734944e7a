"""The typed config: what a model repository declares, after loading and merging.

Field names follow the keys of the dynamic-sagemaker-pipelines-framework format (aliases keep
their original spelling, camelCase and all) so existing files load unchanged. Every model
forbids unknown keys; the loader turns those errors into "did you mean" hints.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from smpipe_gen.json_values import as_text
from smpipe_gen.steps.config_classes import CONFIG_CLASSES

# The original framework's defaults: repositories that omit a value get what they got there.
DEFAULT_INSTANCE_TYPE = "ml.m5.2xlarge"
DEFAULT_VOLUME_GB = 32
DEFAULT_MAX_RUNTIME_SECONDS = 3000

# Model names (``conf.models`` keys), custom section names and ``step_type`` end up in generated
# code (comments, S3 prefixes, job names), so they are held to a SageMaker-style name: a letter or
# digit, then letters, digits, ``_`` or ``-``, at most 63 characters.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
NAME_RULE = "1-63 letters, digits, '_' or '-', starting with a letter or digit"

# Numeric bounds from the SageMaker API reference (ProcessingClusterConfig, ResourceConfig,
# StoppingCondition, ProcessingStoppingCondition, TransformJob, ParallelismConfiguration); where
# the API documents only a minimum, its Integer type (32-bit) is the maximum.
INT32_MAX = 2**31 - 1
Count = Annotated[int, Field(ge=1, le=INT32_MAX)]
ProcessingCount = Annotated[int, Field(ge=1, le=100)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# ---------------------------------------------------------------- values


class ParameterRef(_Section):
    """``{Parameter: Name}``: the value of a pipeline parameter at execution time."""

    Parameter: str


class ReportValue(_Section):
    """``{step: Name, json_path: a.b.c}``: a value read from a Metrics step's JSON report."""

    step: str
    json_path: str


Scalar = Union[bool, int, float, str]
Value = Union[ParameterRef, Scalar]
Operand = Union[ParameterRef, ReportValue, Scalar]


def _str_values(value: Any) -> Any:
    """YAML reads ``1`` and ``true`` as numbers and booleans; SageMaker wants strings in
    environments and hyperparameters, written the way YAML users expect."""
    if isinstance(value, dict):
        return {key: _as_text(item) for key, item in value.items()}
    return value


def _as_text(item: Any) -> Any:
    return as_text(item) if isinstance(item, (bool, int, float)) else item


# ---------------------------------------------------------------- model sections


class DataFile(_Section):
    sourceName: str
    fileName: str


class Channel(_Section):
    dataFiles: list[DataFile] = Field(default_factory=list)
    s3BucketName: str | None = None
    inputBucketPrefix: str | None = None
    # Spellings the original framework also read.
    s3Bucket: str | None = None
    s3InputPrefix: str | None = None

    @property
    def bucket(self) -> str | None:
        return self.s3BucketName or self.s3Bucket

    @property
    def prefix(self) -> str:
        return self.inputBucketPrefix or self.s3InputPrefix or ""


Channels = Union[str, dict[str, Union[Channel, None]]]


class _Job(_Section):
    """Settings shared by the processing, training and transform sections."""

    image_uri: str | None = None
    entry_point: str | None = None
    instance_type: Union[str, ParameterRef] = DEFAULT_INSTANCE_TYPE
    instance_count: Union[Count, ParameterRef] = 1
    volume_size_in_gb: int = Field(DEFAULT_VOLUME_GB, ge=1, le=16384)
    max_runtime_seconds: int = Field(DEFAULT_MAX_RUNTIME_SECONDS, ge=1, le=2_419_200)  # training: at most 28 days
    base_job_name: str | None = None
    env: dict[str, Union[ParameterRef, Scalar]] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    channels: Channels | None = None

    _text_env = field_validator("env", mode="before")(_str_values)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_from_list(cls, value: Any) -> Any:
        """Tags may be written as a mapping or as AWS's [{Key, Value}] list."""
        if isinstance(value, list) and all(isinstance(i, dict) and {"Key", "Value"} <= set(i) for i in value):
            return {item["Key"]: item["Value"] for item in value}
        return _str_values(value)

    def channel_map(self) -> dict[str, Channel]:
        """Channels as a name -> Channel mapping (a bare string names one empty channel)."""
        if self.channels is None:
            return {}
        if isinstance(self.channels, str):
            return {self.channels: Channel()}
        return {name: channel or Channel() for name, channel in self.channels.items()}


class ProcessingSection(_Job):
    """A Processing job: ``preprocess``, ``evaluate`` or any section a step's step_type names."""

    instance_count: Union[ProcessingCount, ParameterRef] = 1
    max_runtime_seconds: int = Field(DEFAULT_MAX_RUNTIME_SECONDS, ge=1, le=777_600)  # processing: at most 9 days
    outputs: list[str] | None = None
    arguments: list[Union[str, ParameterRef]] = Field(default_factory=list)
    content_type: str | None = None
    s3_data_distribution_type: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"


class EvaluateSection(ProcessingSection):
    """The ``evaluate`` section (the Metrics step): the original gives it 50 GB and an hour, and
    spells the runtime ``max_runtime_in_seconds``."""

    volume_size_in_gb: int = Field(50, ge=1, le=16384)
    max_runtime_seconds: int = Field(3600, ge=1, le=777_600)

    @model_validator(mode="before")
    @classmethod
    def _original_runtime_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_runtime_in_seconds" in data and "max_runtime_seconds" not in data:
            data = {("max_runtime_seconds" if k == "max_runtime_in_seconds" else k): v for k, v in data.items()}
        return data


class MetricDefinition(_Section):
    Name: str
    Regex: str


class TrainSection(_Job):
    base_image_uri: str | None = None
    output_path: str | None = None
    hyperparameters: dict[str, Union[ParameterRef, Scalar]] = Field(default_factory=dict, alias="hyperparameters")
    hyperparams: dict[str, Union[ParameterRef, Scalar]] = Field(default_factory=dict)
    metric_definitions: list[MetricDefinition] = Field(default_factory=list)
    input_mode: Literal["File", "Pipe", "FastFile"] = "File"
    content_type: str | None = None
    distribution: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"
    enable_network_isolation: bool = False

    _text_hps = field_validator("hyperparameters", "hyperparams", mode="before")(_str_values)

    @property
    def image(self) -> str | None:
        return self.image_uri or self.base_image_uri

    @property
    def all_hyperparameters(self) -> dict[str, Any]:
        """``hyperparams`` is the original framework's spelling; both are accepted."""
        return {**self.hyperparams, **self.hyperparameters}


class ParameterRange(_Section):
    type: Literal["Continuous", "Integer", "Categorical"]
    min_value: float | int | None = None
    max_value: float | int | None = None
    values: list[Scalar] | None = None
    scaling_type: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"

    @model_validator(mode="after")
    def _bounds(self) -> "ParameterRange":
        if self.type == "Categorical":
            if not self.values:
                raise ValueError("a Categorical range needs 'values'")
        elif self.min_value is None or self.max_value is None or self.min_value > self.max_value:
            raise ValueError(f"a {self.type} range needs min_value <= max_value")
        return self


class TuneSection(_Section):
    strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"] = "Bayesian"
    objective_metric_name: str
    objective_type: Literal["Maximize", "Minimize"] = "Minimize"
    hyperparameter_ranges: dict[str, ParameterRange]
    metric_definitions: list[MetricDefinition] = Field(default_factory=list)
    max_jobs: int = Field(4, ge=1, le=INT32_MAX)
    max_parallel_jobs: int = Field(2, ge=1, le=INT32_MAX)
    early_stopping_type: Literal["Off", "Auto"] = "Off"


class TransformSection(_Job):
    strategy: Literal["SingleRecord", "MultiRecord"] | None = None
    assemble_with: Literal["Line", "None"] | None = None
    join_source: Literal["Input", "None"] | None = None
    split_type: Literal["Line", "RecordIO", "TFRecord", "None"] | None = None
    content_type: str = "text/csv"
    accept: str | None = None
    max_payload: int | None = Field(None, ge=0, le=100)  # MaxPayloadInMB
    output_path: str | None = None
    input_filter: str | None = None
    output_filter: str | None = None


class InferenceSpec(_Section):
    image_uri: str | None = None
    supported_content_types: list[str] = Field(default_factory=lambda: ["text/csv"])
    supported_response_MIME_types: list[str] = Field(default_factory=lambda: ["text/csv"])
    SupportedTransformInstanceTypes: list[str] = Field(default_factory=list)
    SupportedRealtimeInferenceInstanceType: list[str] = Field(default_factory=list)
    SupportedRealtimeInferenceInstanceTypes: list[str] = Field(default_factory=list)  # the original's spelling
    approval_status: Literal["Approved", "Rejected", "PendingManualApproval"] | None = None

    @field_validator("SupportedTransformInstanceTypes", "SupportedRealtimeInferenceInstanceType",
                     "SupportedRealtimeInferenceInstanceTypes", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class RegistrySection(_Section):
    ModelPackageGroupName: str | None = None
    ModelPackageGroupDescription: str | None = None
    ModelPackageDescription: str | None = None
    ModelApprovalStatus: Union[Literal["Approved", "Rejected", "PendingManualApproval"], ParameterRef] | None = None
    ModelRepack: bool = False
    InferenceSpecification: InferenceSpec | None = None

    @field_validator("ModelRepack", mode="before")
    @classmethod
    def _repack_flag(cls, value: Any) -> Any:
        """The original wrote "True"/"False" strings; a YAML boolean means the same."""
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value


class ModelConfig(_Section):
    """``conf.models.<model>``. Extra keys are further Processing sections, allowed only when
    a step's ``step_type`` names them (checked once steps are known)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    source_directory: str
    # What each step ships of source_directory: "step", what its entry point reaches (see
    # render/bundles.py), or "source_directory", all of it for every step (as before scoping).
    code_scope: Literal["step", "source_directory"] = "step"
    preprocess: ProcessingSection | None = None
    train: TrainSection | None = None
    tune: TuneSection | None = None
    transform: TransformSection | None = None
    evaluate: EvaluateSection | None = None
    registry: RegistrySection | None = None

    @model_validator(mode="after")
    def _section_names(self) -> "ModelConfig":
        for name in self.extra_sections():
            if not re.fullmatch(NAME_PATTERN, name):
                raise ValueError(f"section name {repr(name)[:80]} is not allowed: use {NAME_RULE}")
        return self

    def extra_sections(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


# ---------------------------------------------------------------- pipeline


# The config's step classes: one per row of the table in smpipe_gen/steps/config_classes.py.
StepClass = Enum("StepClass", [(name, name) for name in CONFIG_CLASSES], type=str, module=__name__)


ConditionType = Literal["Equals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo", "In"]


class Comparison(_Section):
    """One condition; a Condition step holds when all of its conditions hold."""

    type: ConditionType
    left: Operand
    right: Operand | None = None
    values: list[Value] | None = None  # for "In"

    @model_validator(mode="after")
    def _operands(self) -> "Comparison":
        if self.type == "In":
            if not self.values or self.right is not None:
                raise ValueError("an 'In' condition takes 'left' and 'values', not 'right'")
        elif self.right is None or self.values is not None:
            raise ValueError(f"a '{self.type}' condition takes 'left' and 'right'")
        return self


class RetryPolicy(_Section):
    exception_types: list[Literal["SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR",
                                  "SageMaker.RESOURCE_LIMIT", "Step.SERVICE_FAULT",
                                  "Step.THROTTLING"]]
    max_attempts: int = Field(3, ge=1, le=20)
    interval_seconds: int = Field(1, ge=1, le=INT32_MAX)
    backoff_rate: float = Field(2.0, ge=1.0, le=1e6)


class Step(_Section):
    step_name: str = Field(pattern=r"^[A-Za-z0-9\-_]{1,64}$")
    step_class: StepClass
    step_type: str | None = Field(None, pattern=NAME_PATTERN)
    description: str | None = None
    enable_cache: bool = False
    cache_expire_after: str | None = Field(None, pattern=r"^P")
    chain_input_source_step: list[str] = Field(default_factory=list)
    chain_input_additional_prefix: str | None = None
    retry_policies: list[RetryPolicy] = Field(default_factory=list)
    # Condition steps
    conditions: list[Comparison] = Field(default_factory=list)
    if_steps: list[str] = Field(default_factory=list)
    else_steps: list[str] = Field(default_factory=list)
    # Fail steps
    error_message: str | None = None

    @field_validator("chain_input_source_step", "if_steps", "else_steps", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _class_specific(self) -> "Step":
        cls = self.step_class
        if cls is StepClass.Condition and not self.conditions:
            raise ValueError("a Condition step needs 'conditions'")
        if cls is not StepClass.Condition and (self.conditions or self.if_steps or self.else_steps):
            raise ValueError("'conditions', 'if_steps' and 'else_steps' belong to Condition steps")
        if cls is StepClass.Fail and not self.error_message:
            raise ValueError("a Fail step needs 'error_message'")
        if cls is not StepClass.Fail and self.error_message is not None:
            raise ValueError("'error_message' belongs to Fail steps")
        if self.chain_input_additional_prefix is not None and cls is not StepClass.Transform:
            raise ValueError("'chain_input_additional_prefix' applies to Transform steps only")
        return self


class ModelSteps(_Section):
    steps: list[Step]


class Parameter(_Section):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    type: Literal["String", "Integer", "Float", "Boolean"]
    default: Scalar | None = None
    enum_values: list[Scalar] | None = None

    @model_validator(mode="after")
    def _default_matches_type(self) -> "Parameter":
        expected = {"String": (str,), "Integer": (int,), "Float": (int, float), "Boolean": (bool,)}[self.type]
        default = self.default
        if default is not None and (not isinstance(default, expected)
                                    or (self.type != "Boolean" and isinstance(default, bool))):
            raise ValueError(f"default {default!r} is not a {self.type}")
        return self


class PipelineConfig(_Section):
    """``conf.sagemakerPipeline``: held by exactly one model file, the anchor."""

    pipelineName: str = Field(pattern=r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,255}$")
    displayName: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    parallelism: int | None = Field(None, ge=1, le=INT32_MAX)  # MaxParallelExecutionSteps
    parameters: list[Parameter] = Field(default_factory=list)
    models: dict[str, ModelSteps]
    dependencies: list[str] = Field(default_factory=list)
    # How chained inputs and training channels are named: "original" as the original framework
    # names them (<src>-<ch>, <src>-input-<ch>; its scripts hard-code these), "short" by channel.
    input_names: Literal["original", "short"] = "original"
    local_data: dict[str, str] = Field(default_factory=dict)

    _text_tags = field_validator("tags", mode="before")(_str_values)


# ---------------------------------------------------------------- the whole thing


class Settings(_Section):
    """Framework-level settings, from env.env, SMP_* variables and the framework conf."""

    account_id: str
    region: str
    bucket: str
    role: str
    subnets: list[str] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)
    kms_key: str | None = None
    project_name: str | None = None
    environment: str | None = None  # environments/<name>.env the values came from


class PipelineSpec(_Section):
    """Everything render needs: settings, every model's sections, and the pipeline."""

    settings: Settings
    models: dict[str, ModelConfig]
    pipeline: PipelineConfig
    config_files: list[str]  # repository-relative, in the order they were read


def known_keys() -> set[str]:
    """Every key any config section accepts: the vocabulary for "did you mean" hints."""
    sections = [ParameterRef, ReportValue, DataFile, Channel, ProcessingSection, MetricDefinition,
                TrainSection, ParameterRange, TuneSection, TransformSection, InferenceSpec,
                EvaluateSection, RegistrySection, ModelConfig, Comparison, RetryPolicy, Step, ModelSteps, Parameter,
                PipelineConfig]
    keys: set[str] = set()
    for section in sections:
        for name, info in section.model_fields.items():
            keys.add(info.alias or name)
    return keys
