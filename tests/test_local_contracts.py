"""The inference toolkit's contract as the local transform worker keeps it: the worker runs as its
own process (as in a job) over a spec, with user modules written here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


WORKER = Path(__file__).resolve().parents[1] / "smpipe_gen" / "local" / "jobs" / "inference_worker.py"


def transform(tmp_path: Path, files: dict[str, str], program: str | None, *, accept: str | None = None,
              env: dict[str, str] | None = None, expect: int = 0) -> tuple[str, str]:
    """Run the worker over one CSV input of two records; returns (output file text, log)."""
    code = tmp_path / "model" / "code"
    for name, text in files.items():
        (code / name).parent.mkdir(parents=True, exist_ok=True)
        (code / name).write_text(text)
    (tmp_path / "in.csv").write_text("1,2\n3,4\n")
    spec = {"code_dir": str(code), "model_dir": str(tmp_path / "model"), "program": program,
            "content_type": "text/csv", "accept": accept, "failure_file": str(tmp_path / "failure"),
            "split": "Line", "assemble": "Line", "single_record": True, "max_payload": 6 << 20,
            "input_filter": None, "output_filter": None, "join": "None",
            "files": [[str(tmp_path / "in.csv"), str(tmp_path / "out" / "in.csv.out")]]}
    (tmp_path / "job.json").write_text(json.dumps(spec))
    result = subprocess.run([sys.executable, str(WORKER), str(tmp_path / "job.json")], capture_output=True,
                            text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", **(env or {})})
    log = result.stdout + result.stderr
    assert result.returncode == expect, log
    out = tmp_path / "out" / "in.csv.out"
    return (out.read_text() if out.is_file() else ""), log


TRANSFORM_FN = """
def model_fn(model_dir):
    return 10

def transform_fn(model, body, content_type, accept):
    assert isinstance(body, str), type(body)   # text/csv arrives decoded
    total = sum(float(v) for v in body.strip().split(","))
    return (f"{total * model},{accept}".encode(), accept)
"""


def test_transform_fn_is_used_and_accept_defaults_to_json(tmp_path):
    out, _ = transform(tmp_path, {"serve/handler.py": TRANSFORM_FN}, "serve.handler")
    assert out == "30.0,application/json\n70.0,application/json\n"


def test_default_accept_comes_from_the_environment(tmp_path):
    out, _ = transform(tmp_path, {"inference.py": TRANSFORM_FN}, None, accept="*/*",
                       env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"})
    assert out == "30.0,text/csv\n70.0,text/csv\n"


def test_path_shaped_program_fails_as_in_the_container(tmp_path):
    _, log = transform(tmp_path, {"serve/handler.py": TRANSFORM_FN}, "serve/handler.py", expect=1)
    failure = (tmp_path / "failure").read_text()
    assert "'serve/handler.py' is a path" in failure and "'serve.handler'" in failure
    assert "default model_fn" in failure


def test_transform_fn_with_the_trio_is_the_toolkits_error(tmp_path):
    module = TRANSFORM_FN + "\ndef input_fn(body, content_type):\n    return body\n"
    transform(tmp_path, {"inference.py": module}, "inference.py", expect=1)
    assert "Cannot use transform_fn implementation in conjunction with" in (tmp_path / "failure").read_text()


def test_missing_module_leaves_the_default_model_fn_which_fails(tmp_path):
    _, log = transform(tmp_path, {"other.py": TRANSFORM_FN}, "inference.py", expect=1)
    assert "module 'inference' not found" in log
    assert "Please provide a model_fn implementation" in (tmp_path / "failure").read_text()


def test_handlers_receive_context_when_they_take_one_more_parameter(tmp_path):
    module = """
def model_fn(model_dir, context):
    return context.system_properties["model_dir"]

def input_fn(body, content_type, context):
    return body.strip()

def predict_fn(data, model):
    return data

def output_fn(prediction, accept, context):
    return prediction.replace(",", "+")
"""
    out, _ = transform(tmp_path, {"inference.py": module}, "inference")
    assert out == "1+2\n3+4\n"


def test_a_non_text_return_value_is_rejected_like_the_model_server(tmp_path):
    module = "def model_fn(d):\n    return 1\n\ndef transform_fn(m, b, c, a):\n    return [1]\n"
    transform(tmp_path, {"inference.py": module}, None, expect=1)
    assert "returned list" in (tmp_path / "failure").read_text()
