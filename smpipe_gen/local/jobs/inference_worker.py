"""Batch transform inside the job's sandbox under the SageMaker inference toolkit's contract
(sagemaker_inference ``environment.py`` and ``transformer.py``):

- the user module is ``SAGEMAKER_PROGRAM`` (default ``inference.py``) with only a trailing
  ``.py`` stripped, imported with ``importlib.import_module`` from the code directory
  (``/opt/ml/model/code``); a name that does not import leaves every handler at the container's
  default, and the default ``model_fn`` raises, so the job fails as it would remotely;
- ``transform_fn`` replaces the ``input_fn``/``predict_fn``/``output_fn`` trio, and defining it
  together with any of them is the toolkit's error; missing trio handlers take defaults;
- each handler may take one extra trailing ``context`` argument (parameters are counted);
- the body arrives as bytes, decoded to str for ``application/json`` and ``text/csv``; a missing
  or ``*/*`` Accept becomes ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` (default application/json);
- a handler may return ``(body, content_type)``.

A model of a built-in algorithm (``spec["algorithm"]``: only XGBoost's has a local version) is
served by that algorithm's own server instead (``AlgorithmHandlers``); the batching, filters and
assembly are the same.

Run as a script with one argument: a JSON job spec. This file is executed by the job's
interpreter, so it imports nothing from smpipe_gen, except for a built-in algorithm's model
(then it runs with ``python -I``: no user code, no repository guard)."""

import importlib
import importlib.util
import inspect
import io
import json
import os
import sys

UTF8_TYPES = ("application/json", "text/csv")
DEFAULT_MODULE = "inference.py"


class Failure(Exception):
    """The job fails with this message (written to /opt/ml/output/failure, like a container)."""


class Context:
    """The few attributes of the model server's context a handler may read."""

    def __init__(self, model_dir, content_type, accept):
        self.system_properties = {"model_dir": model_dir, "gpu_id": None}
        self.request_processor = [self]
        self._headers = {"Content-Type": content_type, "Accept": accept}

    def get_request_properties(self):
        return dict(self._headers)


def module_name(program):
    """The toolkit's ``_parse_module_name``: only a trailing ``.py`` is stripped."""
    program = program or DEFAULT_MODULE
    return program[:-3] if program.endswith(".py") else program


def _default_model_fn(model_dir):
    raise Failure("NotImplementedError: Please provide a model_fn implementation (the container's default "
                  "model_fn raises this: the inference toolkit and the XGBoost and scikit-learn containers have "
                  "no default model loader in script mode)")


def _default_input_fn(body, content_type):
    import numpy as np

    if content_type == "text/csv":
        return np.genfromtxt(io.StringIO(body if isinstance(body, str) else body.decode()), delimiter=",", ndmin=2)
    if content_type == "application/json":
        return np.array(json.loads(body))
    if content_type == "application/x-npy":
        return np.load(io.BytesIO(body), allow_pickle=False)
    raise ValueError(f"unsupported content type {content_type}")


def _default_predict_fn(data, model):
    return model.predict(data)


def _default_output_fn(prediction, accept):
    import numpy as np

    array = np.asarray(prediction)
    if accept == "text/csv":
        buffer = io.StringIO()
        np.savetxt(buffer, array if array.ndim else array.reshape(1), delimiter=",", fmt="%s")
        return buffer.getvalue()
    if accept == "application/json":
        return json.dumps(array.tolist())
    raise ValueError(f"unsupported accept type {accept}")


def call(func, context, *args):
    """The toolkit's ``_run_handler_function``: pass ``context`` when the handler takes one
    more parameter than the call gives."""
    count = len(inspect.signature(func).parameters)
    if count == len(args):
        return func(*args)
    if count == len(args) + 1:
        return func(*args, context)
    raise TypeError(f"{func.__name__} takes {count} arguments but {len(args)} were given.")


class Handlers:
    """The handler set the toolkit would build from the user module."""

    def __init__(self, program, code_dir):
        name = module_name(program)
        self.notes = []
        if "/" in name or "\\" in name:
            raise Failure(
                f"SAGEMAKER_PROGRAM {program!r} is a path; the inference toolkit imports it as the module name "
                f"{name!r}, which cannot exist, so the container falls back to its default model_fn and the job "
                f"fails (NotImplementedError: Please provide a model_fn implementation). Use the dotted module "
                f"name {name.replace('/', '.').replace(chr(92), '.')!r} (its directory importable from the code "
                f"directory)")
        sys.path.insert(0, code_dir)
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            self.notes.append(f"module {name!r} not found in {code_dir}: every handler is the container's default")
            self.model_fn, self.transform_fn = _default_model_fn, None
            self.input_fn, self.predict_fn, self.output_fn = _default_input_fn, _default_predict_fn, _default_output_fn
            return
        module = importlib.import_module(name)
        self.model_fn = getattr(module, "model_fn", _default_model_fn)
        self.transform_fn = getattr(module, "transform_fn", None)
        trio = [getattr(module, f, None) for f in ("input_fn", "predict_fn", "output_fn")]
        if self.transform_fn and any(trio):
            raise Failure("Cannot use transform_fn implementation in conjunction with input_fn, predict_fn, "
                          "and/or output_fn implementation (the inference toolkit's error)")
        self.input_fn = trio[0] or _default_input_fn
        self.predict_fn = trio[1] or _default_predict_fn
        self.output_fn = trio[2] or _default_output_fn
        defaulted = [f for f, given in zip(("input_fn", "predict_fn", "output_fn"), trio) if not given]
        if not self.transform_fn and defaulted:
            self.notes.append(f"{', '.join(defaulted)} not in {name}: using numpy defaults; the real container's "
                              "defaults depend on its image (XGBoost decodes to a DMatrix) and may differ")
        self.pre_model_fn = getattr(module, "pre_model_fn", None)
        self.model_warmup_fn = getattr(module, "model_warmup_fn", None)

    def accept(self, accept):
        """A missing or ``*/*`` Accept is SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (default application/json)."""
        if not accept or accept == "*/*":
            return os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
        return accept

    def load(self, model_dir, context):
        if getattr(self, "pre_model_fn", None):
            call(self.pre_model_fn, context, model_dir)
        model = call(self.model_fn, context, model_dir)
        if getattr(self, "model_warmup_fn", None):
            call(self.model_warmup_fn, context, model_dir, model)
        return model

    def invoke(self, model, body, content_type, accept, context):
        """One request, as ``Transformer.transform`` handles it; returns the response text."""
        if content_type in UTF8_TYPES:
            body = body.decode("utf-8")
        if self.transform_fn:
            result = call(self.transform_fn, context, model, body, content_type, accept)
        else:
            data = call(self.input_fn, context, body, content_type)
            prediction = call(self.predict_fn, context, data, model)
            result = call(self.output_fn, context, prediction, accept)
        if isinstance(result, tuple):
            result = result[0]
        if isinstance(result, (bytes, bytearray)):
            return bytes(result).decode("utf-8")
        if isinstance(result, str):
            return result
        raise Failure(f"the handler returned {type(result).__name__}; the model server sends only bytes or str "
                      "(serialize the prediction in output_fn/transform_fn)")


class AlgorithmHandlers:
    """A built-in algorithm's own server (only XGBoost's has a local version): the model loaded and
    each request answered as its container does (smpipe_gen/local/algorithms/xgboost_inference.py).
    Only in this mode does the worker import smpipe-gen; it then runs with ``python -I``."""

    def __init__(self, algorithm):
        sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
        from smpipe_gen.errors import SmpipeError  # the smpipe-gen this file belongs to
        from smpipe_gen.local.algorithms import AlgorithmError, xgboost_inference

        self.inference, self.errors = xgboost_inference, (AlgorithmError, SmpipeError)
        self.tag, self.environment = algorithm["tag"], algorithm["environment"]
        self.notes = []

    def accept(self, accept):
        return accept  # the algorithm chooses for a missing or */* Accept (SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT)

    def load(self, model_dir, context):
        return self._answer(self.inference.load_model, model_dir, self.tag, self.environment)

    def invoke(self, model, body, content_type, accept, context):
        response, _ = self._answer(self.inference.predict, model, body, content_type, accept)
        return response.decode("utf-8")

    def _answer(self, function, *args):
        """The container's error answer (or what has no local version) fails the job with its message."""
        try:
            return function(*args)
        except self.errors as error:
            status = getattr(error, "status", None)
            text = error.one_line() if hasattr(error, "one_line") else str(error)
            raise Failure(f"{status} {text}" if status else text) from None


def _select(fields, expression):
    """The JSONPath subset batch transform filters use on CSV rows: $, $[i], $[i:j], $[a,b]."""
    expression = (expression or "$").strip()
    if expression == "$":
        return fields
    inner = expression[2:-1]
    if ":" in inner:
        start, _, stop = inner.partition(":")
        return fields[int(start) if start else None:int(stop) if stop else None]
    return [fields[int(i)] for i in inner.split(",")]


def _batches(text, spec):
    """The records of one input file and the requests they are sent in (SplitType, BatchStrategy,
    MaxPayloadInMB)."""
    if spec["split"] != "Line":
        return [text], [[text]]
    originals = [line for line in text.splitlines() if line.strip()]
    if spec["single_record"]:
        return originals, [[r] for r in originals]
    batches, size, current = [], 0, []
    for record in originals:
        if current and size + len(record) > spec["max_payload"]:
            batches.append(current)
            current, size = [], 0
        current.append(record)
        size += len(record) + 1
    if current:
        batches.append(current)
    return originals, batches


def _join(originals, outputs, spec, csv):
    if spec["join"] == "Input":
        joined = []
        for record, output in zip(originals, outputs):
            if csv:
                joined.append(",".join(_select(record.split(",") + output.split(","), spec["output_filter"])))
            else:
                item = json.loads(record)
                item["SageMakerOutput"] = json.loads(output)
                joined.append(json.dumps(item))
        return joined
    if spec["output_filter"] not in (None, "", "$"):
        return [",".join(_select(o.split(","), spec["output_filter"])) for o in outputs]
    return outputs


def transform(spec):
    content_type = spec["content_type"]
    algorithm = spec.get("algorithm")
    handlers = AlgorithmHandlers(algorithm) if algorithm else Handlers(spec["program"], spec["code_dir"])
    accept = handlers.accept(spec["accept"])
    csv = content_type == "text/csv"
    context = Context(spec["model_dir"], content_type, accept)
    for note in handlers.notes:
        print(f"[smpipe-gen] note: {note}", flush=True)
    model = handlers.load(spec["model_dir"], context)
    for source, target in spec["files"]:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        originals, batches = _batches(text, spec)
        outputs, responses = [], []
        for batch in batches:
            filtered = [",".join(_select(r.split(","), spec["input_filter"])) if csv else r for r in batch]
            body = ("\n".join(filtered) + "\n" if spec["split"] == "Line" else filtered[0]).encode("utf-8")
            result = handlers.invoke(model, body, content_type, accept, context)
            responses.append(result)
            lines = result.splitlines() if spec["split"] == "Line" else [result]
            if len(batch) > 1 and len(lines) != len(batch):
                raise Failure(f"{source}: {len(batch)} records gave {len(lines)} output lines; "
                              "with SplitType Line each record needs one output line")
            outputs.extend(lines)
        outputs = _join(originals, outputs, spec, csv)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            if spec["assemble"] == "Line":
                handle.write("".join(o + "\n" for o in outputs))
            elif spec["join"] == "Input" or spec["output_filter"] not in (None, "", "$"):
                handle.write("".join(outputs))
            else:  # AssembleWith None: the responses' bytes, concatenated as they came
                handle.write("".join(responses))
        print(f"transformed {source} -> {target}: {len(originals)} records", flush=True)


def main(spec_path):
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    try:
        transform(spec)
    except Failure as failure:
        os.makedirs(os.path.dirname(spec["failure_file"]), exist_ok=True)
        with open(spec["failure_file"], "w", encoding="utf-8") as handle:
            handle.write(str(failure))
        print(f"error: {failure}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1])
