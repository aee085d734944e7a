"""What ran: the deployed pipeline's executions, read for the cache forecast (cache.predict_from_runs).

SageMaker reuses a step's earlier successful run of the same pipeline when its cache key is the
same and the run is younger than the step's ExpireAfter, whatever ran in between: a revert hits.
So the forecast reads the executions within the longest ExpireAfter (ListPipelineExecutions),
each one's definition as it ran (DescribePipelineDefinitionForExecution) with the parameter
values it ran with (ListPipelineParametersForExecution), and which steps succeeded and which
reused an older run (ListPipelineExecutionSteps: StepStatus, CacheHitResult). An endpoint without
the last call (moto's) gets the assumption that every step of a succeeded execution succeeded,
and its cache hits are inferred the way SageMaker decides one; both said in the forecast's line.
A step that reused an older run counts as a successful run of that execution, aged from its
start: AWS documents ExpireAfter as a cache entry's lifetime without saying whether a hit renews it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from smpipe_gen import definition
from smpipe_gen.definition import Definition, expire_seconds
from smpipe_gen.errors import SmpipeError
from smpipe_gen.plan.cache import Run
from smpipe_gen.plan.model import Execution

MAX_EXECUTIONS = 20  # newest first: each costs three to four calls


def window(head: Definition) -> timedelta | None:
    """How far back a run may still be reused: the longest ExpireAfter of a cached step; None
    when one never expires."""
    limits = [expire_seconds(step.cache.expire_after) for step in head if step.cache and step.cache.enabled]
    if not limits:
        return timedelta(0)
    return None if None in limits else timedelta(seconds=max(limits))


def read_runs(deployer: Any, head: Definition, now: datetime) -> tuple[list[Run], list[Execution], str]:
    """The runs the cache may reuse, the executions read (newest first) and what the forecast
    assumes, in one line."""
    name = deployer.settings.name
    reach = window(head)
    arguments: dict[str, Any] = {"PipelineName": name, "SortBy": "CreationTime", "SortOrder": "Descending",
                                 "MaxResults": MAX_EXECUTIONS}
    if reach is not None:
        arguments["CreatedAfter"] = now - reach
    try:
        listed = deployer.call("ListPipelineExecutions", deployer.sagemaker.list_pipeline_executions, **arguments)
    except SmpipeError as error:
        if "ResourceNotFound" in error.message or "not find" in error.message.lower():
            return [], [], f"pipeline {name} is not deployed: nothing ran, no step can hit"
        raise
    summaries = [s for s in listed.get("PipelineExecutionSummaries", [])
                 if reach is None or _utc(s["StartTime"]) >= now - reach][:MAX_EXECUTIONS]
    runs, executions, assumed = [], [], False
    for summary in summaries:
        arn, status, started = summary["PipelineExecutionArn"], summary.get("PipelineExecutionStatus", ""), \
            _utc(summary["StartTime"])
        executions.append(Execution(arn, started.isoformat(), status))
        steps = _steps(deployer, arn)
        if steps is None:
            assumed = True
            if status != "Succeeded":
                continue
        ran = _definition(deployer, arn)
        if ran is None:
            continue
        succeeded = frozenset(ran.steps) if steps is None else \
            frozenset(s["StepName"] for s in steps if s.get("StepStatus") == "Succeeded")
        sources = None if steps is None else {s["StepName"]: s["CacheHitResult"]["SourcePipelineExecutionArn"]
                                               for s in steps if (s.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn")}
        runs.append(Run(arn, started, ran, succeeded, sources))
    span = f"within {_spelled(reach)}" if reach is not None else "(a step that never expires reaches back to the first)"
    line = f"compares with the {len(executions)} executions of {name} {span}" + \
        (f" (the newest {MAX_EXECUTIONS})" if len(summaries) == MAX_EXECUTIONS else "")
    if assumed:
        line += ("; the endpoint lists no execution steps, so every step of a succeeded execution counts as succeeded "
                 "and a step whose key an older run had as reusing that run")
    return runs, executions, line


def _utc(value: Any) -> datetime:
    return value.astimezone(timezone.utc) if isinstance(value, datetime) else \
        datetime.fromisoformat(str(value)).astimezone(timezone.utc)


def _spelled(reach: timedelta) -> str:
    days, seconds = reach.days, reach.seconds
    return f"{days} days" if days and not seconds else f"{reach.total_seconds() / 3600:g} hours"


def _steps(deployer: Any, arn: str) -> list[dict[str, Any]] | None:
    """Every step of an execution, or None when the endpoint does not list them (one attempt:
    best effort, as apply --wait)."""
    from botocore.exceptions import BotoCoreError, ClientError

    steps: list[dict[str, Any]] = []
    token = None
    try:
        while True:
            page = deployer.progress.list_pipeline_execution_steps(
                PipelineExecutionArn=arn, **({"NextToken": token} if token else {}))
            steps += page.get("PipelineExecutionSteps", [])
            token = page.get("NextToken")
            if not token:
                return steps
    except (ClientError, BotoCoreError):
        return None


def _definition(deployer: Any, arn: str) -> Definition | None:
    """The definition an execution ran, its parameters' defaults the values it ran with."""
    described = deployer.call("DescribePipelineDefinitionForExecution",
                              deployer.sagemaker.describe_pipeline_definition_for_execution, PipelineExecutionArn=arn)
    try:
        data = json.loads(described.get("PipelineDefinition") or "")
    except ValueError:
        return None
    given = {p["Name"]: p["Value"] for p in deployer.call(
        "ListPipelineParametersForExecution", deployer.sagemaker.list_pipeline_parameters_for_execution,
        PipelineExecutionArn=arn).get("PipelineParameters", [])}
    for parameter in data.get("Parameters", []) if isinstance(data, dict) else []:
        if parameter.get("Name") in given:
            parameter["DefaultValue"] = _typed(given[parameter["Name"]], parameter.get("Type"))
    try:
        return definition.from_json(data, where=f"execution {arn}")
    except SmpipeError:
        return None


def _typed(value: str, kind: str | None) -> Any:
    """A parameter value as its definition's default would hold it (the API gives strings)."""
    try:
        return int(value) if kind == "Integer" else float(value) if kind == "Float" else \
            value.lower() == "true" if kind == "Boolean" else value
    except ValueError:
        return value
