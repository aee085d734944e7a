"""Model: a SageMaker model (CreateModel), the SDK's ModelStep ``X-CreateModel``."""

from smpipe_gen.steps import StepType

STEP = StepType(
    name="Model",
    operation=("CreateModel", "ModelName"),
    effect=lambda step, spell: "creates a new SageMaker model",
    runner="smpipe_gen.local.jobs.model:run",
)
