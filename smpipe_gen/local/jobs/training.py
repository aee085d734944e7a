"""Training steps under SageMaker's training contract: channels in /opt/ml/input/data/<channel>,
SM_* variables, hyperparameters as ``--name value`` arguments, /opt/ml/model packed as
model.tar.gz at ``<S3OutputPath>/<job>/output/``, metric definitions matched on the log."""

from __future__ import annotations

import json
import os
import re
import shlex
import tarfile
import time
from pathlib import Path
from typing import Any

from smpipe_gen.json_values import as_list, dig
from smpipe_gen.errors import SmpipeError, shorten
from smpipe_gen.local import requirements, stand_in
from smpipe_gen.local.algorithms import BuiltinAlgorithm, algorithm_of
from smpipe_gen.local.jobs import CacheInputs, JobContext, StepResult, write_json
from smpipe_gen.local.sandbox import Sandbox
from smpipe_gen.local.store import first_link


# what the service adds to the hyperparameters of each job a tuning job runs; the training toolkit
# keeps it from the script's arguments (params.SAGEMAKER_HYPERPARAMETERS), a framework's toolkit
# reads it from hyperparameters.json (TensorFlow's: "part of a tuning job")
TUNING_OBJECTIVE = "_tuning_objective_metric"


def decode_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    """The SDK JSON-encodes hyperparameter values; the toolkit decodes them before use."""
    decoded = {}
    for key, value in raw.items():
        try:
            decoded[key] = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            decoded[key] = value
    return decoded


def _arg(value: Any) -> str:
    """A decoded hyperparameter as the training toolkit passes it (strings and numbers as is)."""
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, (int, float)) else json.dumps(value)


def algorithm_job(spec: dict[str, Any]) -> BuiltinAlgorithm | None:
    """The built-in algorithm a training job runs: its image is one and it names no entry point
    script (the XGBoost image also runs scripts); None for script mode and other images."""
    if _script(spec):
        return None
    return algorithm_of(str(dig(spec, "AlgorithmSpecification", "TrainingImage") or ""))


def _script(spec: dict[str, Any]) -> bool:
    given = spec.get("HyperParameters")
    hps = decode_hyperparameters(given if isinstance(given, dict) else {})
    return bool(hps.get("sagemaker_program") and hps.get("sagemaker_submit_directory"))


def refusal(spec: dict[str, Any], where: str) -> SmpipeError | None:
    """Why a training job (CreateTrainingJob arguments) cannot run locally, or None: a script
    runs; the built-in XGBoost algorithm runs on the host's xgboost (local/algorithms) unless it
    asks for what has no local version; anything else with no entry point script runs its
    image's own program: the SDK's @step function driver, another built-in algorithm."""
    if _script(spec):
        return None
    image = str(dig(spec, "AlgorithmSpecification", "TrainingImage") or "?")
    others = f"the steps that do not depend on it run; {stand_in.hint(where)} to run past it"
    builtin = algorithm_of(image)
    if builtin is not None and builtin.name == "xgboost":
        return _xgboost_refusal(builtin, spec, where)
    if builtin is not None:
        return SmpipeError(f"built-in algorithm {builtin.name} (image {image}) has no local version: of SageMaker's "
                           "built-in algorithms only XGBoost runs locally", where=where, hint=others)
    if "sagemaker_remote_function_bootstrap" in json.dumps(spec.get("AlgorithmSpecification"), default=str):
        return SmpipeError("a @step function step: its job runs the SDK's remote-function driver in its image, "
                           "which cannot run locally", where=where,
                           hint=f"{others}; a ProcessingStep or TrainingStep with a script runs locally")
    if dig(spec, "AlgorithmSpecification", "ContainerEntrypoint") == ["amazon_sagemaker_scheduler"]:
        notebook = dig(spec, "Environment", "SM_INPUT_NOTEBOOK_NAME") or "?"
        return SmpipeError(f"a notebook job step ({notebook}): its job runs the notebook with the SageMaker scheduler "
                           "in its image, which cannot run locally", where=where, hint=others)
    return SmpipeError(f"training image {image} has no entry point script: its own program would run, which cannot "
                       "run locally", where=where,
                       hint=f"{others}; an Estimator with entry_point (script mode) runs locally")


def _xgboost_refusal(builtin: BuiltinAlgorithm, spec: dict[str, Any], where: str) -> SmpipeError | None:
    """An image version, hyperparameters or a data format the local XGBoost has no faithful
    version of; values that are pipeline expressions are checked when the job runs."""
    from smpipe_gen.local.algorithms import xgboost, xgboost_data

    hyperparameters = spec.get("HyperParameters")
    content_types = {dig(c, "ChannelName"): dig(c, "ContentType") for c in as_list(spec.get("InputDataConfig"))}
    try:
        xgboost.xgboost_image(builtin.tag)
        given = hyperparameters.items() if isinstance(hyperparameters, dict) else ()
        literal = {k: v for k, v in given if isinstance(v, str)}
        xgboost.refuse_what_has_no_local_version(literal)
        if isinstance(content_types.get("train"), (str, type(None))):
            xgboost_data.refuse_unread_format(content_types.get("train"))
    except SmpipeError as error:
        return SmpipeError(f"built-in XGBoost: {error.message}", where=where, hint=error.hint)
    return None


def cache_inputs(reuse: Any, spec: dict[str, Any], where: str) -> CacheInputs:
    """A built-in algorithm's job also depends on what plays its container here: this machine's
    xgboost (a model cached before an upgrade is not handed to steps that load it with the new one)."""
    if algorithm_job(spec) is None:
        return CacheInputs()
    from smpipe_gen.local.algorithms.xgboost_images import library_version

    return CacheInputs(inputs={"xgboost": library_version()})


def train(ctx: JobContext, spec: dict[str, Any], job_name: str, box: Sandbox) -> dict[str, Any]:
    """Run one training job described by ``spec`` (CreateTrainingJob arguments, resolved).
    Returns its Describe-like properties; raises StepFailed when the job fails."""
    refused = refusal(spec, f"step {ctx.name}")
    if refused is not None:
        raise refused
    builtin = algorithm_job(spec)
    channels = []
    for channel in spec.get("InputDataConfig", []):
        name = channel["ChannelName"]
        source = channel.get("DataSource", {}).get("S3DataSource")
        if source is None:
            raise SmpipeError(f"channel {name!r} is not an S3 data source", where=f"step {ctx.name}",
                              hint="only S3 channels run locally")
        ctx.materialize_input(box, source["S3Uri"], box.opt_ml / "input" / "data" / name, f"channel {name!r}")
        channels.append(name)
    for sub in ("model", "output/data", "input/config"):
        (box.opt_ml / sub).mkdir(parents=True, exist_ok=True)
    given = spec.get("HyperParameters", {})
    write_json(box.opt_ml / "input/config/hyperparameters.json",  # as given to the algorithm: strings, undecoded
               {k: _arg(v) for k, v in (given if builtin else decode_hyperparameters(given)).items()})
    write_json(box.opt_ml / "input/config/inputdataconfig.json",
               {c["ChannelName"]: {k: v for k, v in c.items() if k != "DataSource"} for c in spec.get("InputDataConfig", [])})
    write_json(box.opt_ml / "input/config/resourceconfig.json", {"current_host": "algo-1", "hosts": ["algo-1"]})

    definitions = list(spec.get("AlgorithmSpecification", {}).get("MetricDefinitions", []))
    if builtin is not None:
        from smpipe_gen.local.algorithms.xgboost import metric_definitions

        definitions += metric_definitions()  # the service's, for a built-in algorithm's job
        argv, env, cwd = _algorithm_process(ctx, spec, box, builtin)
    else:
        argv, env, cwd = _script_process(ctx, spec, job_name, box, channels)
    log_start = ctx.log.tell()
    ctx.run_process(box, argv, env, cwd, spec.get("StoppingCondition"))

    output_path = spec["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    model_uri = f"{output_path}/{job_name}/output/model.tar.gz"
    tarball = box.job_dir / "model.tar.gz"
    _pack(box.opt_ml / "model", tarball)
    ctx.store.publish_file(tarball, model_uri)
    outputs = {model_uri: ctx.store.digest(model_uri)}
    if any((box.opt_ml / "output" / "data").iterdir()):
        data_uri = f"{output_path}/{job_name}/output/output.tar.gz"
        _pack(box.opt_ml / "output" / "data", box.job_dir / "output.tar.gz")
        ctx.store.publish_file(box.job_dir / "output.tar.gz", data_uri)
        outputs[data_uri] = ctx.store.digest(data_uri)
    metrics = match_metrics(definitions, _read_from(ctx.log.name, log_start))
    now = time.time()
    return {
        **spec, "TrainingJobName": job_name, "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
        "FinalMetricDataList": [{"MetricName": k, "Value": v, "Timestamp": now} for k, v in metrics.items()],
        "_outputs": outputs, "_metrics": metrics,
    }


def _algorithm_process(ctx: JobContext, spec: dict[str, Any], box: Sandbox,
                       builtin: BuiltinAlgorithm) -> tuple[list[str], dict[str, str], str]:
    """The built-in XGBoost algorithm's container program (local/algorithms/container.py)."""
    env = ctx.env({**{k: str(v) for k, v in spec.get("Environment", {}).items()},
                   "SM_MODEL_DIR": box.visible("/opt/ml/model")})
    from smpipe_gen.local.algorithms import container

    argv = ["python", "-I", str(container.PROGRAM), "train", box.visible("/opt/ml"), builtin.tag or ""]
    return argv, env, box.visible("/opt/ml")


def _script_process(ctx: JobContext, spec: dict[str, Any], job_name: str, box: Sandbox,
                    channels: list[str]) -> tuple[list[str], dict[str, str], str]:
    """The training toolkit starting the job's entry point script, with its SM_* environment."""
    hps = decode_hyperparameters(spec.get("HyperParameters", {}))
    program = hps["sagemaker_program"]
    submit = hps["sagemaker_submit_directory"]
    user_hps = {k: v for k, v in hps.items() if not k.startswith("sagemaker_") and k != TUNING_OBJECTIVE}
    code_dir = box.opt_ml / "code"
    ctx.code.extract(ctx.code.require(submit, f"step {ctx.name}"), code_dir)
    drift = ctx.code.drift(ctx.code.require(submit, f"step {ctx.name}"))
    if drift:
        ctx.say(f"warning: {', '.join(drift)} changed since the render; running the current files")
    ml = "/opt/ml"
    sm_env = {
        "SM_MODEL_DIR": f"{ml}/model", "SM_OUTPUT_DATA_DIR": f"{ml}/output/data", "SM_OUTPUT_DIR": f"{ml}/output",
        "SM_INPUT_DIR": f"{ml}/input", "SM_INPUT_CONFIG_DIR": f"{ml}/input/config", "SM_INPUT_DATA_DIR": f"{ml}/input/data",
        "SM_CHANNELS": json.dumps(sorted(channels)), "SM_HPS": json.dumps(user_hps, sort_keys=True),
        "SM_CURRENT_HOST": "algo-1", "SM_HOSTS": json.dumps(["algo-1"]), "SM_NETWORK_INTERFACE_NAME": "eth0",
        "SM_NUM_CPUS": str(os.cpu_count() or 1), "SM_NUM_GPUS": "0", "SM_USER_ENTRY_POINT": program,
        "SM_MODULE_NAME": program.rsplit(".", 1)[0], "SM_MODULE_DIR": submit, "SM_LOG_LEVEL": "20",
        "SM_USER_ARGS": json.dumps([x for k, v in user_hps.items() for x in (f"--{k}", _arg(v))]),
        "TRAINING_JOB_NAME": job_name, "SM_TRAINING_ENV": json.dumps({"job_name": job_name, "hyperparameters": user_hps,
                                                                       "channel_input_dirs": {c: f"{ml}/input/data/{c}" for c in channels},
                                                                       "model_dir": f"{ml}/model", "current_host": "algo-1"}),
        **{f"SM_CHANNEL_{c.upper()}": f"{ml}/input/data/{c}" for c in channels},
        **{f"SM_HP_{k.upper()}": _arg(v) for k, v in user_hps.items()},
    }
    argv, installs = entry_command(ctx, code_dir, program, [x for k, v in user_hps.items() for x in (f"--{k}", _arg(v))])
    overlay = requirements.prepare(ctx, code_dir / "requirements.txt", "requirements.txt") if installs else None
    env = ctx.env({**{k: str(v) for k, v in spec.get("Environment", {}).items()},
                   **{k: box.visible(v) for k, v in sm_env.items()}}, overlay)
    return argv, env, box.visible(f"{ml}/code")


def entry_command(ctx: JobContext, code_dir: Path, program: str, args: list[str]) -> tuple[list[str], bool]:
    """How the training toolkit starts ``sagemaker_program`` (``_entry_point_type.get``), and
    whether it installs the code dir's requirements.txt first: a ``.sh`` is a command (nothing
    installed), a code dir with setup.py is a package installed with its requirements then run
    with ``python -m``, a ``.py`` is run as a script after its requirements are installed, ``-m
    name`` is a module, anything else a command."""
    requirements_file = (code_dir / "requirements.txt").is_file()
    if program.endswith(".sh") or not (program.endswith(".py") or program.startswith("-m ")
                                       or (code_dir / "setup.py").is_file()):
        if (code_dir / program).is_file():
            (code_dir / program).chmod(0o755)  # the toolkit makes a command executable
        return ["/bin/sh", "-c", " ".join(shlex.quote(a) for a in [f"./{program}", *args])], False
    if (code_dir / "setup.py").is_file():
        ctx.say("note: the code directory has setup.py: the container pip-installs it as a package and runs "
                "python -m; it is not installed locally (the module is imported from the code directory)")
        return ["python", "-m", program[:-3] if program.endswith(".py") else program, *args], requirements_file
    if program.startswith("-m "):
        return ["python", "-m", program[3:].strip(), *args], False
    return ["python", program, *args], requirements_file


def _read_from(path: str, offset: int) -> str:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")


def match_metrics(definitions: list[dict[str, str]], log: str) -> dict[str, float]:
    """Final value of each metric: the last match of its regex in the job's log, as SageMaker
    matches it: on the log as CloudWatch holds it, where a tab is ``#011`` (the XGBoost algorithm
    prints ``[3]<tab>train-rmse:...`` and its metric regexes say ``#011train-rmse``)."""
    metrics: dict[str, float] = {}
    log = "\n".join(line for line in log.splitlines() if not line.startswith("[smpipe-gen] ")).replace("\t", "#011")
    for definition in definitions:
        try:
            pattern = re.compile(definition["Regex"])
        except re.error as error:
            raise SmpipeError(f"metric {definition['Name']!r} regex is invalid: {error}",
                              hint="fix MetricDefinitions") from None
        for match in pattern.finditer(log):
            try:
                metrics[definition["Name"]] = float(match.group(1) if pattern.groups else match.group(0))
            except (ValueError, TypeError):
                continue
    return metrics


def _pack(source: Path, target: Path) -> None:
    """``source``'s entries as a tarball (links inside stay links, as tar keeps them); a source
    that is itself reached through a link the job made is refused, never read."""
    link = first_link(source, below=False)
    if link is not None:
        raise SmpipeError(f"{link.name} is a symbolic link to {shorten(os.readlink(link))}",
                          hint="write the model's files into /opt/ml/model itself: it is packed as it is")
    with tarfile.open(target, "w:gz", compresslevel=1) as tar:
        for child in sorted(Path(source).iterdir()) if Path(source).is_dir() else []:
            tar.add(child, arcname=child.name)


def run(ctx: JobContext) -> StepResult:
    props = train(ctx, ctx.arguments, ctx.job_name, ctx.sandbox())
    outputs, metrics = props.pop("_outputs"), props.pop("_metrics")
    return StepResult(properties=props, outputs=outputs, metrics=metrics)
