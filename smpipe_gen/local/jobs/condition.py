"""Condition steps: every condition must hold for the If branch (SageMaker ANDs them)."""

from __future__ import annotations

from smpipe_gen.local.jobs import JobContext, StepResult


def run(ctx: JobContext) -> StepResult:
    outcome = all(ctx.resolver.condition(c, f"step {ctx.name}") for c in ctx.step["Arguments"].get("Conditions", []))
    ctx.say(f"conditions evaluated to {outcome}: taking the {'If' if outcome else 'Else'} branch")
    return StepResult(properties={"Outcome": str(outcome)}, branch=outcome)
