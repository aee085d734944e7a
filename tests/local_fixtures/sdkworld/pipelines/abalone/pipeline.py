"""A model-build program shaped like the SageMaker Projects seed code (pipelines/abalone/pipeline.py
there), written for these tests: it makes the seed's calls in the seed's order. A plain Session
and a PipelineSession from boto sessions of the given region, get_execution_role() when no role
is given, the Session's default_bucket() for the model path, an SKLearnProcessor running
preprocess.py with ``--input-data <InputDataUrl>`` (the script downloads it with boto3 inside the
job), the built-in XGBoost 1.0-1 image for training, a ScriptProcessor in that image evaluating,
a PropertyFile condition and a registration. CI calls it the seed's way:

    run-pipeline --module-name pipelines.abalone.pipeline --kwargs '{"region": ..., ...}'

``training_entry_point`` (not in the seed) trains in script mode instead, with that script from
this folder: the XGBoost image runs a script when the job names one, and then no algorithm.
"""

import os

import boto3
import sagemaker
import sagemaker.session
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.functions import JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

HERE = os.path.dirname(os.path.realpath(__file__))


def sessions(region, default_bucket):
    """The seed's two sessions: a plain one (default bucket, role) and one for the steps."""
    boto_session = boto3.Session(region_name=region)
    plain = sagemaker.session.Session(
        boto_session=boto_session,
        sagemaker_client=boto_session.client("sagemaker"),
        sagemaker_runtime_client=boto_session.client("sagemaker-runtime"),
        default_bucket=default_bucket,
    )
    steps = PipelineSession(boto_session=boto_session, sagemaker_client=boto_session.client("sagemaker"),
                            default_bucket=default_bucket)
    return plain, steps


def get_pipeline(region, sagemaker_project_name=None, role=None, default_bucket=None,
                 model_package_group_name="AbalonePackageGroup", pipeline_name="AbalonePipeline",
                 base_job_prefix="Abalone", processing_instance_type="ml.m5.xlarge",
                 training_instance_type="ml.m5.xlarge", training_entry_point=None):
    plain, session = sessions(region, default_bucket)
    if role is None:
        role = sagemaker.session.get_execution_role(plain)

    count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
    approval = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    input_data = ParameterString(
        name="InputDataUrl", default_value=f"s3://sagemaker-servicecatalog-seedcode-{region}/dataset/abalone-dataset.csv")

    sklearn = SKLearnProcessor(framework_version="0.23-1", instance_type=processing_instance_type,
                               instance_count=count, base_job_name=f"{base_job_prefix}/sklearn-abalone-preprocess",
                               sagemaker_session=session, role=role)
    preprocess = ProcessingStep(name="PreprocessAbaloneData", step_args=sklearn.run(
        outputs=[ProcessingOutput(output_name=name, source=f"/opt/ml/processing/{name}")
                 for name in ("train", "validation", "test")],
        code=os.path.join(HERE, "preprocess.py"),
        arguments=["--input-data", input_data]))

    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    image = sagemaker.image_uris.retrieve(framework="xgboost", region=region, version="1.0-1", py_version="py3",
                                          instance_type=training_instance_type)
    script_mode = {"entry_point": training_entry_point, "source_dir": HERE} if training_entry_point else {}
    xgb = Estimator(image_uri=image, instance_type=training_instance_type, instance_count=1,
                    output_path=f"s3://{plain.default_bucket()}/{base_job_prefix}/AbaloneTrain",
                    base_job_name=f"{base_job_prefix}/abalone-train", sagemaker_session=session, role=role,
                    **script_mode)
    xgb.set_hyperparameters(objective="reg:linear", num_round=50, max_depth=5, eta=0.2, gamma=4, min_child_weight=6,
                            subsample=0.7, silent=0)
    train = TrainingStep(name="TrainAbaloneModel", step_args=xgb.fit(inputs={
        channel: TrainingInput(s3_data=outputs[channel].S3Output.S3Uri, content_type="text/csv")
        for channel in ("train", "validation")}))

    evaluator = ScriptProcessor(image_uri=image, command=["python3"], instance_type=processing_instance_type,
                                instance_count=1, base_job_name=f"{base_job_prefix}/script-abalone-eval",
                                sagemaker_session=session, role=role)
    report = PropertyFile(name="AbaloneEvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(name="EvaluateAbaloneModel", property_files=[report], step_args=evaluator.run(
        inputs=[ProcessingInput(source=train.properties.ModelArtifacts.S3ModelArtifacts,
                                destination="/opt/ml/processing/model"),
                ProcessingInput(source=outputs["test"].S3Output.S3Uri, destination="/opt/ml/processing/test")],
        outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
        code=os.path.join(HERE, "evaluate.py")))

    evaluation = evaluate.arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    metrics = ModelMetrics(model_statistics=MetricsSource(s3_uri=f"{evaluation}/evaluation.json",
                                                          content_type="application/json"))
    model = Model(image_uri=image, model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
                  sagemaker_session=session, role=role)
    register = ModelStep(name="RegisterAbaloneModel", step_args=model.register(
        content_types=["text/csv"], response_types=["text/csv"], inference_instances=["ml.t2.medium", "ml.m5.large"],
        transform_instances=["ml.m5.large"], model_package_group_name=model_package_group_name,
        approval_status=approval, model_metrics=metrics))
    mse = JsonGet(step_name=evaluate.name, property_file=report, json_path="regression_metrics.mse.value")
    check = ConditionStep(name="CheckMSEAbaloneEvaluation", conditions=[ConditionLessThanOrEqualTo(left=mse, right=6.0)],
                          if_steps=[register], else_steps=[])
    return Pipeline(name=pipeline_name,
                    parameters=[processing_instance_type, count, training_instance_type, approval, input_data],
                    steps=[preprocess, train, evaluate, check], sagemaker_session=session)
