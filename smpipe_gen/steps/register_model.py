"""RegisterModel: a model package version (CreateModelPackage), the SDK's ``X-RegisterModel``."""

from smpipe_gen.steps import StepType


def effect(step: dict, spell) -> str:
    arguments = step.get("Arguments", {})
    return (f"registers a new model package version in group {spell(arguments.get('ModelPackageGroupName'))}, "
            f"approval {spell(arguments.get('ModelApprovalStatus', 'PendingManualApproval'))}")


STEP = StepType(
    name="RegisterModel",
    operation=("CreateModelPackage", None),
    effect=effect,
    mermaid=("[/", "/]"),
    dot="parallelogram",
    registers_model=True,
    runner="smpipe_gen.local.jobs.register:run",
)
