"""A pipeline whose program uploads nothing: its one step runs a command the image already has
(``Processor`` with an entrypoint, no code object). Run with ``--pipeline nothing.py:build``."""

from sagemaker.processing import ProcessingOutput, Processor
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep

WRITE = "import pathlib; pathlib.Path('/opt/ml/processing/out/hello.txt').write_text('hello')"


def build(sess: "PipelineSession", name: str = "nothing") -> Pipeline:  # noqa: F821 (the session goes by annotation)
    processor = Processor(role="arn:aws:iam::000000000000:role/any", image_uri="python:3.11",
                          entrypoint=["python3", "-c", WRITE], instance_count=1, instance_type="ml.m5.large",
                          sagemaker_session=sess)
    hello = ProcessingStep(name="Hello", step_args=processor.run(
        outputs=[ProcessingOutput(output_name="out", source="/opt/ml/processing/out")]))
    return Pipeline(name=name, steps=[hello], sagemaker_session=sess)
