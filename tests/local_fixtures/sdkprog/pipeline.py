"""An SDK pipeline program written as AWS's local-mode walkthrough writes one (not by smpipe-gen):
SKLearn processing, training, evaluation with a PropertyFile, a condition, a Model with
entry_point + source_dir (the SDK repacks it: _RepackModelStep), a Transform whose handler is
``transform_fn``, a Fail step. The scripts come from tests/local_fixtures/mini/scripts (copied
beside this file by the tests); the inference module is serve/inference.py.

Run unchanged with ``smpipe-gen run --local --pipeline pipeline.py``; ``build(session)`` is the
same pipeline for ``--pipeline pipeline.py:build``."""

from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.transformer import Transformer
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TransformStep

ROLE = "arn:aws:iam::123456789012:role/sdk-program"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def build(session) -> Pipeline:
    bucket = session.default_bucket()
    raw = ParameterString(name="InputData", default_value=f"s3://{bucket}/sdkprog/raw")
    threshold = ParameterFloat(name="MseThreshold", default_value=2.0)
    processor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_type="ml.m5.xlarge",
                                 instance_count=1, sagemaker_session=session)
    pre = ProcessingStep(name="Preprocess", step_args=processor.run(
        code="scripts/preprocess.py",
        inputs=[ProcessingInput(source=raw, destination="/opt/ml/processing/input/raw")],
        outputs=[ProcessingOutput(output_name="train", source="/opt/ml/processing/output/train"),
                 ProcessingOutput(output_name="test", source="/opt/ml/processing/output/test")]))
    estimator = Estimator(image_uri=IMAGE, entry_point="train.py", source_dir="scripts", role=ROLE,
                          instance_type="ml.m5.xlarge", instance_count=1, sagemaker_session=session,
                          hyperparameters={"alpha": 0.5}, output_path=f"s3://{bucket}/sdkprog/models")
    train = TrainingStep(name="Train", step_args=estimator.fit(
        {"train": TrainingInput(pre.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri)}))
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(name="Evaluate", property_files=[report], step_args=processor.run(
        code="scripts/evaluate.py",
        inputs=[ProcessingInput(source=train.properties.ModelArtifacts.S3ModelArtifacts,
                                destination="/opt/ml/processing/input/model"),
                ProcessingInput(source=pre.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri,
                                destination="/opt/ml/processing/input/test")],
        outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")]))
    model = Model(image_uri=IMAGE, model_data=train.properties.ModelArtifacts.S3ModelArtifacts, role=ROLE,
                  entry_point="inference.py", source_dir="serve", sagemaker_session=session)
    create = ModelStep(name="abalone-Create", step_args=model.create(instance_type="ml.m5.xlarge"))
    transformer = Transformer(model_name=create.properties.ModelName, instance_type="ml.m5.xlarge",
                              instance_count=1, output_path=f"s3://{bucket}/sdkprog/transform",
                              sagemaker_session=session)
    transform = TransformStep(name="Transform", step_args=transformer.transform(
        data=Join("/", [pre.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri, "x.csv"]),
        content_type="text/csv", split_type="Line"))
    mse = JsonGet(step_name=evaluate.name, property_file=report, json_path="regression_metrics.mse.value")
    fail = FailStep(name="MseTooHigh", error_message=Join(" ", ["MSE", mse, "is above", threshold]))
    check = ConditionStep(name="CheckMse", conditions=[ConditionLessThanOrEqualTo(left=mse, right=threshold)],
                          if_steps=[create, transform], else_steps=[fail])
    return Pipeline(name="sdkprog", parameters=[raw, threshold], steps=[pre, train, evaluate, check],
                    sagemaker_session=session)


pipeline = build(PipelineSession())

if __name__ == "__main__":
    pipeline.upsert(role_arn=ROLE)
    pipeline.start()
