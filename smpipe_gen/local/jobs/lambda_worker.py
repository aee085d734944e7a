"""Runs one Lambda invocation in its own process, as Lambda's Python runtime does (the runtime
interface client, awslambdaric): the task root first on ``sys.path``, the handler
``module.function`` imported (``dir/module`` names a package path), called with the event and a
context object, the return value marshalled to JSON.

Started by local/jobs/lambda_function.py as ``python lambda_worker.py SPEC.json`` (standard
library only: it runs in the job's interpreter). SPEC names the task root, handler, event file,
result file, the function's name, ARN, memory, timeout and the request id. The result file gets
``{"result": VALUE}`` or the error as Lambda reports it: ``{"errorType", "errorMessage",
"stackTrace"}`` with the runtime's own error types (Runtime.ImportModuleError,
Runtime.HandlerNotFound, Runtime.MalformedHandlerName, Runtime.UserCodeSyntaxError,
Runtime.MarshalError, Runtime.ExitError) and a timeout as "Task timed out after N seconds"
(errorType Sandbox.Timedout). Errors are also printed as the runtime logs them
(``[ERROR] Type: message`` and the traceback), for the step log.
"""

import importlib
import json
import signal
import sys
import time
import traceback


class _TimedOut(BaseException):
    """The invocation ran past the function's timeout (raised by SIGALRM)."""


class LambdaContext:
    """The attributes and methods handlers use on Lambda's context object."""

    def __init__(self, spec, deadline):
        self.function_name = spec["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec["function_arn"]
        self.memory_limit_in_mb = str(spec["memory"])
        self.aws_request_id = spec["request_id"]
        self.log_group_name = "/aws/lambda/" + spec["function_name"]
        self.log_stream_name = spec["log_stream"]
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def log(self, message):
        sys.stdout.write(str(message))
        sys.stdout.flush()


def _error(error_type, message, trace=None):
    return {"errorType": error_type, "errorMessage": message, "stackTrace": trace or []}


def _user_error(error):
    frames = traceback.extract_tb(error.__traceback__)[1:]  # the frames below this worker
    return _error(type(error).__name__, str(error), traceback.format_list(frames))


def _handler(name):
    """The handler function, or the runtime's error for a handler that cannot be loaded."""
    try:
        module_name, function_name = name.rsplit(".", 1)
    except ValueError as error:
        return None, _error("Runtime.MalformedHandlerName", f"Bad handler '{name}': {error}")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        return None, _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}")
    except SyntaxError as error:
        return None, _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}")
    except Exception as error:  # the module's own code failed while importing
        return None, _user_error(error)
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, _error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler, None


def invoke(spec):
    """The invocation's outcome: ``{"result": ...}`` or an error dict."""
    deadline = time.monotonic() + float(spec["timeout"])

    def timed_out(_signum, _frame):
        raise _TimedOut()

    signal.signal(signal.SIGALRM, timed_out)
    signal.setitimer(signal.ITIMER_REAL, float(spec["timeout"]))
    try:
        handler, error = _handler(spec["handler"])
        if error:
            return error
        with open(spec["event"], encoding="utf-8") as handle:
            event = json.load(handle)
        result = handler(event, LambdaContext(spec, deadline))
    except _TimedOut:
        return _error("Sandbox.Timedout", f"Task timed out after {float(spec['timeout']):.2f} seconds")
    except SystemExit as error:
        return _error("Runtime.ExitError", f"Runtime exited with error: exit status {error.code}")
    except Exception as error:
        return _user_error(error)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        json.dumps(result)
    except (TypeError, ValueError) as error:
        return _error("Runtime.MarshalError", f"Unable to marshal response: {error}")
    return {"result": result}


def main(spec_file):
    with open(spec_file, encoding="utf-8") as handle:
        spec = json.load(handle)
    sys.path.insert(0, spec["task_root"])
    print(f"START RequestId: {spec['request_id']} Version: $LATEST", flush=True)
    outcome = invoke(spec)
    if "errorType" in outcome:
        print(f"[ERROR] {outcome['errorType']}: {outcome['errorMessage']}", file=sys.stderr)
        print("".join(outcome["stackTrace"]), file=sys.stderr, end="", flush=True)
    print(f"END RequestId: {spec['request_id']}", flush=True)
    with open(spec["result"], "w", encoding="utf-8") as handle:
        json.dump(outcome, handle)


if __name__ == "__main__":
    main(sys.argv[1])
