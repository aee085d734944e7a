"""Lambda: invokes an AWS Lambda function (``FunctionArn``) with the step's Arguments."""

from smpipe_gen.steps import StepType

STEP = StepType(
    name="Lambda",
    effect=lambda step, spell: f"invokes Lambda function {spell(step.get('FunctionArn'))}",
    mermaid=("[\\", "\\]"),
    dot="trapezium",
    runner="smpipe_gen.local.jobs.lambda_function:run",  # the function: a captured program's, or --lambda
)
