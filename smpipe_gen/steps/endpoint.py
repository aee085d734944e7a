"""Endpoint: creates or updates a SageMaker endpoint (the schema's EndpointStep and
EndpointConfigStep both have Type "Endpoint")."""

from smpipe_gen.steps import StepType

STEP = StepType(
    name="Endpoint",
    effect=lambda step, spell: "creates or updates a SageMaker endpoint",
    mermaid=("([", "])"),
    dot="ellipse",
    refusal="serves a model on SageMaker hosting",
)
