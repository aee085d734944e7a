"""One builder per config step class (the table in smpipe_gen/steps/config_classes.py names
it): the SDK v2 calls of one resolved step, as (variable, code) assignments. Each takes the
generator ``g`` (codegen.py) for names, imports and the pieces every step shares."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from smpipe_gen.config.model import DEFAULT_INSTANCE_TYPE, Comparison, ProcessingSection, ReportValue, StepClass, \
    TrainSection
from smpipe_gen.config.resolve import ResolvedStep
from smpipe_gen.render.chaining import chained_inputs, processing_outputs, single_channel, source_output, \
    source_outputs
from smpipe_gen.render.codegen import (
    CONDITION_CLASSES,
    INFERENCE_REQUIREMENTS,
    PROCESSING_INPUT,
    PROCESSING_OUTPUT,
    REPORT_FILE,
    REPORT_PROPERTY_FILE,
    dotted_module,
)
from smpipe_gen.render.literals import Call, Code, DictOf, ListOf, Raw, py

if TYPE_CHECKING:
    from smpipe_gen.render.codegen import Generator


def processing_command(g: Generator, section) -> list[str]:
    """The original runs a processing entry point as a module from the source directory
    (``python -m training.training``); short-named pipelines run the file."""
    if not g.original_names:
        return ["python"]
    return ["python", "-m", dotted_module(section.entry_point)]


def processing(g: Generator, step: ResolvedStep) -> list[tuple[str, Code]]:
    section: ProcessingSection = step.section
    var = g.step_vars[step.name]
    statements, source_dir = g.code_bundle(step)
    g.use("FrameworkProcessor", "SKLearn", "ProcessingInput", "ProcessingOutput", "ProcessingStep")
    processor = Call(
        "FrameworkProcessor", estimator_cls="SKLearn", framework_version="None",
        image_uri=g.lit(section.image_uri), command=g.lit(processing_command(g, section)),
        **g.job_kwargs(section),
        volume_size_in_gb=g.lit(section.volume_size_in_gb),
        max_runtime_in_seconds=g.lit(section.max_runtime_seconds),
        base_job_name=g.lit(section.base_job_name) if section.base_job_name else None,
        env=g.env(section.env), tags=g.tags(section),
        volume_kms_key=g.kms, output_kms_key=g.kms,
        network_config=g.network_config(encrypt=g.original_names),
        sagemaker_session="session",
    )
    inputs: list[Code] = []
    for channel in section.channel_map().values():
        for data_file in channel.dataFiles:
            inputs.append(Call("ProcessingInput", input_name=g.lit(data_file.sourceName),
                               source=g.s3_uri(channel, data_file),
                               destination=g.lit(f"{PROCESSING_INPUT}/{data_file.sourceName}"),
                               s3_data_distribution_type=g.lit(section.s3_data_distribution_type)
                               if section.s3_data_distribution_type != "FullyReplicated" else None))
    for name, directory, uri in chained_inputs(g, step):
        inputs.append(Call("ProcessingInput", input_name=g.lit(name), source=uri,
                           destination=g.lit(f"{PROCESSING_INPUT}/{directory}")))
    if step.cls is StepClass.Metrics:
        outputs = [Call("ProcessingOutput", output_name=g.lit(g.report_output),
                        source=g.lit(PROCESSING_OUTPUT + "/" if g.original_names else PROCESSING_OUTPUT))]
    else:
        outputs = [Call("ProcessingOutput", output_name=g.lit(name),
                        source=g.lit(f"{PROCESSING_OUTPUT}/{name}"))
                   for name in processing_outputs(g, step)]
    run = Call(f"{var}_processor.run", code=g.lit(section.entry_point), source_dir=source_dir,
               inputs=ListOf(inputs), outputs=ListOf(outputs),
               arguments=g.lit(section.arguments) if section.arguments else None,
               kms_key=g.kms)  # the SDK encrypts the code it uploads with it
    statements.append((f"{var}_processor", processor))
    kwargs = dict(name=g.lit(step.name), step_args=run, **g.common_step_kwargs(step))
    if step.cls is StepClass.Metrics:
        g.use("PropertyFile")
        statements.append((f"{var}_report", Call("PropertyFile", name=g.lit(REPORT_PROPERTY_FILE),
                                                 output_name=g.lit(g.report_output),
                                                 path=g.lit(REPORT_FILE))))
        kwargs["property_files"] = ListOf([Raw(f"{var}_report")])
    statements.append((var, Call("ProcessingStep", **kwargs)))
    return statements


def estimator(g: Generator, step: ResolvedStep, source_dir: Code) -> Code:
    section: TrainSection = step.section
    g.use("Estimator")
    metric_definitions = section.metric_definitions
    if step.cls is StepClass.Tuning and g.resolved.model(step).tune.metric_definitions:
        metric_definitions = g.resolved.model(step).tune.metric_definitions
    return Call(
        "Estimator", image_uri=g.lit(section.image), entry_point=g.lit(section.entry_point),
        source_dir=source_dir, **g.job_kwargs(section),
        volume_size=g.lit(section.volume_size_in_gb), max_run=g.lit(section.max_runtime_seconds),
        output_path=g.lit(g.training_output_path(section)),
        base_job_name=g.lit(section.base_job_name) if section.base_job_name else None,
        hyperparameters=static_hyperparameters(g, step),
        environment=g.env(section.env), tags=g.tags(section),
        metric_definitions=g.lit([m.model_dump() for m in metric_definitions]) if metric_definitions else None,
        subnets="SUBNETS" if g.vpc else None,
        security_group_ids="SECURITY_GROUPS" if g.vpc else None,
        volume_kms_key=g.kms, output_kms_key=g.kms,
        enable_network_isolation=g.lit(True) if section.enable_network_isolation else None,
        disable_profiler="True",
        sagemaker_session="session",
    )


def static_hyperparameters(g: Generator, step: ResolvedStep) -> Code | None:
    """The section's hyperparameters; for tuning, those the tuner does not vary."""
    tuned = set(g.resolved.model(step).tune.hyperparameter_ranges) if step.cls is StepClass.Tuning else set()
    values = {k: g.lit(v) for k, v in step.section.all_hyperparameters.items() if k not in tuned}
    return DictOf(values) if values else None


def training_inputs(g: Generator, step: ResolvedStep) -> Code:
    section: TrainSection = step.section
    g.use("TrainingInput")
    options = dict(content_type=g.lit(section.content_type) if section.content_type else None,
                   input_mode=g.lit(section.input_mode)
                   if section.input_mode != "File" or g.original_names else None,
                   distribution=g.lit(section.distribution)
                   if section.distribution != "FullyReplicated" else None)
    channels: dict[str, Code] = {}
    for name, channel in section.channel_map().items():
        for data_file in channel.dataFiles[:1]:
            channels[name] = Call("TrainingInput", s3_data=g.s3_uri(channel, data_file), **options)
    for name, _, uri in chained_inputs(g, step):
        channels[name] = Call("TrainingInput", s3_data=uri, **options)
    return DictOf(channels)


def training(g: Generator, step: ResolvedStep) -> list[tuple[str, Code]]:
    var = g.step_vars[step.name]
    g.use("TrainingStep")
    fit = Call(f"{var}_estimator.fit", inputs=training_inputs(g, step))
    statements, source_dir = g.code_bundle(step)
    return [*statements, (f"{var}_estimator", estimator(g, step, source_dir)),
            (var, Call("TrainingStep", name=g.lit(step.name), step_args=fit,
                       **g.common_step_kwargs(step)))]


def tuning(g: Generator, step: ResolvedStep) -> list[tuple[str, Code]]:
    var = g.step_vars[step.name]
    tune = g.resolved.model(step).tune
    section: TrainSection = step.section
    g.use("HyperparameterTuner", "TuningStep")
    ranges: dict[str, Code] = {}
    for name, spec in tune.hyperparameter_ranges.items():
        if spec.type == "Categorical":
            g.use("CategoricalParameter")
            ranges[name] = Call("CategoricalParameter", g.lit(spec.values))
        else:
            cls = "ContinuousParameter" if spec.type == "Continuous" else "IntegerParameter"
            g.use(cls)
            ranges[name] = Call(cls, g.lit(spec.min_value), g.lit(spec.max_value),
                                scaling_type=g.lit(spec.scaling_type))
    statements, source_dir = g.code_bundle(step)
    statements.append((f"{var}_estimator", estimator(g, step, source_dir)))
    tuner = Call("HyperparameterTuner", estimator=f"{var}_estimator",
                 objective_metric_name=g.lit(tune.objective_metric_name),
                 hyperparameter_ranges=DictOf(ranges),
                 metric_definitions=g.lit([m.model_dump() for m in (tune.metric_definitions
                                                                      or section.metric_definitions)]),
                 strategy=g.lit(tune.strategy), objective_type=g.lit(tune.objective_type),
                 max_jobs=g.lit(tune.max_jobs), max_parallel_jobs=g.lit(tune.max_parallel_jobs),
                 early_stopping_type=g.lit(tune.early_stopping_type))
    statements.append((f"{var}_tuner", tuner))
    # A fixed job name keeps the code's S3 key and the static hyperparameters free of the
    # timestamp the SDK would otherwise put in them (SageMaker names the real job anyway).
    job_name = re.sub(r"[^A-Za-z0-9-]", "-", step.name)[:32].strip("-")
    fit = Call(f"{var}_tuner.fit", inputs=training_inputs(g, step), job_name=g.lit(job_name))
    statements.append((var, Call("TuningStep", name=g.lit(step.name), step_args=fit,
                                 **g.common_step_kwargs(step))))
    return statements


def inference_model(g: Generator, step: ResolvedStep, image: str | None) -> list[tuple[str, Code]]:
    """A Model of the trained artifact served by the inference toolkit (the original's
    ModelRepack: False): SAGEMAKER_PROGRAM is the module the toolkit imports (the transform
    entry point, dotted; ``inference`` without one), SAGEMAKER_SUBMIT_DIRECTORY ships the
    code that module reaches (see code_bundle), SAGEMAKER_REQUIREMENTS its requirements
    file. Short-named pipelines get the environment only with a transform entry point."""
    model_conf = g.resolved.model(step)
    var = g.step_vars[step.name]
    env: dict[str, Code] = {}
    statements: list[tuple[str, Code]] = []
    transform = model_conf.transform
    entry_point = transform.entry_point if transform else None
    if entry_point or g.original_names:
        statements.append((f"{var}_code", g.upload_code(model_conf.source_directory,
                                                           g.bundles.get(step.name))))
        env = {"SAGEMAKER_PROGRAM": g.lit(dotted_module(entry_point)),
               "SAGEMAKER_SUBMIT_DIRECTORY": Raw(f"{var}_code"),
               "SAGEMAKER_REQUIREMENTS": g.lit(INFERENCE_REQUIREMENTS)}
        env.update({k: g.lit(v) for k, v in (transform.env if transform else {}).items()})
    g.use("Model")
    vpc = g.lit({"Subnets": g.settings.subnets, "SecurityGroupIds": g.settings.security_groups}) \
        if g.vpc else None
    statements.append((f"{var}_model", Call(
        "Model", image_uri=g.lit(image), model_data=g.model_data(step), role="ROLE",
        env=DictOf(env) if env else None, vpc_config=vpc,
        model_kms_key=g.kms, sagemaker_session="session")))
    return statements


def model_image(g: Generator, step: ResolvedStep) -> str | None:
    """The registry's inference image, as in the original (a transform section's image_uri
    is a fallback for models without one, then the training image)."""
    conf = g.resolved.model(step)
    spec = conf.registry.InferenceSpecification if conf.registry else None
    return (spec.image_uri if spec and spec.image_uri else None) \
        or (conf.transform.image_uri if conf.transform else None) or (conf.train.image if conf.train else None)


def create_model(g: Generator, step: ResolvedStep) -> list[tuple[str, Code]]:
    var = g.step_vars[step.name]
    transform = g.resolved.model(step).transform
    g.use("ModelStep")
    statements = inference_model(g, step, model_image(g, step))
    create = Call(f"{var}_model.create",
                  instance_type=g.lit(transform.instance_type) if transform else g.lit(DEFAULT_INSTANCE_TYPE))
    kwargs = g.common_step_kwargs(step)
    statements.append((var, Call("ModelStep", name=g.lit(step.name), step_args=create, **kwargs)))
    return statements


def transform(g: Generator, step: ResolvedStep) -> list[tuple[str, Code]]:
    var = g.step_vars[step.name]
    section = step.section
    g.use("Transformer", "TransformStep", "Join", "ExecutionVariables")
    output_path = g.lit(section.output_path) if section.output_path else Call(
        "Join", on=g.lit("/"), values=ListOf([g.lit("s3:/"), "BUCKET", "PIPELINE_NAME",
                                                 "ExecutionVariables.PIPELINE_EXECUTION_ID",
                                                 g.lit(step.name)]))
    transformer = Call(
        "Transformer", model_name=f"{g.step_vars[step.model_step]}.properties.ModelName",
        instance_type=g.lit(section.instance_type), instance_count=g.lit(section.instance_count),
        strategy=g.lit(section.strategy) if section.strategy else None,
        assemble_with=g.lit(section.assemble_with) if section.assemble_with else None,
        accept=g.lit(section.accept or section.content_type),
        max_payload=g.lit(section.max_payload) if section.max_payload else None,
        output_path=output_path,
        base_transform_job_name=g.lit(section.base_job_name) if section.base_job_name else None,
        env=g.env(section.env), tags=g.tags(section), output_kms_key=g.kms, volume_kms_key=g.kms,
        sagemaker_session="session")
    transform = Call(f"{var}_transformer.transform", data=transform_data(g, step),
                     content_type=g.lit(section.content_type),
                     split_type=g.lit(section.split_type) if section.split_type else None,
                     join_source=g.lit(section.join_source) if section.join_source else None,
                     input_filter=g.lit(section.input_filter) if section.input_filter else None,
                     output_filter=g.lit(section.output_filter) if section.output_filter else None)
    return [(f"{var}_transformer", transformer),
            (var, Call("TransformStep", name=g.lit(step.name), step_args=transform,
                       **g.common_step_kwargs(step)))]


def transform_data(g: Generator, step: ResolvedStep) -> Code:
    """The chained source's output (the channel the transform section names, else its first),
    joined with chain_input_additional_prefix; else the section's one data file."""
    section = step.section
    channels = section.channel_map()
    if step.step.chain_input_source_step and g.original_names:
        source = source_output(g, step.step.chain_input_source_step[0], single_channel(section))
        prefix = step.step.chain_input_additional_prefix or ""
        return Call("Join", on=g.lit("/"), values=ListOf([source, g.lit(prefix)]))
    if step.step.chain_input_source_step:
        outputs = dict(source_outputs(g, step.step.chain_input_source_step[0]))
        wanted = next((name for name in channels if name in outputs), next(iter(outputs)))
        base = outputs[wanted]
        prefix = step.step.chain_input_additional_prefix
        if not prefix:
            return base
        return Call("Join", on=g.lit("/"), values=ListOf([base, g.lit(prefix.strip("/"))]))
    for channel in channels.values():
        for data_file in channel.dataFiles:
            return g.s3_uri(channel, data_file)
    raise ValueError(f"Transform step {step.name} has neither a chained source nor a data file")


def register(g: Generator, step: ResolvedStep) -> list[tuple[str, Code]]:
    var = g.step_vars[step.name]
    conf = g.resolved.model(step)
    registry = conf.registry
    spec = registry.InferenceSpecification
    g.use("ModelStep")
    statements = inference_model(g, step, model_image(g, step))
    group = registry.ModelPackageGroupName or (
        f"{g.settings.project_name}-{step.model}" if g.settings.project_name else step.model)
    status = registry.ModelApprovalStatus or (spec.approval_status if spec else None) or "PendingManualApproval"
    transform_types = (spec.SupportedTransformInstanceTypes if spec else []) or [DEFAULT_INSTANCE_TYPE]
    realtime_types = (spec.SupportedRealtimeInferenceInstanceTypes or spec.SupportedRealtimeInferenceInstanceType
                      if spec else []) or [DEFAULT_INSTANCE_TYPE]
    description = registry.ModelPackageDescription or registry.ModelPackageGroupDescription
    kwargs: dict[str, Any] = dict(
        content_types=g.lit(spec.supported_content_types if spec else ["text/csv"]),
        response_types=g.lit(spec.supported_response_MIME_types if spec else ["text/csv"]),
        inference_instances=g.lit(realtime_types), transform_instances=g.lit(transform_types),
        model_package_group_name=g.lit(group), approval_status=g.lit(status),
        description=g.lit(description) if description else None,
        customer_metadata_properties=DictOf({"PIPELINE_ARN": Raw("ExecutionVariables.PIPELINE_EXECUTION_ARN")}))
    g.use("ExecutionVariables")
    if step.metrics_step:
        g.use("ModelMetrics", "MetricsSource", "Join")
        metrics_var = g.step_vars[step.metrics_step]
        report = Call("Join", on=g.lit("/"), values=ListOf([
            Raw(f"{metrics_var}.properties.ProcessingOutputConfig.Outputs[{py(g.report_output)}].S3Output.S3Uri"),
            g.lit(REPORT_FILE)]))
        evaluate = conf.evaluate
        kwargs["model_metrics"] = Call("ModelMetrics", model_statistics=Call(
            "MetricsSource", s3_uri=report,
            content_type=g.lit(evaluate.content_type if evaluate and evaluate.content_type
                                  else "application/json")))
    register = Call(f"{var}_model.register", **kwargs)
    statements.append((var, Call("ModelStep", name=g.lit(step.name), step_args=register,
                                 **g.common_step_kwargs(step))))
    return statements


def operand(g: Generator, operand: Any) -> Code:
    if isinstance(operand, ReportValue):
        g.use("JsonGet")
        metrics_var = g.step_vars[operand.step]
        return Call("JsonGet", step_name=f"{metrics_var}.name", property_file=f"{metrics_var}_report",
                    json_path=g.lit(operand.json_path))
    return g.lit(operand)


def comparison(g: Generator, comparison: Comparison) -> Code:
    cls = CONDITION_CLASSES[comparison.type]
    g.use(cls)
    if comparison.type == "In":
        return Call(cls, value=operand(g, comparison.left),
                    in_values=ListOf([g.lit(v) for v in comparison.values or []]))
    return Call(cls, left=operand(g, comparison.left), right=operand(g, comparison.right))


def condition(g: Generator, step: ResolvedStep) -> list[tuple[str, Code]]:
    g.use("ConditionStep")
    var = g.step_vars[step.name]
    return [(var, Call(
        "ConditionStep", name=g.lit(step.name),
        conditions=ListOf([comparison(g, c) for c in step.step.conditions]),
        if_steps=ListOf([Raw(g.step_vars[n]) for n in step.step.if_steps]),
        else_steps=ListOf([Raw(g.step_vars[n]) for n in step.step.else_steps]),
        **g.common_step_kwargs(step)))]


def fail(g: Generator, step: ResolvedStep) -> list[tuple[str, Code]]:
    g.use("FailStep")
    return [(g.step_vars[step.name], Call("FailStep", name=g.lit(step.name),
                                             error_message=g.lit(step.step.error_message),
                                             **g.common_step_kwargs(step)))]
