"""Condition steps: every condition must hold for the If branch (SageMaker ANDs them)."""

from __future__ import annotations

from smpipe_gen.errors import SmpipeError, shorten
from smpipe_gen.json_values import thaw
from smpipe_gen.local.expressions import FOREIGN_HINT
from smpipe_gen.local.jobs import JobContext, StepResult


def run(ctx: JobContext) -> StepResult:
    conditions = thaw(ctx.step.arguments).get("Conditions", [])
    if not isinstance(conditions, list):
        raise SmpipeError(f"Conditions is not a list: {shorten(repr(conditions))}", where=f"step {ctx.name}",
                          hint=FOREIGN_HINT)
    outcome = all(ctx.resolver.condition(c, f"step {ctx.name}") for c in conditions)
    ctx.say(f"conditions evaluated to {outcome}: taking the {'If' if outcome else 'Else'} branch")
    return StepResult(properties={"Outcome": str(outcome)}, branch=outcome)
