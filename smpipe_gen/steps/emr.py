"""EMR: a step on an Amazon EMR cluster."""

from smpipe_gen.steps import StepType

STEP = StepType(
    name="EMR",
    cache_key=("ClusterId", "StepConfig"),
    job="EMR",
    mermaid=("[[", "]]"),
    dot="box3d",
    refusal="runs on an Amazon EMR cluster",
)
