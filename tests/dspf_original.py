"""Build the definition the ORIGINAL dynamic-sagemaker-pipelines-framework would write
(its ``pipeline_definition.json``) for a repository in its layout, with the real SDK.

Run as a script in a child process (the test process never imports the SDK):
    python tests/dspf_original.py '[{"root": REPO_ROOT, "out": OUT_JSON, "configpath": GLOB}]'
with the other SMP_* variables in the environment, as the original reads them. The calls below follow
how the original's services build each step (read from its source; see /work/shared/dspf-compat.md),
including its faults, so a plan against this file shows exactly what migrating changes.
Only the step classes the fixtures use are covered.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import yaml

TOKEN = re.compile(r"SMP_[A-Z0-9]+")


def substituted(value, env):
    if isinstance(value, dict):
        return {k: substituted(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [substituted(v, env) for v in value]
    if isinstance(value, str):
        return TOKEN.sub(lambda m: env.get(m.group(0), m.group(0)), value)
    return value


def load(root: Path, env: dict) -> dict:
    """framework/conf/conf.yaml merged with every model file SMP_MODEL_CONFIGPATH matches."""
    framework = yaml.safe_load((root / "framework/conf/conf.yaml").read_text())["conf"]
    conf = {k: (env.get(v) if isinstance(v, str) and v.startswith("SMP_") else v) for k, v in framework.items()}
    network = {k: env.get(v) if str(v).startswith("SMP_") else v
               for k, v in framework.get("sagemakerNetworkSecurity", {}).items()}
    conf["sagemakerNetworkSecurity"] = network
    conf["models"] = {}  # the original replaces the framework conf's models (and its projectName)
    for path in sorted(root.glob(env["SMP_MODEL_CONFIGPATH"])):
        data = substituted(yaml.safe_load(path.read_text())["conf"], env)
        conf["models"].update(data.get("models", {}))
        if "sagemakerPipeline" in data:
            conf["sagemakerPipeline"] = data["sagemakerPipeline"]
    return conf


def dotted(entry_point: str) -> str:
    return entry_point.replace("/", ".").replace(".py", "")


class Original:
    def __init__(self, conf: dict, session):
        self.conf, self.session = conf, session
        self.steps: dict[str, object] = {}  # step name -> SDK step
        self.step_configs = {s["step_name"]: (m, s) for m, unit in conf["sagemakerPipeline"]["models"].items()
                             for s in unit["steps"]}
        net = conf["sagemakerNetworkSecurity"]
        self.role, self.kms = net.get("role"), net.get("kms_key")
        self.subnets = net["subnets"].split(",") if net.get("subnets") else None
        self.groups = net["security_groups_id"].split(",") if net.get("security_groups_id") else None

    def network(self):
        from sagemaker.network import NetworkConfig
        return NetworkConfig(enable_network_isolation=False, security_group_ids=self.groups, subnets=self.subnets,
                             encrypt_inter_container_traffic=True)

    def source_type(self, name: str) -> str:
        """The conf section a chained source's channel list is read from (in the consumer's model)."""
        step = self.step_configs[name][1]
        return {"Processing": step.get("step_type"), "Training": "train", "Transform": "transform"}[step["step_class"]]

    def chain_uri(self, name: str, channel: str):
        step = self.steps[name]
        kind = step.step_type.value
        if kind == "Processing":
            return step.properties.ProcessingOutputConfig.Outputs[channel].S3Output.S3Uri
        if kind == "Training":
            return step.properties.ModelArtifacts.S3ModelArtifacts
        return step.properties.TransformOutput.S3OutputPath

    def consumer_channels(self, model: str, section: str) -> list:
        return list(self.conf["models"][model].get(section, {}).get("channels", ["train"]))

    # ---------------------------------------------------------------- steps

    def processing(self, model: str, step: dict):
        from sagemaker.processing import FrameworkProcessor, ProcessingInput, ProcessingOutput
        from sagemaker.sklearn.estimator import SKLearn
        from sagemaker.workflow.steps import CacheConfig, ProcessingStep
        section = self.conf["models"][model][step["step_type"]]
        inputs = []
        for channel in section.get("channels", {}).values():
            for item in (channel or {}).get("dataFiles", [])[:1]:
                inputs.append(ProcessingInput(input_name=item["sourceName"], source=item["fileName"],
                                              destination=f"/opt/ml/processing/input/{item['sourceName']}",
                                              s3_data_distribution_type="FullyReplicated"))
        for source in step.get("chain_input_source_step", []):
            for channel in self.consumer_channels(model, self.source_type(source)):
                inputs.append(ProcessingInput(input_name=f"{source}-input-{channel}", source=self.chain_uri(source, channel),
                                              destination=f"/opt/ml/processing/input/{source}-input-{channel}",
                                              s3_data_distribution_type="FullyReplicated"))
        outputs = [ProcessingOutput(output_name=c, source=f"/opt/ml/processing/output/{c}", s3_upload_mode="EndOfJob")
                   for c in section.get("channels", ["train"])]
        processor = FrameworkProcessor(
            image_uri=section["image_uri"], framework_version="0", estimator_cls=SKLearn, role=self.role,
            command=["python", "-m", dotted(section["entry_point"])], instance_count=section.get("instance_count", 1),
            instance_type=section.get("instance_type", "ml.m5.2xlarge"),
            volume_size_in_gb=section.get("volume_size_in_gb", 32),
            max_runtime_in_seconds=section.get("max_runtime_seconds", 3000),
            base_job_name=section.get("base_job_name", "default-processing-job-name"), tags=section.get("tags"),
            env=section.get("env"), volume_kms_key=self.kms, output_kms_key=self.kms, network_config=self.network(),
            sagemaker_session=self.session)
        args = processor.run(inputs=inputs, outputs=outputs, source_dir=self.conf["models"][model]["source_directory"],
                             code=section["entry_point"], job_name=section.get("base_job_name", "default-processing-job-name"))
        return ProcessingStep(name=step["step_name"], step_args=args,
                              cache_config=CacheConfig(enable_caching=True, expire_after="10d"))

    def training(self, model: str, step: dict):
        from sagemaker.estimator import Estimator
        from sagemaker.inputs import TrainingInput
        from sagemaker.workflow.steps import CacheConfig, TrainingStep
        section = self.conf["models"][model][step.get("step_type", "train")]
        source_dir, entry_point = self.conf["models"][model]["source_directory"], section["entry_point"]
        if "/" in entry_point:  # the original ships the entry point's own directory
            sub, entry_point = entry_point.rsplit("/", 1)
            source_dir = f"{source_dir}/{sub}"
        base_job_name = section.get("base_job_name", "default-training-job-name")
        estimator = Estimator(
            role=self.role, image_uri=section["image_uri"], instance_count=section.get("instance_count", 1),
            instance_type=section.get("instance_type", "ml.m5.2xlarge"), volume_size=section.get("volume_size_in_gb", 32),
            max_run=section.get("max_runtime_seconds", 3000), output_path=section.get("output_path"),
            base_job_name=base_job_name, hyperparameters=section.get("hyperparams"), tags=section.get("tags"),
            environment=section.get("env"), source_dir=source_dir, entry_point=entry_point,
            sagemaker_session=self.session)
        options = dict(content_type=section.get("content_type"), input_mode=section.get("input_mode", "File"),
                       distribution=section.get("distribution", "FullyReplicated"))
        channels = section.get("channels", {})
        first_files = [(c or {}).get("dataFiles", [])[0] for c in channels.values()]
        inputs = {}
        for channel in channels:  # the original's fault: every channel gets the LAST channel's file
            for item in first_files:
                inputs[channel] = TrainingInput(s3_data=item["fileName"], **options)
        for source in step.get("chain_input_source_step", []):
            for channel in self.consumer_channels(model, self.source_type(source)):
                inputs[f"{source}-{channel}"] = TrainingInput(s3_data=self.chain_uri(source, channel), **options)
        return TrainingStep(name=step["step_name"], step_args=estimator.fit(inputs=inputs, job_name=base_job_name),
                            cache_config=CacheConfig(enable_caching=True, expire_after="10d"))

    def model(self, model: str, train_step):
        from sagemaker.model import Model
        models = self.conf["models"][model]
        program = dotted(models.get("transform", {}).get("entry_point", "inference.py"))
        return Model(image_uri=models["registry"]["InferenceSpecification"]["image_uri"],
                     env={"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code", "SAGEMAKER_PROGRAM": program,
                          "SAGEMAKER_REQUIREMENTS": "requirements.txt"},
                     model_data=train_step.properties.ModelArtifacts.S3ModelArtifacts, role=self.role,
                     vpc_config=None, enable_network_isolation=False, sagemaker_session=self.session,
                     model_kms_key=self.kms)

    def create_model(self, model: str, step: dict, train_step):
        from sagemaker.workflow.model_step import ModelStep
        return ModelStep(name=step["step_name"],
                         step_args=self.model(model, train_step).create(instance_type="ml.m5.2xlarge"))

    def transform(self, model: str, step: dict, model_step):
        from sagemaker.transformer import Transformer
        from sagemaker.workflow.functions import Join
        from sagemaker.workflow.steps import CacheConfig, TransformStep
        section = self.conf["models"][model]["transform"]
        (channel_name, channel), = section["channels"].items()
        output_path = None
        if step.get("chain_input_source_step"):
            data = Join("/", [self.chain_uri(step["chain_input_source_step"][0], channel_name),
                              step.get("chain_input_additional_prefix", "")])
        else:
            data = channel["dataFiles"][0]["fileName"]
            prefix = channel.get("inputBucketPrefix")
            output_path = f"s3://{channel.get('s3BucketName')}/{prefix + '/' if prefix else ''}{model}/predictions/transform"
        content_type = section.get("content_type", "text/csv")
        transformer = Transformer(
            model_name=model_step.properties.ModelName, instance_count=section.get("instance_count", 1),
            instance_type=section.get("instance_type", "ml.m5.2xlarge"), strategy=section.get("strategy"),
            assemble_with=section.get("assemble_with"), max_payload=section.get("max_payload"), output_path=output_path,
            sagemaker_session=self.session, output_kms_key=self.kms, accept=content_type, tags=section.get("tags"),
            env=section.get("env"), base_transform_job_name=section.get("base_job_name", "default-transform-job-name"),
            volume_kms_key=self.kms)
        args = transformer.transform(data=data, content_type=content_type, split_type=section.get("split_type"),
                                     input_filter=section.get("input_filter"), output_filter=section.get("output_filter"),
                                     join_source=section.get("join_source"))
        return TransformStep(name=step["step_name"], step_args=args,
                             cache_config=CacheConfig(enable_caching=step.get("enable_cache", False), expire_after="10d"))

    def metrics(self, model: str, step: dict):
        from sagemaker.processing import FrameworkProcessor, ProcessingInput, ProcessingOutput
        from sagemaker.sklearn.estimator import SKLearn
        from sagemaker.workflow.properties import PropertyFile
        from sagemaker.workflow.steps import CacheConfig, ProcessingStep
        section = self.conf["models"][model]["evaluate"]
        (channel_name, channel), = section["channels"].items()
        inputs = [ProcessingInput(input_name=item["sourceName"], source=item["fileName"],
                                  destination=f"/opt/ml/processing/input/{item['sourceName']}",
                                  s3_data_distribution_type="FullyReplicated")
                  for c in section["channels"].values() for item in c["dataFiles"][:1]]
        for source in step.get("chain_input_source_step", []):
            inputs.append(ProcessingInput(input_name=f"{source}-input", source=self.chain_uri(source, channel_name),
                                          destination=f"/opt/ml/processing/input/{source}-{channel_name}"))
        destination = f"s3://{channel.get('s3BucketName')}/{os.path.join(channel.get('bucket_prefix', ''), model, 'evaluation')}/"
        base_job_name = section.get("base_job_name", "default-model-metrics-job-name")
        processor = FrameworkProcessor(
            image_uri=section["image_uri"], estimator_cls=SKLearn, framework_version=None, role=self.role,
            command=["python", "-m", dotted(section["entry_point"])], instance_count=section.get("instance_count", 1),
            instance_type=section.get("instance_type", "ml.m5.2xlarge"), volume_size_in_gb=section.get("volume_size_in_gb", 50),
            volume_kms_key=self.kms, output_kms_key=self.kms,
            max_runtime_in_seconds=section.get("max_runtime_in_seconds", 3600), base_job_name=base_job_name,
            sagemaker_session=self.session, env=section.get("env"), tags=section.get("tags"), network_config=self.network())
        args = processor.run(inputs=inputs, outputs=[ProcessingOutput(
            source="/opt/ml/processing/output/", destination=destination, output_name="model_evaluation_metrics")],
            source_dir=self.conf["models"][model]["source_directory"], code=section["entry_point"], job_name=base_job_name)
        report = PropertyFile(name="EvaluationReport", output_name="model_evaluation_metrics",
                              path="model_evaluation_metrics.json")
        return ProcessingStep(name=step["step_name"], step_args=args, property_files=[report],
                              cache_config=CacheConfig(enable_caching=step.get("enable_cache", False), expire_after="10d"))

    def register(self, model: str, step: dict, metrics_step, train_step):
        from sagemaker.model_metrics import MetricsSource, ModelMetrics
        from sagemaker.workflow.execution_variables import ExecutionVariables
        from sagemaker.workflow.model_step import ModelStep
        registry = self.conf["models"][model]["registry"]
        spec = registry["InferenceSpecification"]
        metrics = None
        if metrics_step is not None:
            output = metrics_step.arguments["ProcessingOutputConfig"]["Outputs"][0]
            metrics = ModelMetrics(model_statistics=MetricsSource(
                content_type=self.conf["models"][model].get("evaluate", {}).get("content_type", "application/json"),
                s3_uri="{}{}.json".format(output["S3Output"]["S3Uri"], output["OutputName"])))
        args = self.model(model, train_step).register(
            content_types=spec.get("supported_content_types"), response_types=spec.get("supported_response_MIME_types"),
            inference_instances=spec.get("SupportedRealtimeInferenceInstanceTypes", ["ml.m5.2xlarge"]),
            transform_instances=spec.get("SupportedTransformInstanceTypes", ["ml.m5.2xlarge"]),
            model_package_group_name=f"{self.conf['models'].get('projectName')}-{model}", marketplace_cert=False,
            description=registry.get("ModelPackageDescription", "Default Model Package Description. Please add "
                                                                "custom descriptioon in your conf.yaml file"),
            customer_metadata_properties={"PIPELINE_ARN": ExecutionVariables.PIPELINE_EXECUTION_ARN},
            approval_status=spec.get("approval_status"), model_metrics=metrics)
        return ModelStep(name=step["step_name"], step_args=args)

    # ---------------------------------------------------------------- pipeline

    def unit(self, model: str) -> list:
        train = create = metrics = None
        built = []
        for step in self.conf["sagemakerPipeline"]["models"][model]["steps"]:
            kind = step["step_class"]
            if kind == "Processing":
                sdk_step = self.processing(model, step)
            elif kind == "Training":
                sdk_step = train = self.training(model, step)
            elif kind == "CreateModel":
                sdk_step = create = self.create_model(model, step, train)
            elif kind == "Transform":
                sdk_step = self.transform(model, step, create)
            elif kind == "Metrics":
                sdk_step = metrics = self.metrics(model, step)
            else:
                sdk_step = self.register(model, step, metrics, train)
            self.steps[step["step_name"]] = sdk_step
            built.append(sdk_step)
        return built

    def definition(self) -> dict:
        from sagemaker.workflow.model_step import ModelStep
        from sagemaker.workflow.pipeline import Pipeline
        steps = [s for model in self.conf["sagemakerPipeline"]["models"] for s in self.unit(model)]
        for line in self.conf["sagemakerPipeline"].get("dependencies", []):
            chain = line.split(" >> ")
            for before, after in zip(chain, chain[1:]):
                target = self.steps[after]
                (target.steps[0] if isinstance(target, ModelStep) else target).add_depends_on([self.steps[before]])
        pipeline = Pipeline(name=self.conf["sagemakerPipeline"]["pipelineName"], steps=steps,
                            sagemaker_session=self.session)
        return json.loads(pipeline.definition())


def main(spec: str) -> None:
    """``spec``: JSON list of {"root", "out", "configpath"}; one SDK import serves them all."""
    from smpipe_gen.render.offline import offline_sdk, pipeline_session

    for job in json.loads(spec):
        env = {k: v for k, v in os.environ.items() if k.startswith("SMP_")}
        env["SMP_MODEL_CONFIGPATH"] = job["configpath"]
        os.chdir(job["root"])  # the original runs from the repository root; paths are relative to it
        conf = load(Path("."), env)
        with offline_sdk(Path(".")) as recorder:
            session = pipeline_session(env["SMP_REGION"], conf["s3Bucket"], recorder)
            definition = Original(conf, session).definition()
        Path(job["out"]).write_text(json.dumps(definition, indent=1, sort_keys=True))


if __name__ == "__main__":
    main(*sys.argv[1:])
