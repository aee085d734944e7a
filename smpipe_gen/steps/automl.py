"""AutoML: an Autopilot job (CreateAutoMLJob)."""

from smpipe_gen.steps import StepType

STEP = StepType(
    name="AutoML",
    cache_key=("AutoMLJobConfig", "AutoMLJobObjective", "InputDataConfig", "ProblemType"),
    job="AutoML",
    operation=("CreateAutoMLJob", "AutoMLJobName"),
    refusal="Autopilot chooses and trains its models in AWS",
)
