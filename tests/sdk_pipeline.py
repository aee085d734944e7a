"""Build real SageMaker SDK v2 definitions (and their code manifests) for the deploy tests.

Called by deploy_support.sdk_render, or run as a script:
    python tests/sdk_pipeline.py ROOT SPEC_JSON
ROOT holds ``scripts/`` (created if missing); SPEC_JSON maps an output directory (relative to
ROOT) to the knobs of one variant (see ``build``). One SDK import serves every variant.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SCRIPTS = {
    "scripts/preprocess.py": "print('preprocess')\n",
    "scripts/train.py": "print('train')\n",
    "scripts/evaluate.py": "print('evaluate')\n",
    "scripts/inference.py": "print('inference')\n",
}
ROLE = "arn:aws:iam::123456789012:role/smpipe-test"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def build(root: Path, out: str, train_script: str | None = None, **knobs) -> None:
    """One variant; ``train_script`` renders it with other training code (the file is
    restored afterwards and the variant's version saved beside its artifacts as train.py)."""
    if train_script is None:
        return _build(root, out, **knobs)
    path = root / "scripts/train.py"
    original = path.read_text()
    path.write_text(train_script)
    try:
        _build(root, out, **knobs)
        (root / out / "train.py").write_text(train_script)
    finally:
        path.write_text(original)


def _build(root: Path, out: str, name: str = "abalone", train_instance: str = "ml.m5.xlarge",
          preprocess_name: str = "Preprocess", extra_step: bool = False, condition: bool = True,
          approval: str = "PendingManualApproval", padding_steps: int = 0, bucket: str = "smpipe-test-bucket",
          tags: dict | None = None, subnets: list | None = None) -> None:
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.network import NetworkConfig
    from sagemaker.processing import FrameworkProcessor, ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.estimator import SKLearn
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep

    from smpipe_gen.fingerprint import installed_sdk_version
    from smpipe_gen.manifest import Manifest, PipelineSettings
    from smpipe_gen.paths import write_atomic
    from smpipe_gen.render.engine import GENERATOR, rendered_texts
    from smpipe_gen.render.manifest import code_artifacts
    from smpipe_gen.render.offline import offline_sdk, pipeline_session

    with offline_sdk(root) as recorder:
        session = pipeline_session("us-east-1", bucket, recorder)
        threshold = ParameterFloat(name="MseThreshold", default_value=6.0)
        count = ParameterInteger(name="TrainInstanceCount", default_value=1)
        status = ParameterString(name="ApprovalStatus", default_value=approval)
        network = NetworkConfig(subnets=subnets or ["subnet-1"], security_group_ids=["sg-1"])
        processor = FrameworkProcessor(estimator_cls=SKLearn, framework_version=None, image_uri=IMAGE,
                                       command=["python"], role=ROLE, instance_type="ml.m5.xlarge",
                                       instance_count=1, sagemaker_session=session, network_config=network)
        pre = ProcessingStep(name=preprocess_name, step_args=processor.run(
            code="preprocess.py", source_dir="scripts",
            inputs=[ProcessingInput(source=f"s3://{bucket}/raw/abalone.csv",
                                    destination="/opt/ml/processing/input/raw", input_name="raw")],
            outputs=[ProcessingOutput(output_name="train", source="/opt/ml/processing/output/train"),
                     ProcessingOutput(output_name="test", source="/opt/ml/processing/output/test")]),
            cache_config=CacheConfig(enable_caching=True, expire_after="P30D"))
        estimator = Estimator(image_uri=IMAGE, entry_point="train.py", source_dir="scripts", role=ROLE,
                              instance_type=train_instance, instance_count=count, sagemaker_session=session,
                              hyperparameters={"max_depth": 5}, output_path=f"s3://{bucket}/models")
        train = TrainingStep(name="Train", step_args=estimator.fit(
            {"train": TrainingInput(pre.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri)}))
        report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="metrics.json")
        evaluate = ProcessingStep(name="Evaluate", step_args=processor.run(
            code="evaluate.py", source_dir="scripts",
            inputs=[ProcessingInput(source=train.properties.ModelArtifacts.S3ModelArtifacts,
                                    destination="/opt/ml/processing/input/model")],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/output")]),
            property_files=[report])
        model = Model(image_uri=IMAGE, model_data=train.properties.ModelArtifacts.S3ModelArtifacts, role=ROLE,
                      sagemaker_session=session, env={"SAGEMAKER_PROGRAM": "inference.py"})
        register = ModelStep(name="Register", step_args=model.register(
            content_types=["text/csv"], response_types=["text/csv"], inference_instances=["ml.m5.xlarge"],
            transform_instances=["ml.m5.xlarge"], model_package_group_name=name, approval_status=status))
        steps = [pre, train, evaluate]
        if condition:
            fail = FailStep(name="Fail", error_message=Join(" ", ["MSE above", threshold]))
            steps.append(ConditionStep(name="CheckMse", conditions=[ConditionLessThanOrEqualTo(
                left=JsonGet(step_name=evaluate.name, property_file=report, json_path="mse"), right=threshold)],
                if_steps=[register], else_steps=[fail]))
        else:
            steps.append(register)
        if extra_step:
            steps.append(ProcessingStep(name="Explain", step_args=processor.run(
                code="evaluate.py", source_dir="scripts",
                inputs=[ProcessingInput(source=train.properties.ModelArtifacts.S3ModelArtifacts,
                                        destination="/opt/ml/processing/input/model")],
                outputs=[ProcessingOutput(output_name="explanation", source="/opt/ml/processing/output")])))
        for index in range(padding_steps):
            steps.append(ProcessingStep(name=f"Pad{index}", step_args=processor.run(
                code="evaluate.py", source_dir="scripts", arguments=["--shard", str(index)],
                outputs=[ProcessingOutput(output_name="out", source="/opt/ml/processing/output")])))
        pipeline = Pipeline(name=name, parameters=[threshold, count, status], steps=steps,
                            sagemaker_session=session)
        definition = json.loads(pipeline.definition())
        manifest = Manifest(generator=GENERATOR, config_files=(),
                            pipeline=PipelineSettings(name=name, role_arn=ROLE, region="us-east-1", bucket=bucket,
                                                      display_name=f"{name} pipeline", tags=tags or {}),
                            artifacts=code_artifacts(recorder.uploads, root),
                            sagemaker_version=installed_sdk_version())
    definition_text, manifest_text = rendered_texts(definition, manifest)
    write_atomic(root / out / "definition.json", definition_text)
    write_atomic(root / out / "manifest.json", manifest_text)


def main(root: str, spec: str) -> None:
    base = Path(root).resolve()
    for path, text in SCRIPTS.items():
        if not (base / path).exists():
            (base / path).parent.mkdir(parents=True, exist_ok=True)
            (base / path).write_text(text)
    os.chdir(base)  # the SDK hashes paths as given: keep them repository-relative
    for out, knobs in json.loads(spec).items():
        build(Path("."), out, **knobs)


if __name__ == "__main__":
    main(*sys.argv[1:])
