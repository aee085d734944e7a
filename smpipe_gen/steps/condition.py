"""Condition: evaluates conditions and runs its IfSteps or its ElseSteps."""

from smpipe_gen.steps import StepType

STEP = StepType(
    name="Condition",
    mermaid=("{", "}"),
    dot="diamond",
    branches=True,
    gate=True,
    runner="smpipe_gen.local.jobs.condition:run",
)
