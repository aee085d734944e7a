"""QualityCheck: a Model Monitor data or model quality check (a processing job)."""

from smpipe_gen.steps import StepType

STEP = StepType(
    name="QualityCheck",
    cache_key=("QualityCheckConfig", "CheckJobConfig", "SkipCheck", "RegisterNewBaseline",
               "ModelPackageGroupName", "SuppliedBaselineConstraints", "SuppliedBaselineStatistics"),
    job="Processing",
    mermaid=("{{", "}}"),
    dot="hexagon",
    gate=True,
    refusal="runs the Model Monitor container",
)
