"""What SageMaker's API says about a step's arguments, asked only once a step has failed.

A definition nobody rendered (``run --local --definition``) can hold any shape; SageMaker would
refuse one its API does not accept. When a job runner fails on its arguments with a Python
error, botocore's model of the API (the operation each step type calls) says which argument is
wrong, in one line; loading that model takes about half a second, so no run pays it otherwise.
"""

from __future__ import annotations

from typing import Any

from smpipe_gen.steps import step_type


def argument_problem(kind: str, arguments: Any) -> str | None:
    """The first way ``arguments`` (resolved) break the API request of step type ``kind`` (the
    registry's ``operation``; the definition leaves the job's name to SageMaker), or None
    (then the failure is the runner's own). Parameters newer than the installed botocore are
    not held against the definition."""
    operation = step_type(kind).operation
    if operation is None:
        return None
    if not isinstance(arguments, dict):
        return "the arguments are not an object"
    import botocore.session
    from botocore.validate import ParamValidator

    name, name_key = operation
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model(name).input_shape
    request = {**arguments, **({name_key: "local"} if name_key else {})}
    report = ParamValidator().validate(request, shape).generate_report()
    problems = [line for line in report.splitlines() if line.strip() and not line.startswith("Unknown parameter")]
    return problems[0] if problems else None
