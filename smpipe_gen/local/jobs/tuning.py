"""Tuning steps: the training job over the declared ranges (random or grid search, up to
MaxNumberOfTrainingJobs, MaxParallelTrainingJobs at a time), best job by the objective metric.
Bayesian and Hyperband searches are drawn at random (their choices depend on the service's model)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from smpipe_gen.errors import SmpipeError
from smpipe_gen.paths import file_name
from smpipe_gen.local.jobs import JOB_NAME_LIMIT, JobContext, StepFailed, StepResult, job_name
from smpipe_gen.local.jobs.training import TUNING_OBJECTIVE, train


def _candidates(ranges: dict[str, Any], count: int, strategy: str, seed: str) -> list[dict[str, str]]:
    """Hyperparameter sets to try; seeded by the step so a re-run tries the same ones."""
    rng = random.Random(hashlib.sha256(seed.encode()).hexdigest())
    continuous = ranges.get("ContinuousParameterRanges", [])
    integer = ranges.get("IntegerParameterRanges", [])
    categorical = ranges.get("CategoricalParameterRanges", [])
    if strategy == "Grid":
        if continuous:
            raise SmpipeError(f"Grid search takes no continuous ranges ({', '.join(c['Name'] for c in continuous)}): "
                              "CreateHyperParameterTuningJob refuses them", hint="use categorical or integer ranges")
        axes = [[(c["Name"], v) for v in c["Values"]] for c in categorical]
        axes += [[(r["Name"], str(v)) for v in range(int(r["MinValue"]), int(r["MaxValue"]) + 1)] for r in integer]
        return [dict(combo) for combo in itertools.islice(itertools.product(*axes), count)]

    def draw(spec: dict[str, Any], as_int: bool) -> str:
        low, high = float(spec["MinValue"]), float(spec["MaxValue"])
        scaling = spec.get("ScalingType")
        if scaling == "Logarithmic" and low > 0:
            value = math.exp(rng.uniform(math.log(low), math.log(high)))
        elif scaling == "ReverseLogarithmic" and 0 <= low and high < 1:  # dense near 1: 1 - x, x log-uniform
            value = 1 - math.exp(rng.uniform(math.log(1 - high), math.log(1 - low)))
        else:
            value = rng.uniform(low, high)
        return str(int(round(value))) if as_int else repr(value)

    sets = []
    for _ in range(count):
        chosen = {c["Name"]: rng.choice(c["Values"]) for c in categorical}
        chosen.update({r["Name"]: draw(r, True) for r in integer})
        chosen.update({r["Name"]: draw(r, False) for r in continuous})
        sets.append(chosen)
    return sets


def run(ctx: JobContext) -> StepResult:
    config = ctx.arguments["HyperParameterTuningJobConfig"]
    definition = ctx.arguments.get("TrainingJobDefinition")
    if definition is None:
        raise SmpipeError("only single TrainingJobDefinition tuning runs locally", where=f"step {ctx.name}",
                          hint="use one estimator in the tuner")
    objective = config["HyperParameterTuningJobObjective"]
    limits = config.get("ResourceLimits", {})
    count = int(limits.get("MaxNumberOfTrainingJobs", 1))
    parallel = max(1, min(int(limits.get("MaxParallelTrainingJobs", 1)), ctx.max_parallel))
    strategy = config.get("Strategy", "Random")
    candidates = _candidates(config.get("ParameterRanges", {}), count, strategy, ctx.name)
    tuning_name = job_name(f"{ctx.execution_id}-{ctx.name}", JOB_NAME_LIMIT - 4)  # and -NNN per trial
    if strategy not in ("Random", "Grid"):
        ctx.say(f"note: the {strategy} strategy chooses each trial from the results so far, with the service's own "
                "model; here the trials are drawn at random from the same ranges")
    ctx.say(f"tuning: {len(candidates)} training jobs, {parallel} at a time, {strategy} strategy, "
            f"{objective['Type']} {objective['MetricName']}")

    def trial(index: int, hps: dict[str, str]) -> dict[str, Any]:
        name = f"{tuning_name}-{index + 1:03d}"
        spec = {**definition, "HyperParameters": {**definition.get("StaticHyperParameters", {}), **hps}}
        spec["HyperParameters"].setdefault(TUNING_OBJECTIVE, objective["MetricName"])  # as the service adds it
        spec["AlgorithmSpecification"] = {**definition.get("AlgorithmSpecification", {})}
        log_path = ctx.step_dir / file_name(f"{name}.log")
        with open(log_path, "wb") as log:
            sub = dataclasses.replace(ctx, log=log)
            box = sub.sandbox(name)
            try:
                props = train(sub, spec, name, box)
            except StepFailed as failure:
                ctx.say(f"{name} failed: {failure} (log: {log_path})")
                return {"TrainingJobName": name, "TrainingJobStatus": "Failed", "TunedHyperParameters": hps}
        shutil.rmtree(box.job_dir, ignore_errors=True)  # the model is in the store
        value = props["_metrics"].get(objective["MetricName"])
        ctx.say(f"{name} {hps} -> {objective['MetricName']}={value}")
        return {"TrainingJobName": name, "TrainingJobStatus": "Completed", "TunedHyperParameters": hps,
                "FinalHyperParameterTuningJobObjectiveMetric": None if value is None else
                {"MetricName": objective["MetricName"], "Value": value, "Type": objective["Type"]},
                "_outputs": props["_outputs"]}

    with ThreadPoolExecutor(parallel) as pool:
        summaries = list(pool.map(lambda pair: trial(*pair), enumerate(candidates)))
    scored = [s for s in summaries if s.get("FinalHyperParameterTuningJobObjectiveMetric")]
    if not scored:
        raise StepFailed(f"no training job reported the objective metric {objective['MetricName']!r} "
                         "(check MetricDefinitions against the script's log)")
    sign = 1 if objective["Type"] == "Minimize" else -1
    scored.sort(key=lambda s: sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    ranked = scored + [s for s in summaries if s not in scored]
    outputs = {uri: digest for s in summaries for uri, digest in s.pop("_outputs", {}).items()}
    best = ranked[0]
    props = {**ctx.arguments, "HyperParameterTuningJobName": tuning_name,
             "HyperParameterTuningJobStatus": "Completed", "BestTrainingJob": best,
             "TrainingJobSummaries": ranked}
    metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
    return StepResult(properties=props, outputs=outputs, metrics={metric["MetricName"]: metric["Value"]})
