"""ClarifyCheck: a SageMaker Clarify bias or explainability check (a processing job)."""

from smpipe_gen.steps import StepType

STEP = StepType(
    name="ClarifyCheck",
    cache_key=("ClarifyCheckConfig", "CheckJobConfig", "SkipCheck", "RegisterNewBaseline",
               "ModelPackageGroupName", "SuppliedBaselineConstraints"),
    job="Processing",
    mermaid=("{{", "}}"),
    dot="hexagon",
    gate=True,
    refusal="runs the SageMaker Clarify container",
)
