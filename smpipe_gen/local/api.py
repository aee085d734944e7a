"""What SageMaker's API says about a step's arguments, asked only once a step has failed.

A definition nobody rendered (``run --local --definition``) can hold any shape; SageMaker would
refuse one its API does not accept. When a job runner fails on its arguments with a Python
error, botocore's model of the API (the operation each step type calls) says which argument is
wrong, in one line; loading that model takes about half a second, so no run pays it otherwise.
"""

from __future__ import annotations

from typing import Any

# The API operation a step type's arguments are the request of, and the request's name key (the
# definition leaves the job's name to SageMaker).
OPERATIONS = {
    "Processing": ("CreateProcessingJob", "ProcessingJobName"),
    "Training": ("CreateTrainingJob", "TrainingJobName"),
    "Tuning": ("CreateHyperParameterTuningJob", "HyperParameterTuningJobName"),
    "Transform": ("CreateTransformJob", "TransformJobName"),
    "Model": ("CreateModel", "ModelName"),
    "RegisterModel": ("CreateModelPackage", None),
}


def argument_problem(step_type: str, arguments: Any) -> str | None:
    """The first way ``arguments`` (resolved) break the API request of ``step_type``, or None
    (then the failure is the runner's own). Parameters newer than the installed botocore are
    not held against the definition."""
    if step_type not in OPERATIONS:
        return None
    if not isinstance(arguments, dict):
        return "the arguments are not an object"
    import botocore.session
    from botocore.validate import ParamValidator

    operation, name_key = OPERATIONS[step_type]
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model(operation).input_shape
    request = {**arguments, **({name_key: "local"} if name_key else {})}
    report = ParamValidator().validate(request, shape).generate_report()
    problems = [line for line in report.splitlines() if line.strip() and not line.startswith("Unknown parameter")]
    return problems[0] if problems else None
