"""Callback: sends a message to an SQS queue and waits for someone to report the outcome."""

from smpipe_gen.steps import StepType

STEP = StepType(
    name="Callback",
    effect=lambda step, spell: f"sends a message to SQS queue {spell(step.get('SqsQueueUrl'))}",
    mermaid=("[(", ")]"),
    dot="cylinder",
    refusal="waits for an outside service to answer through SQS",
)
