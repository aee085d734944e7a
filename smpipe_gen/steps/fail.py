"""Fail: stops the execution with an error message."""

from smpipe_gen.steps import StepType

STEP = StepType(
    name="Fail",
    mermaid=("[[", "]]"),
    dot="octagon",
    gate=True,
    runner="smpipe_gen.local.jobs.fail:run",
)
