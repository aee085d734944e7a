"""Path fidelity: a job sees its own /opt/ml (mount namespace) and the real one is untouched;
without a namespace, /opt/ml in arguments and environment is rewritten to the job directory."""

import os
import sys
from pathlib import Path

import pytest

from smpipe_gen.local.sandbox import Sandbox, namespace_prefix

SCRIPT = """
import os, sys
os.makedirs("/opt/ml/processing/output", exist_ok=True)
open("/opt/ml/processing/output/hard.txt", "w").write("hard-coded")
print(os.listdir("/opt"))
"""


@pytest.mark.skipif(namespace_prefix() is None, reason="needs Linux mount namespaces (unshare)")
def test_hard_coded_opt_ml_script_runs_in_private_namespace(tmp_path):
    real_before = os.path.exists("/opt/ml")
    box = Sandbox(tmp_path / "a job dir with spaces")
    assert box.isolated
    script = tmp_path / "hard.py"
    script.write_text(SCRIPT)
    with open(tmp_path / "log", "wb") as log:
        code = box.run([sys.executable, str(script)], dict(os.environ), "/opt/ml", log)
    output = (tmp_path / "log").read_text()
    assert code == 0, output
    assert (box.opt_ml / "processing" / "output" / "hard.txt").read_text() == "hard-coded"
    assert os.path.exists("/opt/ml") == real_before
    if not real_before:  # the rest of /opt stays visible inside the job
        for entry in os.listdir("/opt"):
            assert repr(entry) in output


def test_without_namespace_paths_in_arguments_and_env_are_rewritten(tmp_path):
    box = Sandbox(tmp_path / "job", use_namespace=False)
    assert not box.isolated
    script = tmp_path / "env.py"
    script.write_text("import os, sys\nopen(os.path.join(os.environ['SM_MODEL_DIR'], 'm.txt'), 'w').write(sys.argv[1])\n")
    (box.opt_ml / "model").mkdir()
    with open(tmp_path / "log", "wb") as log:
        code = box.run([sys.executable, str(script), "/opt/ml/input/data/train"],
                       {**os.environ, "SM_MODEL_DIR": "/opt/ml/model"}, "/opt/ml", log)
    assert code == 0, (tmp_path / "log").read_text()
    assert (box.opt_ml / "model" / "m.txt").read_text() == str(box.opt_ml / "input" / "data" / "train")
    assert Path(box.visible("/opt/ml/model")) == box.opt_ml / "model"


def _trivial_project(root: Path) -> Path:
    """The benchmark's DAG of trivial steps, whose scripts take every path from arguments."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("local_run", Path(__file__).parents[1] / "benchmarks" / "local_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.trivial_project(root)


def test_pipeline_without_namespace_rewrites_paths_and_says_so(tmp_path):
    from local_support import last_record, project, run

    repo = _trivial_project(tmp_path / "dag")
    run(repo, "--no-namespace")
    record = last_record(repo)
    assert record["status"] == "Succeeded"
    log = Path(record["steps"]["d"]["log"]).read_text()
    assert "no private mount namespace here" in log
    command = log.split("$ ", 1)[1].splitlines()[0]
    assert f"--inputs {repo}/.smpipe/runs/" in command and " /opt/ml" not in command  # rewritten
    value = next((repo / ".smpipe" / "s3" / "bench-bucket").rglob("f/out/value.txt")).read_text()
    assert value == "6"  # a=1, b=c=2, d=5, f=6: inputs really flowed between steps

    # a script that hard-codes /opt/ml cannot work this way; the log says why
    mini = project(tmp_path)
    run(mini, "--no-namespace", expect=1)
    failed = last_record(mini)
    assert failed["failed_step"] == "Preprocess"
    assert "no private mount namespace here" in Path(failed["steps"]["Preprocess"]["log"]).read_text()


PROBE = """
import os
print("cwd", os.getcwd(), sorted(os.listdir(".")))
try:
    open("probe.txt", "w")
    print("code dir writable")
except OSError:
    print("code dir read-only")
"""


@pytest.mark.skipif(namespace_prefix() is None, reason="needs Linux mount namespaces (unshare)")
def test_code_bundle_is_unpacked_once_and_mounted_read_only(tmp_path):
    """runproc.sh's files (the bundle and its members) are where the SDK's bootstrap leaves them,
    without a tar per step; a damaged unpacked copy is noticed and unpacked again."""
    from local_support import project, run

    mini = project(tmp_path)
    script = mini / "scripts" / "preprocess.py"
    script.write_text(script.read_text() + PROBE)
    run(mini)
    log = next((mini / ".smpipe" / "runs").glob("*/steps/Preprocess/log.txt")).read_text()
    assert "cwd /opt/ml/processing/input/code [" in log and "'sourcedir.tar.gz'" in log and "'preprocess.py'" in log
    assert "code dir read-only" in log and "tar:" not in log  # no unpacking into the read-only dir
    unpacked = sorted((mini / ".smpipe" / "code").glob("*.d"))
    assert unpacked and all((d / "sourcedir.tar.gz").is_file() for d in unpacked)
    intruder = next(d for d in unpacked if (d / "preprocess.py").is_file()) / "intruder.py"
    intruder.write_text("print('not from the repository')\n")
    result = run(mini, "--no-cache")
    assert "damaged unpacked code" in result.stderr and not intruder.exists()
