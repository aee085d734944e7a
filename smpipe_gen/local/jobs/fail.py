"""Fail steps: the execution fails with the step's (resolved) message."""

from __future__ import annotations

from smpipe_gen.local.jobs import JobContext, StepFailed, StepResult


def run(ctx: JobContext) -> StepResult:
    message = str(ctx.arguments.get("ErrorMessage", ""))
    ctx.say(f"Fail step: {message}")
    raise StepFailed(message or "Fail step reached")
