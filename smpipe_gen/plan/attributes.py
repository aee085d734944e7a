"""What an added or removed step is, attribute by attribute, so a reviewer can read a step
they approve: image, instances, time limit, entry point, inputs, outputs, code files,
hyperparameters (decoded), environment, role, KMS, network, cache, gate, dependencies.
Each row of ATTRIBUTES is (label, function of the step's arguments and step); a row whose
function gives "" is left out.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from smpipe_gen.definition import Definition, Step
from smpipe_gen.json_values import thaw
from smpipe_gen.plan.model import Attribute
from smpipe_gen.plan.values import decode_hyperparameter, dig, duration, flatten, show
from smpipe_gen.steps import step_type
from smpipe_gen.steps.processing import CODE_INPUTS

_OUTPUT = re.compile(r"^Steps\.(?P<step>[^.\[]+)\.ProcessingOutputConfig\.Outputs\['(?P<name>[^']+)'\]\.S3Output\.S3Uri$")
_SDK_HYPERPARAMETERS = ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_container_log_level",
                        "sagemaker_region", "sagemaker_job_name")


def describe(value: Any, model: Definition) -> str:
    """A value as a reviewer reads it: ``Preprocess output train`` for a property reference,
    ``{execution id}`` for an execution variable, joins spelled out."""
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "Get" and isinstance(inner, str):
            return _reference(inner, model)
        if key == "Std:Join" and isinstance(inner, dict):
            return str(inner.get("On", "")).join(describe(v, model) for v in inner.get("Values", []))
    if isinstance(value, str):
        return value
    return show(value)


def _reference(text: str, model: Definition) -> str:
    output = _OUTPUT.match(text)
    if output:
        return f"{_shown(output['step'], model)} output {output['name']}"
    if text.startswith("Steps."):
        name, _, path = text[len("Steps."):].partition(".")
        name = re.split(r"\[", name)[0]
        return f"{_shown(name, model)} {path}"
    if text.startswith("Parameters."):
        return f"{{parameter {text[len('Parameters.'):]}}}"
    if text.startswith("Execution."):
        name = text[len("Execution."):].removeprefix("Pipeline") if "PipelineExecution" in text else text[len("Execution."):]
        return "{" + re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower() + "}"  # {execution id}, {pipeline name}
    return f"Get({text})"


def _shown(name: str, model: Definition) -> str:
    return model[name].display_name if name in model else name


def _image(args: dict, _step: Step, _model: Definition) -> str:
    images = [dig(args, "AppSpecification.ImageUri"), dig(args, "AlgorithmSpecification.TrainingImage"),
              dig(args, "PrimaryContainer.Image")]
    images += [c.get("Image") for c in dig(args, "InferenceSpecification.Containers") or [] if isinstance(c, dict)]
    return ", ".join(dict.fromkeys(str(i) for i in images if i))


def _instances(args: dict, step: Step, _model: Definition) -> str:
    paths, _runtime = step_type(step.type).resources or ((), None)
    resources = next((dig(args, path) for path in paths if isinstance(dig(args, path), dict)), None)
    if resources is None:
        return ""
    text = f"{resources.get('InstanceCount', 1)} × {show_plain(resources.get('InstanceType'))}"
    return text + (f", {resources['VolumeSizeInGB']} GB volume" if "VolumeSizeInGB" in resources else "")


def show_plain(value: Any) -> str:
    return value if isinstance(value, str) else show(value)


def _max_runtime(args: dict, _step: Step, _model: Definition) -> str:
    seconds = dig(args, "StoppingCondition.MaxRuntimeInSeconds")
    return duration(seconds) if isinstance(seconds, int) else ""


_RUNPROC_PROGRAM = re.compile(r"^python3? .*?(\S+\.py)\b", re.MULTILINE)


def _entry_point(args: dict, step: Step, _model: Definition) -> str:
    """The script the job runs: the SDK's sagemaker_program / SAGEMAKER_PROGRAM, or the one the
    generated bootstrap script (runproc.sh, recorded in the manifest) starts."""
    program = dig(args, "HyperParameters.sagemaker_program") or dig(args, "PrimaryContainer.Environment.SAGEMAKER_PROGRAM")
    if program:
        return str(decode_hyperparameter(program))
    for code in step.code:
        match = _RUNPROC_PROGRAM.search(code.artifact.content or "") if code.artifact else None
        if match:
            return match[1]
    return ""


def _config(_args: dict, step: Step, _model: Definition) -> str:
    """Where the step comes from in the config (the manifest records it)."""
    if step.origin is None:
        return ""
    section = f", section {step.origin.section}" if step.origin.section else ""
    return f"model {step.origin.model}{section}, step {step.origin.step}"


def _command(args: dict, _step: Step, model: Definition) -> str:
    parts = (dig(args, "AppSpecification.ContainerEntrypoint") or []) + (dig(args, "AppSpecification.ContainerArguments") or [])
    return " ".join(describe(p, model) for p in parts)


def _inputs(args: dict, _step: Step, model: Definition) -> str:
    found = [f"{i.get('InputName')} <- {describe(dig(i, 'S3Input.S3Uri'), model)}"
             for i in args.get("ProcessingInputs", []) or [] if i.get("InputName") not in CODE_INPUTS]
    found += [f"{c.get('ChannelName')} <- {describe(dig(c, 'DataSource.S3DataSource.S3Uri'), model)}"
              for c in args.get("InputDataConfig", []) or []]
    for label, path in (("data", "TransformInput.DataSource.S3DataSource.S3Uri"), ("model", "ModelName"),
                        ("model data", "PrimaryContainer.ModelDataUrl")):
        value = dig(args, path)
        if value is not None:
            found.append(f"{label} <- {describe(value, model)}")
    return "; ".join(found)


def _outputs(args: dict, _step: Step, model: Definition) -> str:
    found = [f"{o.get('OutputName')} -> {describe(dig(o, 'S3Output.S3Uri'), model)}"
             for o in dig(args, "ProcessingOutputConfig.Outputs") or []]
    for label, path in (("model", "OutputDataConfig.S3OutputPath"), ("predictions", "TransformOutput.S3OutputPath")):
        value = dig(args, path)
        if value is not None:
            found.append(f"{label} -> {describe(value, model)}")
    return "; ".join(found)


def _code(_args: dict, step: Step, _model: Definition) -> str:
    # without a manifest, no code object knows its files: name the objects
    return ", ".join(step.code_files() or [code.s3_uri for code in step.code])


def _hyperparameters(args: dict, _step: Step, model: Definition) -> str:
    values = {key: decode_hyperparameter(value) for key, value in (args.get("HyperParameters") or {}).items()
              if key not in _SDK_HYPERPARAMETERS}
    return ", ".join(f"{key}={describe(value, model)}" for key, value in sorted(values.items()))


def _tuning(_args: dict, step: Step, _model: Definition) -> str:
    """Strategy, job limits, objective and ranges of a tuning step."""
    config = thaw(step.arguments).get("HyperParameterTuningJobConfig")
    if not isinstance(config, dict):
        return ""
    limits, objective = config.get("ResourceLimits") or {}, config.get("HyperParameterTuningJobObjective") or {}
    ranges = [f"{r.get('Name')} {r.get('MinValue')}..{r.get('MaxValue')}" if "MinValue" in r
              else f"{r.get('Name')} in {show(r.get('Values'))}"
              for kind in ("ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges")
              for r in (config.get("ParameterRanges") or {}).get(kind, [])]
    return (f"{config.get('Strategy')}, up to {limits.get('MaxNumberOfTrainingJobs')} jobs "
            f"({limits.get('MaxParallelTrainingJobs')} at once), {objective.get('Type', '').lower()} "
            f"{objective.get('MetricName')}" + (f", ranges {', '.join(ranges)}" if ranges else ""))


def _environment(args: dict, _step: Step, model: Definition) -> str:
    env = args.get("Environment") or dig(args, "PrimaryContainer.Environment") or {}
    return ", ".join(f"{key}={describe(value, model)}" for key, value in sorted(env.items()))


def _role(args: dict, _step: Step, _model: Definition) -> str:
    return str(args.get("RoleArn") or args.get("ExecutionRoleArn") or "")


def _leaves_named(args: dict, words: tuple[str, ...]) -> str:
    return ", ".join(f"{path}={show(value)}" for path, value in flatten(args).items()
                     if any(word in path for word in words))


def _kms(args: dict, _step: Step, _model: Definition) -> str:
    return _leaves_named(args, ("Kms",))


def _network(args: dict, _step: Step, _model: Definition) -> str:
    return _leaves_named(args, ("VpcConfig", "EnableNetworkIsolation"))


def _cache(_args: dict, step: Step, _model: Definition) -> str:
    if step.cache is None:
        return ""
    if not step.cache.enabled:
        return "off"
    return "on" + (f", expires after {step.cache.expire_after}" if step.cache.expire_after else "")


def _gate(_args: dict, step: Step, model: Definition) -> str:
    return f"{step.branch} branch of {_shown(step.condition, model)}" if step.condition else ""


def _depends_on(_args: dict, step: Step, model: Definition) -> str:
    return ", ".join(_shown(name, model) for name in step.depends_on)


def _conditions(args: dict, _step: Step, model: Definition) -> str:
    return "; ".join(f"{c.get('Type')}({_operand(c.get('LeftValue'), model)}, {_operand(c.get('RightValue'), model)})"
                     for c in args.get("Conditions", []) or [] if isinstance(c, dict))


def _operand(value: Any, model: Definition) -> str:
    if isinstance(value, dict) and "Std:JsonGet" in value:
        inner = value["Std:JsonGet"]
        return f"{describe(inner.get('PropertyFile'), model)}:{inner.get('Path')}"
    return describe(value, model)


def _branches(_args: dict, step: Step, model: Definition) -> str:
    if not step_type(step.type).branches:
        return ""
    return (f"if: {', '.join(_shown(n, model) for n in step.if_steps) or '-'}; "
            f"else: {', '.join(_shown(n, model) for n in step.else_steps) or '-'}")


def _simple(path: str) -> Callable[[dict, Step, Definition], str]:
    return lambda args, _step, model: "" if dig(args, path) is None else describe(dig(args, path), model)


ATTRIBUTES: list[tuple[str, Callable[[dict, Step, Definition], str]]] = [
    ("config", _config),
    ("image", _image),
    ("instances", _instances),
    ("max runtime", _max_runtime),
    ("entry point", _entry_point),
    ("command", _command),
    ("code", _code),
    ("inputs", _inputs),
    ("outputs", _outputs),
    ("hyperparameters", _hyperparameters),
    ("tuning", _tuning),
    ("environment", _environment),
    ("conditions", _conditions),
    ("branches", _branches),
    ("error message", _simple("ErrorMessage")),
    ("model package group", _simple("ModelPackageGroupName")),
    ("approval", _simple("ModelApprovalStatus")),
    ("role", _role),
    ("kms", _kms),
    ("network", _network),
    ("cache", _cache),
    ("gate", _gate),
    ("depends on", _depends_on),
]


def attributes(step: Step, model: Definition) -> list[Attribute]:
    """The step's attributes that apply to it, in ATTRIBUTES order."""
    args = step_type(step.type).job_arguments(thaw(step.arguments))
    found = [Attribute(label, value) for label, function in ATTRIBUTES for value in [function(args, step, model)] if value]
    if step.type != step.step_class:
        found.insert(0, Attribute("definition type", step.type))
    return found
