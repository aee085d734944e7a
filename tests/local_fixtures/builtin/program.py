"""An SDK program of the shape AWS's built-in XGBoost notebooks have, written for these tests:
the algorithm's image from ``image_uris.retrieve("xgboost", region, "1.7-1")``, an Estimator with
hyperparameters and no entry point, ``text/csv`` train and validation channels, a TrainingStep, a
TuningStep over ``eta`` and ``max_depth`` minimizing ``validation:rmse``, a Model of the tuning
job's best model (``get_top_model_s3_uri``) created by a ModelStep and served by a TransformStep
over feature rows. Run with ``smpipe-gen run --local --pipeline program.py:build``.

``eval_metric`` is ``mape``: the tuning trials report ``validation:rmse`` only because the service
tells the algorithm its objective (``_tuning_objective_metric``)."""

import sagemaker
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.transformer import Transformer
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.steps import TrainingStep, TransformStep, TuningStep

DATA = "s3://smpipe-builtin-data/regression"
HYPERPARAMETERS = {"objective": "reg:squarederror", "num_round": 20, "max_depth": 4, "eta": 0.3, "subsample": 0.8,
                   "seed": 7, "eval_metric": "mape"}


def build(max_depth=4, serving_image=None):
    session = PipelineSession()
    role = sagemaker.get_execution_role(session)
    bucket = session.default_bucket()
    image = sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")

    xgb = Estimator(image_uri=image, role=role, instance_count=1, instance_type="ml.m5.xlarge",
                    output_path=f"s3://{bucket}/builtin/models", sagemaker_session=session)
    xgb.set_hyperparameters(**{**HYPERPARAMETERS, "max_depth": max_depth})
    channels = {name: TrainingInput(f"{DATA}/{name}", content_type="text/csv") for name in ("train", "validation")}
    train = TrainingStep(name="Train", step_args=xgb.fit(channels))

    tuner = HyperparameterTuner(xgb, objective_metric_name="validation:rmse", objective_type="Minimize",
                                hyperparameter_ranges={"eta": ContinuousParameter(0.05, 0.5),
                                                       "max_depth": IntegerParameter(2, 6)},
                                max_jobs=3, max_parallel_jobs=2)
    tune = TuningStep(name="Tune", step_args=tuner.fit(channels))

    model = Model(image_uri=serving_image or image, role=role, sagemaker_session=session,
                  model_data=tune.get_top_model_s3_uri(top_k=0, s3_bucket=bucket, prefix="builtin/models"))
    create = ModelStep(name="CreateBest", step_args=model.create(instance_type="ml.m5.large"))
    transformer = Transformer(model_name=create.properties.ModelName, instance_count=1, instance_type="ml.m5.large",
                              output_path=f"s3://{bucket}/builtin/predictions", accept="text/csv",
                              assemble_with="Line", sagemaker_session=session)
    predict = TransformStep(name="Predict", step_args=transformer.transform(f"{DATA}/batch", content_type="text/csv",
                                                                           split_type="Line"))
    return Pipeline(name="builtin-xgboost", steps=[train, tune, create, predict], sagemaker_session=session)
