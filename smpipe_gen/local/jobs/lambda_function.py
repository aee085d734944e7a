"""Lambda steps: the function's Python handler run in a process of its own (lambda_worker.py),
the event the step's resolved ``Arguments``, the returned object's keys read as the step's
``OutputParameters`` with their declared types.

Where a function comes from (``Function``): a ``run --local --pipeline`` program creates it at
the loopback endpoint while it builds (the SDK's ``Lambda(script=..., handler=...).upsert()``
inside ``pipeline.definition()``, or boto3's ``create_function``); the endpoint keeps the zip
and configuration Lambda was given (``captured``). That is what Lambda itself would run,
whichever way the program packed it (one script, a ``zipped_code_dir``, its own zip). Or the
user names one: ``--lambda NAME_OR_ARN=FILE.py:HANDLER`` (``from_options``), the file shipped
alone as the SDK's helper ships a ``script``. A step's ``FunctionArn`` finds its function by ARN,
else by the function name in it (``lookup``); a Lambda step without one is refused before the
run (``refusal``).

Outputs as SageMaker reads them: the function must return a JSON object; every declared output
must be a key of it (a missing one fails the step, naming it), cast to its OutputType (String:
a non-string value as its JSON text; Integer, Float, Boolean: the value or its text, else the
step fails). A failed invocation fails the step with Lambda's ``errorType: errorMessage``.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from smpipe_gen.errors import SmpipeError, did_you_mean, shorten
from smpipe_gen.local.endpoint import ACCOUNT
from smpipe_gen.local.jobs import JobContext, StepFailed, StepResult, read_state, write_json
from smpipe_gen.paths import inside

WORKER = Path(__file__).with_name("lambda_worker.py")
TASK_ROOT = "/opt/ml/lambda/task"  # the job's /var/task (LAMBDA_TASK_ROOT names it)
DEFAULT_TIMEOUT = 120  # seconds: the SDK's Lambda helper's default, for --lambda functions
OUTPUT_TYPES = ("String", "Integer", "Boolean", "Float")
OPTION_EXAMPLE = "NAME_OR_ARN=FILE.py:HANDLER"
_ARN = re.compile(r"^(?:arn:[\w-]+:lambda:[\w-]*:\d*:)?(?:\d{12}:)?function:(?P<name>[^:]+)(?::[^:]+)?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Function:
    """A Lambda function this run can invoke."""

    name: str  # FunctionName
    code: Path  # the deployment package (.zip) or a single .py script
    handler: str  # Lambda's Handler setting: module.function
    source: str  # how the run knows it, for messages
    arn: str | None = None
    runtime: str = "python3"
    timeout: float = DEFAULT_TIMEOUT
    memory: int = 128
    environment: Mapping[str, str] = field(default_factory=dict)


def function_name(name_or_arn: str) -> str:
    """The function name in a FunctionArn (full or partial ARN, a qualifier) or a bare name."""
    match = _ARN.match(name_or_arn)
    return match["name"] if match else name_or_arn


def lookup(functions: Mapping[str, Function], function_arn: Any) -> Function | None:
    """The function a step's ``FunctionArn`` names: by exact ARN, else by its function name."""
    if not isinstance(function_arn, str):
        return None
    by_arn = next((f for f in functions.values() if f.arn == function_arn), None)
    return by_arn or functions.get(function_name(function_arn))


def from_options(values: Iterable[str], root: Path) -> dict[str, Function]:
    """``--lambda NAME_OR_ARN=FILE.py:HANDLER``: each file inside ``root``, HANDLER a function name."""
    functions = {}
    for item in values:
        key, sep, target = item.partition("=")
        file, colon, handler = target.rpartition(":")
        where = f"--lambda {shorten(key or item)}"
        if not sep or not key.strip() or not colon or not file:
            raise SmpipeError(f"{shorten(repr(item))} is not {OPTION_EXAMPLE}", where="--lambda",
                              hint="e.g. --lambda my-function=lambdas/deploy.py:lambda_handler")
        if not _IDENTIFIER.match(handler):
            raise SmpipeError(f"handler {shorten(repr(handler))} is not a Python function name", where=where,
                              hint=f"write {OPTION_EXAMPLE}, HANDLER the function in FILE.py")
        path = inside(root, file, where=where, what="file", hint="the handler's .py file, inside the project")
        if path.suffix != ".py" or not path.is_file():
            raise SmpipeError(f"{shorten(file)} is not a .py file", where=where, hint="name the handler's script")
        key = key.strip()
        name = function_name(key)
        functions[name] = Function(name=name, code=path, handler=f"{path.stem}.{handler}", source=f"--lambda {key}",
                                   arn=key if key != name else None)
    return functions


def check_invoked(functions: Mapping[str, Function], steps: Iterable[Mapping[str, Any]]) -> None:
    """Refuse a ``--lambda`` function no Lambda step of ``steps`` invokes (a misspelt name would
    leave the step it was meant for refused, naming only the step)."""
    invoked = {function_name(s["FunctionArn"]) for s in steps
               if s.get("Type") == "Lambda" and isinstance(s.get("FunctionArn"), str)}
    for function in functions.values():
        if function.name not in invoked:
            raise SmpipeError(f"no Lambda step invokes function {shorten(repr(function.name))}", where=function.source,
                              hint=did_you_mean(function.name, invoked, "Lambda steps invoke: "
                                                + (", ".join(sorted(invoked)) or "none")))


def captured(directory: Path) -> dict[str, Function]:
    """The functions a captured program created at the loopback endpoint (``Endpoint.functions``
    wrote each one's ``function.json`` and ``code.zip`` under ``directory/<region>/<name>``)."""
    functions = {}
    for config_file in sorted(Path(directory).glob("*/*/function.json")) if Path(directory).is_dir() else []:
        config = read_state(config_file, "captured Lambda function") or {}
        if not config.get("FunctionName"):
            continue
        name = config["FunctionName"]
        functions[name] = Function(
            name=name, code=config_file.with_name("code.zip"), handler=config.get("Handler") or "",
            source="created by the program while it built", arn=config.get("FunctionArn"),
            runtime=config.get("Runtime") or "", timeout=float(config.get("Timeout") or 3),
            memory=int(config.get("MemorySize") or 128),
            environment={str(k): str(v) for k, v in (config.get("Environment") or {}).items()})
    return functions


def refusal(step: Mapping[str, Any], functions: Mapping[str, Function]) -> SmpipeError | None:
    """Why the Lambda step ``step`` cannot run locally, or None."""
    name, arn = step.get("Name"), step.get("FunctionArn")
    function = lookup(functions, arn)
    fixes = f"pass --lambda {shorten(function_name(str(arn)))}=FILE.py:HANDLER, or --stand-in {name}=FILE.json"
    if function is None:
        return SmpipeError(f"Lambda function {shorten(repr(arn))} is not known to this run", where=f"step {name}",
                           hint=fixes)
    if not function.runtime.startswith("python") or not function.code.is_file():
        kind = f"runtime {function.runtime!r}" if function.code.is_file() else "a container image"
        return SmpipeError(f"Lambda function {function.name!r} ({function.source}) uses {kind}, which cannot "
                           "run locally", where=f"step {name}", hint=fixes)
    return None


def typed_output(name: str, kind: str, value: Any) -> Any:
    """``value`` as an output of OutputType ``kind``; raises ValueError saying why it is not one."""
    if kind == "String":
        return value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, (dict, list)) or value is None:
        raise ValueError(f"output {name!r} is declared {kind}; got {shorten(json.dumps(value))}")
    text = str(value).strip()
    if kind == "Boolean":
        if isinstance(value, bool) or text.lower() in ("true", "false"):
            return value if isinstance(value, bool) else text.lower() == "true"
    elif kind == "Integer" and not isinstance(value, bool):
        if isinstance(value, int) or re.fullmatch(r"[+-]?\d+", text):
            return int(text)
    elif kind == "Float" and not isinstance(value, bool):
        try:
            return float(text)
        except ValueError:
            pass
    raise ValueError(f"output {name!r} is declared {kind}; got {shorten(json.dumps(value))}")


def declared_outputs(step: Mapping[str, Any]) -> dict[str, str]:
    """OutputName -> OutputType (String when absent) of a Lambda or Callback step."""
    outputs = step.get("OutputParameters")
    return {o["OutputName"]: o.get("OutputType") or "String" for o in outputs if isinstance(o, Mapping)
            and isinstance(o.get("OutputName"), str)} if isinstance(outputs, (list, tuple)) else {}


def read_outputs(step: Mapping[str, Any], returned: Any) -> dict[str, Any]:
    """The step's declared outputs from the function's return value; raises ValueError naming
    what is missing or of the wrong type."""
    declared = declared_outputs(step)
    if not declared:
        return {}
    if not isinstance(returned, dict):
        raise ValueError(f"returned {shorten(json.dumps(returned))}, not a JSON object holding the outputs "
                         f"{', '.join(map(repr, declared))}")
    missing = [name for name in declared if name not in returned]
    if missing:
        raise ValueError(f"returned no output {', '.join(map(repr, missing))} (its keys: "
                         f"{shorten(', '.join(map(repr, returned)) or 'none')})")
    return {name: typed_output(name, kind, returned[name]) for name, kind in declared.items()}


def _unpack(function: Function, task: Path) -> None:
    task.mkdir(parents=True, exist_ok=True)
    if function.code.suffix == ".py":
        shutil.copy2(function.code, task / function.code.name)
        return
    with zipfile.ZipFile(function.code) as package:  # extractall keeps members inside ``task``
        package.extractall(task)


def run(ctx: JobContext) -> StepResult:
    refused = refusal(ctx.step.body, ctx.functions)
    if refused is not None:
        raise refused
    function = lookup(ctx.functions, ctx.step.body.get("FunctionArn"))
    box = ctx.sandbox()
    _unpack(function, box.host(TASK_ROOT))
    request_id = str(uuid.uuid4())
    arn = function.arn or f"arn:aws:lambda:{ctx.region}:{ACCOUNT}:function:{function.name}"
    write_json(box.opt_ml / "lambda" / "event.json", ctx.arguments)
    spec = {"task_root": box.visible(TASK_ROOT), "handler": function.handler, "event": box.visible("/opt/ml/lambda/event.json"),
            "result": box.visible("/opt/ml/lambda/result.json"), "function_name": function.name, "function_arn": arn,
            "memory": function.memory, "timeout": function.timeout, "request_id": request_id,
            "log_stream": f"local/[$LATEST]{request_id.replace('-', '')}"}
    write_json(box.opt_ml / "lambda" / "spec.json", spec)
    env = ctx.env({**function.environment, "AWS_LAMBDA_FUNCTION_NAME": function.name,
                   "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
                   "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}", "AWS_LAMBDA_LOG_STREAM_NAME": spec["log_stream"],
                   "LAMBDA_TASK_ROOT": spec["task_root"], "_HANDLER": function.handler, "TZ": ":UTC",
                   "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}"})
    ctx.say(f"invoking Lambda function {function.name} ({function.source}), handler {function.handler}")
    ctx.run_process(box, ["python", str(WORKER), box.visible("/opt/ml/lambda/spec.json")], env, spec["task_root"],
                    {"MaxRuntimeInSeconds": function.timeout + 10})  # the worker times the handler out itself
    outcome = read_state(box.opt_ml / "lambda" / "result.json", "Lambda invocation result") or {}
    if "result" not in outcome:
        raise StepFailed(f"Lambda function {function.name} failed: {outcome.get('errorType', 'Runtime.Unknown')}: "
                         f"{outcome.get('errorMessage', 'the invocation gave no result')}")
    try:
        outputs = read_outputs(ctx.step.body, outcome["result"])
    except ValueError as error:
        raise StepFailed(f"Lambda function {function.name} {error}") from None
    ctx.say(f"outputs: {json.dumps(outputs)}" if outputs else "the step declares no outputs")
    return StepResult(properties={"FunctionArn": arn, "OutputParameters": outputs})
