"""Batch transform inside the job's sandbox, following the SageMaker inference toolkit:
``model_fn(model_dir)``, ``input_fn(body, content_type)``, ``predict_fn(data, model)``,
``output_fn(prediction, accept)`` from the model's entry point, with the toolkit's defaults for
the handlers a script leaves out. Run as a script with one argument: a JSON job spec.
This file is executed by the job's interpreter, so it imports nothing from smpipe_gen."""

import importlib.util
import io
import json
import os
import sys


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
    if accept in ("text/csv", None, ""):
        buffer = io.StringIO()
        np.savetxt(buffer, array if array.ndim else array.reshape(1), delimiter=",", fmt="%s")
        return buffer.getvalue()
    if accept == "application/json":
        return json.dumps(array.tolist())
    raise ValueError(f"unsupported accept type {accept}")


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


def main(spec_path):
    spec = json.load(open(spec_path))
    sys.path.insert(0, spec["code_dir"])
    module = importlib.import_module(spec["program"].removesuffix(".py"))  # a module name, as the toolkit
    if not hasattr(module, "model_fn"):
        sys.exit(f"{spec['program']} defines no model_fn(model_dir)")
    model = module.model_fn(spec["model_dir"])
    input_fn = getattr(module, "input_fn", _default_input_fn)
    predict_fn = getattr(module, "predict_fn", _default_predict_fn)
    output_fn = getattr(module, "output_fn", _default_output_fn)
    content_type, accept = spec["content_type"], spec["accept"]
    csv = content_type == "text/csv"

    def infer(records):
        body = "\n".join(records) + "\n" if spec["split"] == "Line" else records[0]
        result = output_fn(predict_fn(input_fn(body, content_type), model), accept)
        return result.decode() if isinstance(result, bytes) else str(result)

    for source, target in spec["files"]:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        if spec["split"] == "Line":
            originals = [line for line in text.splitlines() if line.strip()]
            if spec["single_record"]:
                batches = [[r] for r in originals]
            else:
                batches, size, current = [], 0, []
                for record in originals:
                    if current and size + len(record) > spec["max_payload"]:
                        batches.append(current)
                        current, size = [], 0
                    current.append(record)
                    size += len(record) + 1
                if current:
                    batches.append(current)
        else:
            originals, batches = [text], [[text]]
        outputs = []
        for batch in batches:
            filtered = [",".join(_select(r.split(","), spec["input_filter"])) if csv else r for r in batch]
            result = infer(filtered)
            lines = result.splitlines() if spec["split"] == "Line" else [result]
            if len(batch) > 1 and len(lines) != len(batch):
                sys.exit(f"{source}: {len(batch)} records gave {len(lines)} output lines; "
                         "with SplitType Line each record needs one output line")
            outputs.extend(lines)
        if spec["join"] == "Input":
            joined = []
            for record, output in zip(originals, outputs):
                if csv:
                    joined.append(",".join(_select(record.split(",") + output.split(","), spec["output_filter"])))
                else:
                    item = json.loads(record)
                    item["SageMakerOutput"] = json.loads(output)
                    joined.append(json.dumps(item))
            outputs = joined
        elif spec["output_filter"] not in (None, "", "$"):
            outputs = [",".join(_select(o.split(","), spec["output_filter"])) for o in outputs]
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            if spec["assemble"] == "Line":
                handle.write("".join(o + "\n" for o in outputs))
            else:
                handle.write("".join(outputs))
        print(f"transformed {source} -> {target}: {len(originals)} records", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
