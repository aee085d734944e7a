"""Renders the local-runner test fixtures with the real SageMaker SDK (offline).

Run from anywhere with the project venv: python tests/local_fixtures/mini/build.py
Writes pipeline/definition.json + manifest.json (pipeline "mini") and
tuned/definition.json + manifest.json (pipeline "tuned"). Tests use the committed files.
"""
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.chdir(HERE)

from smpipe_gen.canonical import canonical_json  # noqa: E402
from smpipe_gen.manifest import Manifest, PipelineSettings  # noqa: E402
from smpipe_gen.render.manifest import code_artifacts  # noqa: E402
from smpipe_gen.render.offline import offline_sdk, pipeline_session  # noqa: E402

BUCKET, REGION, ROLE = "fixture-bucket", "us-east-1", "arn:aws:iam::123456789012:role/x"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
RAW = f"s3://{BUCKET}/mini/raw/raw.csv"


def write(out: str, name: str, pipeline, recorder) -> None:
    definition = json.loads(pipeline.definition())
    manifest = Manifest(generator="smpipe-gen fixture", config_files=[],
                        pipeline=PipelineSettings(name=name, role_arn=ROLE, region=REGION, bucket=BUCKET),
                        artifacts=code_artifacts(recorder.uploads, HERE), local_data={RAW: "data/raw.csv"})
    Path(out).mkdir(exist_ok=True)
    Path(out, "definition.json").write_text(canonical_json(definition))
    Path(out, "manifest.json").write_text(canonical_json(manifest.to_json()))


with offline_sdk(HERE) as rec:
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.processing import FrameworkProcessor, ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.estimator import SKLearn
    from sagemaker.transformer import Transformer
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep, TransformStep, TuningStep

    def setup(name):
        s = pipeline_session(REGION, BUCKET, rec)
        proc = FrameworkProcessor(estimator_cls=SKLearn, framework_version=None, image_uri=IMAGE, command=["python"],
                                  role=ROLE, instance_type="ml.m5.xlarge", instance_count=1, sagemaker_session=s)
        pre = ProcessingStep(name="Preprocess", step_args=proc.run(
            code="preprocess.py", source_dir="scripts",
            inputs=[ProcessingInput(source=RAW, destination="/opt/ml/processing/input/raw", input_name="raw")],
            outputs=[ProcessingOutput(output_name="train", source="/opt/ml/processing/output/train"),
                     ProcessingOutput(output_name="test", source="/opt/ml/processing/output/test")]),
            cache_config=CacheConfig(enable_caching=True, expire_after="P30D"))
        return s, proc, pre

    # --- pipeline "mini": preprocess, train, evaluate, condition -> model/transform/register or fail
    s, proc, pre = setup("mini")
    threshold = ParameterFloat(name="MseThreshold", default_value=2.0)
    alpha = ParameterFloat(name="Alpha", default_value=1.0)
    train_fail = ParameterString(name="TrainFail", default_value="no")
    eval_mode = ParameterString(name="EvalMode", default_value="ok")
    est = Estimator(image_uri=IMAGE, entry_point="train.py", source_dir="scripts", role=ROLE,
                    instance_type="ml.m5.xlarge", instance_count=1, sagemaker_session=s,
                    hyperparameters={"alpha": alpha, "fail": train_fail}, output_path=f"s3://{BUCKET}/mini/models",
                    metric_definitions=[{"Name": "train_mse", "Regex": r"train_mse: ([0-9.]+)"}])
    train = TrainingStep(name="Train", step_args=est.fit(
        {"train": TrainingInput(pre.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri)}))
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    ev = ProcessingStep(name="Evaluate", step_args=proc.run(
        code="evaluate.py", source_dir="scripts", arguments=["--mode", eval_mode],
        inputs=[ProcessingInput(source=train.properties.ModelArtifacts.S3ModelArtifacts,
                                destination="/opt/ml/processing/input/model"),
                ProcessingInput(source=pre.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri,
                                destination="/opt/ml/processing/input/test")],
        outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")]),
        property_files=[report])
    model = Model(image_uri=IMAGE, model_data=train.properties.ModelArtifacts.S3ModelArtifacts, role=ROLE,
                  entry_point="inference.py", source_dir="scripts", sagemaker_session=s)
    create = ModelStep(name="CreateModel", step_args=model.create(instance_type="ml.m5.xlarge"))
    transformer = Transformer(model_name=create.properties.ModelName, instance_type="ml.m5.xlarge", instance_count=1,
                              output_path=f"s3://{BUCKET}/mini/transform", accept="text/csv", assemble_with="Line",
                              sagemaker_session=s)
    transform = TransformStep(name="Transform", step_args=transformer.transform(
        data=Join("/", [pre.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri, "x.csv"]),
        content_type="text/csv", split_type="Line", join_source="Input"))
    metrics = ModelMetrics(model_statistics=MetricsSource(s3_uri=Join("/", [
        ev.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri, "evaluation.json"]),
        content_type="application/json"))
    register = ModelStep(name="Register", step_args=model.register(
        content_types=["text/csv"], response_types=["text/csv"], inference_instances=["ml.m5.xlarge"],
        transform_instances=["ml.m5.xlarge"], model_package_group_name="mini",
        approval_status="PendingManualApproval", model_metrics=metrics))
    mse = JsonGet(step_name=ev.name, property_file=report, json_path="regression_metrics.mse.value")
    fail = FailStep(name="MseTooHigh", error_message=Join(" ", ["MSE", mse, "is above", threshold]))
    check = ConditionStep(name="CheckMse", conditions=[ConditionLessThanOrEqualTo(left=mse, right=threshold)],
                          if_steps=[create, transform, register], else_steps=[fail])
    write("pipeline", "mini", Pipeline(name="mini", parameters=[threshold, alpha, train_fail, eval_mode],
                                       steps=[pre, train, ev, check], sagemaker_session=s), rec)

with offline_sdk(HERE) as rec:
    # --- pipeline "tuned": preprocess, tune alpha, model of the best job, register
    s, proc, pre = setup("tuned")
    est = Estimator(image_uri=IMAGE, entry_point="train.py", source_dir="scripts", role=ROLE,
                    instance_type="ml.m5.xlarge", instance_count=1, sagemaker_session=s,
                    output_path=f"s3://{BUCKET}/tuned/models",
                    metric_definitions=[{"Name": "train_mse", "Regex": r"train_mse: ([0-9.]+)"}])
    tuner = HyperparameterTuner(est, objective_metric_name="train_mse", objective_type="Minimize",
                                hyperparameter_ranges={"alpha": ContinuousParameter(0.01, 50.0)},
                                metric_definitions=[{"Name": "train_mse", "Regex": r"train_mse: ([0-9.]+)"}],
                                max_jobs=3, max_parallel_jobs=2, strategy="Random")
    tune = TuningStep(name="Tune", step_args=tuner.fit(
        {"train": TrainingInput(pre.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri)}))
    best = Model(image_uri=IMAGE, model_data=tune.get_top_model_s3_uri(top_k=0, s3_bucket=BUCKET, prefix="tuned/models"),
                 role=ROLE, entry_point="inference.py", source_dir="scripts", sagemaker_session=s)
    register = ModelStep(name="RegisterBest", step_args=best.register(
        content_types=["text/csv"], response_types=["text/csv"], inference_instances=["ml.m5.xlarge"],
        transform_instances=["ml.m5.xlarge"], model_package_group_name="tuned", approval_status="Approved"))
    write("tuned", "tuned", Pipeline(name="tuned", steps=[pre, tune, register], sagemaker_session=s), rec)
print("fixtures written", file=sys.stderr)
