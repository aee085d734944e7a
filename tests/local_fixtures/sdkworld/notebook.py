"""An SDK program written the way AWS's example notebooks are (their cells made into a module),
for these tests: a plain ``sagemaker.Session()``, its account, region, default bucket and
execution role, and a ``LocalPipelineSession()`` for the steps (SDK local mode's); an IAM role got or created and a Lambda function created while building; the raw
data staged with ``upload_data``; an estimator without a session (it uploads its code through a
Session of its own); scripts that call S3 with boto3 and ``sagemaker.s3.S3Downloader`` inside
their jobs. Run with ``smpipe-gen run --local --pipeline notebook.py``."""

import json

import boto3
import sagemaker
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.lambda_helper import Lambda
from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import LocalPipelineSession
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

sagemaker_session = sagemaker.Session()
pipeline_session = LocalPipelineSession()  # as AWS's local-mode walkthrough builds its steps
region = sagemaker_session.boto_region_name
account_id = sagemaker_session.account_id()
role = sagemaker.get_execution_role()
bucket = sagemaker_session.default_bucket()
prefix = "notebook"
image = f"{account_id}.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def lambda_role(name):
    """Get or create the function's role, as the notebooks' iam_helper does."""
    iam = boto3.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    return arn


deployer = Lambda(function_name="notebook-deploy", execution_role_arn=lambda_role("notebook-lambda-role"),
                  script="notebook/lambda_handler.py", handler="lambda_handler.handler", session=sagemaker_session)
print("created", deployer.create()["FunctionArn"])

raw = sagemaker_session.upload_data("data/abalone-dataset.csv", bucket=bucket, key_prefix=f"{prefix}/raw")
shared = f"s3://{bucket}/{prefix}/shared"

processor = SKLearnProcessor(framework_version="1.2-1", role=role, instance_type="ml.m5.xlarge", instance_count=1,
                             sagemaker_session=pipeline_session)
stage = ProcessingStep(name="Stage", step_args=processor.run(
    code="notebook/stage.py", arguments=["--shared", shared],
    inputs=[ProcessingInput(source=raw, destination="/opt/ml/processing/input")],
    outputs=[ProcessingOutput(output_name="clean", source="/opt/ml/processing/clean")]))

estimator = Estimator(image_uri=image, entry_point="fit_mean.py", source_dir="notebook", role=role,
                      instance_type="ml.m5.xlarge", instance_count=1, output_path=f"s3://{bucket}/{prefix}/models")
train = TrainingStep(name="Train", estimator=estimator, inputs={
    "train": TrainingInput(stage.properties.ProcessingOutputConfig.Outputs["clean"].S3Output.S3Uri)})

report = ProcessingStep(name="Report", step_args=processor.run(
    code="notebook/report.py", arguments=["--shared", shared],
    inputs=[ProcessingInput(source=train.properties.ModelArtifacts.S3ModelArtifacts,
                            destination="/opt/ml/processing/model"),
            ProcessingInput(source=shared, destination="/opt/ml/processing/shared")],
    outputs=[ProcessingOutput(output_name="report", source="/opt/ml/processing/report",
                              destination=f"s3://{bucket}/{prefix}/report")]))

pipeline = Pipeline(name="notebook", steps=[stage, train, report], sagemaker_session=pipeline_session)

if __name__ == "__main__":
    pipeline.upsert(role_arn=role)
    pipeline.start()
