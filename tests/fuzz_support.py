"""Mutate the example configs the way an attacker or a clumsy user would, run the real CLI on
them, and classify the outcome. Shared by tests/test_fuzz.py (hypothesis, small profile) and
benchmarks/fuzz.py (thousands of cases, counts by class).

A case fails when the CLI raises (a traceback), exits with a code other than 0/1, prints an
error line that names no file, key or variable, writes outside its output directory, or changes
the output directory while refusing. Damage reaches config files (YAML trees and bytes) and
environment files (values, bytes, environment names, links); foreign definitions (run --local
--definition) have their own generator and classifier below.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import yaml

from helpers import smpipe_in_process

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
EXAMPLE_NAMES = ("abalone", "two-models", "lightgbm-purchase", "pca-tf-housing", "llm-summarization")

# A refusal (and a warning) must say where: a config file (with line), an environment variable or a step/key.
LOCATED = re.compile(r"^(error|warning): (\S+\.(ya?ml|env)\b|environments/[^:]*\.env:|SMP_[A-Z_]+|[\w./-]+:\d+|pipeline/)")

HOSTILE_STRINGS = (
    "m\n    open('canary', 'w').write('x')\n    #", "../outside", "../../etc/passwd", "/etc/hostname", "/etc",
    "a\x00b", "x" * 100_000, "é" * 300, "\u2028\u202e", "${SMP_ROLE}", "SMP_ROLE", "{{ 7*7 }}", "'\"\\",
    "", " ", "-", "0", "null", "s3://", "s3://b/../../k", "*", "**/*", "a" * 300 + ".py",
    "a\u2028b\x85c", "a\vb\fc", "\x1b[1A\x1b[2K", "/" + "s" * 300,
)
HOSTILE_SCALARS = (None, True, False, 0, -1, 1, 10**30, -(10**30), 1.5, float("inf"), float("nan"), 2**63)


class Chooser(Protocol):
    """Where the randomness comes from: hypothesis in tests, random.Random in the benchmark."""

    def choice(self, options: list | tuple) -> Any: ...
    def index(self, size: int) -> int: ...


@dataclass
class Outcome:
    kind: str  # "ok", "refused" or "failure:<class>"
    detail: str = ""


def paths_in(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a parsed YAML tree (mapping keys and list indexes)."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found.extend(paths_in(value, prefix + (key,)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(paths_in(value, prefix + (index,)))
    return found


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def _hostile_value(chooser: Chooser, current: Any, strings: tuple[str, ...] = HOSTILE_STRINGS) -> Any:
    kind = chooser.choice(("string", "scalar", "list", "map", "swap", "deep", "wrap"))
    if kind == "string":
        return chooser.choice(strings)
    if kind == "scalar":
        return chooser.choice(HOSTILE_SCALARS)
    if kind == "list":
        return [chooser.choice(strings + HOSTILE_SCALARS)]
    if kind == "map":
        return {chooser.choice(strings): chooser.choice(HOSTILE_SCALARS)}
    if kind == "swap":  # list <-> map
        if isinstance(current, dict):
            return list(current.values())
        if isinstance(current, list):
            return {str(index): item for index, item in enumerate(current)}
        return {"value": current}
    if kind == "deep":
        value: Any = current
        for _ in range(chooser.choice((10, 70, 200))):
            value = [value]
        return value
    return [current, current]


def mutate(data: Any, chooser: Chooser, rounds: int, strings: tuple[str, ...] = HOSTILE_STRINGS) -> Any:
    """``rounds`` edits at random places: delete, null, replace, rename a key, swap types;
    hostile text comes from ``strings``."""
    for _ in range(rounds):
        paths = [path for path in paths_in(data) if path]
        if not paths:
            return chooser.choice(HOSTILE_SCALARS + strings)
        path = paths[chooser.index(len(paths))]
        parent, last = _get(data, path[:-1]), path[-1]
        action = chooser.choice(("delete", "null", "replace", "replace", "rename"))
        if action == "delete":
            del parent[last]
        elif action == "null":
            parent[last] = None
        elif action == "replace":
            parent[last] = _hostile_value(chooser, parent[last], strings)
        elif isinstance(parent, dict):
            parent[chooser.choice(strings + ("models", "steps", "entry_point"))] = parent.pop(last)
        else:
            parent.reverse()
    return data


def raw_bytes_variant(text: str, chooser: Chooser) -> bytes:
    """Byte-level damage the YAML layer must report: NUL, bad UTF-8, control characters, bombs."""
    data = text.encode()
    cut = chooser.index(len(data) + 1)
    kind = chooser.choice(("nul", "latin1", "control", "bomb", "nest", "tab", "truncate"))
    if kind == "nul":
        return data[:cut] + b"\x00" + data[cut:]
    if kind == "latin1":
        return data[:cut] + b"\xff\xfe" + data[cut:]
    if kind == "control":
        return data[:cut] + b"\x07" + data[cut:]
    if kind == "bomb":
        lines = ["  a: &a [x, x, x, x, x, x, x, x, x, x]"] + [
            f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(9)]
        return data + ("\nunused:\n" + "\n".join(lines) + "\n").encode()
    if kind == "nest":
        return data + b"\ndeep: " + b"[" * 5000 + b"]" * 5000 + b"\n"
    if kind == "tab":
        return data[:cut] + b"\t" + data[cut:]
    return data[:cut]


def prepare_repo(example: str, dest: Path) -> tuple[Path, list[Path]]:
    """A copy of an example (with its committed render) and its model config files."""
    root = dest / example
    if not root.exists():
        shutil.copytree(EXAMPLES / example, root, ignore=shutil.ignore_patterns(".smpipe", "__pycache__"))
    files = sorted(root.glob("**/conf/*.yaml"))
    for file in files:  # undo the previous case's damage
        shutil.copyfile(EXAMPLES / example / file.relative_to(root), file)
    shutil.rmtree(root / "environments", ignore_errors=True)
    (root / "env.env").unlink(missing_ok=True)
    shutil.copyfile(EXAMPLES / example / "env.env", root / "env.env")
    return root, files


def write_mutation(files: list[Path], chooser: Chooser) -> str:
    """Damage one config file of the repository; return what was done, for failure reports."""
    kind = chooser.choice(("tree", "tree", "tree", "bytes", "env"))
    if kind == "env":
        return write_env_mutation(next(p for p in files[0].parents if (p / "env.env").is_file()), chooser)
    file = files[chooser.index(len(files))]
    text = file.read_text(encoding="utf-8")
    if kind == "bytes":
        file.write_bytes(raw_bytes_variant(text, chooser))
        return f"bytes:{file.name}"
    data = mutate(yaml.safe_load(text), chooser, rounds=chooser.choice((1, 1, 2, 3)))
    file.write_text(_dump(data), encoding="utf-8")
    return f"tree:{file.name}"


# -- environment files ---------------------------------------------------------------------------
ENVIRONMENT_NAMES = ("..", ".", ".hidden", "a b", "x" * 70, "-dash", "dev", "prod", "é", "dev.old", "")
ENV_VALUES = (
    '"' + "x" * 600_000 + '"', '"' + "x" * 1_100_000 + '"', '"unclosed', "'unclosed", "trailing\\",
    '"\x1b[1A\x1b[2Kok"', '"a\x07b"', '"\u2028"', '"a\x85b"', "$(touch pwned)", "`touch pwned`",
    '"xxxxxxxxxxxx"', "\u201dxxxxxxxxxxxx\u201d", "''", '""', "a b c # comment", "'single' \"double\"",
    '"$HOME"', "SMP_ROLE", "subnet-xxxxxxxx", "arn:aws:iam::999999999999:role/Other", "us-east1",
)
ENV_KEYS = ("SMP_ACCOUNTID", "SMP_REGION", "SMP_S3BUCKETNAME", "SMP_ROLE", "SMP_MODEL_CONFIGPATH", "SMP_SUBNETS",
            "SMP_KMSKEY", "SMP_FRAMEWORK_CONFPATH", "SMP_EXTRA", "NOT_SMP", "1BAD")


def write_env_mutation(root: Path, chooser: Chooser) -> str:
    """Damage the repository's environment files the way a hostile pull request would: hostile
    or huge values, bad bytes, environments with names that are no directory name, links that
    lead out of the repository."""
    env = root / "env.env"
    text = env.read_text(encoding="utf-8")
    kind = chooser.choice(("value", "value", "bytes", "environment", "link", "drop"))
    if kind == "value":
        line = f"export {chooser.choice(ENV_KEYS)}={chooser.choice(ENV_VALUES)}\n"
        lines = text.splitlines(keepends=True)
        lines.insert(chooser.index(len(lines) + 1), line)
        env.write_text("".join(lines), encoding="utf-8")
    elif kind == "bytes":
        env.write_bytes(raw_bytes_variant(text, chooser))
    elif kind == "environment":
        for _ in range(chooser.choice((1, 1, 2))):
            name = chooser.choice(ENVIRONMENT_NAMES)
            (root / "environments").mkdir(exist_ok=True)
            content = "".join(line + "\n" for line in text.splitlines() if "MODEL_CONFIGPATH" not in line)
            (root / "environments" / f"{name}.env").write_text(content, encoding="utf-8")
        return f"env:environment:{name[:20]}"
    elif kind == "link":
        outside = root.parent / "outside-credentials"
        outside.write_text('export SMP_ROLE="arn:aws:iam::123456789012:role/Stolen"\n', encoding="utf-8")
        target = chooser.choice((outside, root / "conf", Path("/dev/zero"), root / "missing.env"))
        if chooser.choice(("env.env", "environment")) == "env.env":
            env.unlink()
            env.symlink_to(target)
        else:
            (root / "environments").mkdir(exist_ok=True)
            (root / "environments" / "dev.env").symlink_to(target)
        return f"env:link:{target.name}"
    else:
        lines = text.splitlines(keepends=True)
        del lines[chooser.index(len(lines))]
        env.write_text("".join(lines), encoding="utf-8")
    return f"env:{kind}"


def _dump(data: Any) -> str:
    """YAML text of a mutated tree. Repeated "deep" edits can nest past PyYAML's recursion
    (several frames a level): the harness, not the tool under test, needs the head room."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=False)
    finally:
        sys.setrecursionlimit(limit)


def run_in_process(args: list[str]) -> tuple[int | str, str]:
    """Call the CLI's main() as the console script would (in this process's environment); return
    (exit code, stderr), or ("traceback:<Type>", stderr) when it raised."""
    done = smpipe_in_process(*args, env=dict(os.environ))
    if done.exception is not None:
        exc = done.exception
        return f"traceback:{type(exc).__name__}", f"{type(exc).__name__}: {str(exc)[:300]}"
    return done.returncode, done.stderr


def snapshot(directory: Path) -> dict[str, bytes]:
    if not directory.is_dir():
        return {}
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def listing(*directories: Path) -> list[list[str]]:
    """The names in each directory: a render writes only under its output directory."""
    return [sorted(os.listdir(directory)) for directory in directories]


def classify(command: str, root: Path, run: Callable[[list[str]], tuple[int | str, str]] = run_in_process) -> Outcome:
    out = root / "pipeline"
    before, names = snapshot(out), listing(root, root.parent)
    code, stderr = run([command, "-C", str(root)])
    if isinstance(code, str):
        return Outcome(f"failure:{code}", stderr[-300:])
    if code not in (0, 1):
        return Outcome(f"failure:exit-{code}", stderr[-300:])
    if listing(root, root.parent) != names:
        return Outcome("failure:wrote-outside-output", command)
    if code == 0:
        return Outcome("ok")
    lines = [line for line in stderr.splitlines() if line.strip()]
    unlocated = [line for line in lines if not LOCATED.match(line)]
    if not lines or unlocated:
        return Outcome("failure:unlocated-message", (unlocated or ["<no message>"])[0][:300])
    if any(len(line) > 2000 for line in lines):
        return Outcome("failure:long-message", lines[0][:300])
    if snapshot(out) != before:
        return Outcome("failure:partial-write", command)
    return Outcome("refused")


# -- foreign definitions (run --local --definition) -----------------------------------------------
FOREIGN_BUCKET = "fuzz-bucket"
DEFINITION_STRINGS = HOSTILE_STRINGS + (
    "/opt/ml/processing/../../..", "/opt/ml", "/opt/ml/processing/input/../out/./", "/opt/ml/../ml/x", "opt/ml/x",
    "s3://../x", "s3://./x", f"s3://{FOREIGN_BUCKET}/../../x", f"s3://{FOREIGN_BUCKET}/" + "k" * 300,
    f"s3://{FOREIGN_BUCKET}/a//b/./c", "s3://Legacy_Bucket/x", f"s3://{FOREIGN_BUCKET}/raw",
    "a b", "a_b", "x" * 5000, "..", ".", "a/b", "Prepare", "Check", "Use", "Stop", "Fit",
    "Steps.Prepare.ProcessingOutputConfig.Outputs[9].S3Output.S3Uri", "Steps.Nope.Properties",
    "Execution.PipelineExecutionId", "Parameters.Threshold", "Parameters.Missing", "P1D", "PT0S", "Enabled",
)


def _processing(name: str, command: str, inputs: dict[str, Any], outputs: dict[str, str], **extra: Any) -> dict:
    """A processing step of the shape the SDK writes; outputs under the execution's own prefix."""
    arguments = {
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": "img", "ContainerEntrypoint": ["sh", "-c", command]},
        "RoleArn": "arn:aws:iam::123456789012:role/Fuzz",
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}, **extra,
        "ProcessingInputs": [{"InputName": key, "AppManaged": False, "S3Input": {
            "S3Uri": uri, "LocalPath": f"/opt/ml/processing/input/{key}", "S3DataType": "S3Prefix", "S3InputMode": "File"}}
            for key, uri in inputs.items()],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": key, "AppManaged": False, "S3Output": {
            "S3Uri": {"Std:Join": {"On": "/", "Values": [f"s3://{FOREIGN_BUCKET}/out", {"Get": "Execution.PipelineExecutionId"},
                                                          name, key]}},
            "LocalPath": local, "S3UploadMode": "EndOfJob"}} for key, local in outputs.items()]},
    }
    return {"Name": name, "Type": "Processing", "Arguments": arguments, "CacheConfig": {"Enabled": True, "ExpireAfter": "P1D"}}


def foreign_definition() -> dict:
    """A small pipeline of the shape an SDK program builds, whose jobs run in milliseconds:
    processing with a property file, a condition on it, processing reading a step's output,
    training from a code bundle served by --code, a fail step."""
    prepare = _processing(
        "Prepare", "cp -r /opt/ml/processing/input/raw/. /opt/ml/processing/output/data/ && "
                   "echo '{\"score\": 1.0}' > /opt/ml/processing/output/report/report.json",
        {"raw": f"s3://{FOREIGN_BUCKET}/raw"},
        {"data": "/opt/ml/processing/output/data", "report": "/opt/ml/processing/output/report"})
    prepare["PropertyFiles"] = [{"PropertyFileName": "Report", "OutputName": "report", "FilePath": "report.json"}]
    use = _processing("Use", "ls -R /opt/ml/processing/input > /opt/ml/processing/output/listing/listing.txt",
                      {"data": {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['data'].S3Output.S3Uri"}},
                      {"listing": "/opt/ml/processing/output/listing"})
    fit = {"Name": "Fit", "Type": "Training", "Arguments": {
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": f"s3://{FOREIGN_BUCKET}/models"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "ResourceConfig": {"VolumeSizeInGB": 30, "InstanceCount": 1, "InstanceType": "ml.m5.large"},
        "RoleArn": "arn:aws:iam::123456789012:role/Fuzz",
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['data'].S3Output.S3Uri"},
            "S3DataDistributionType": "FullyReplicated"}}}],
        "HyperParameters": {"sagemaker_program": '"train.py"',
                            "sagemaker_submit_directory": f'"s3://{FOREIGN_BUCKET}/code/sourcedir.tar.gz"', "depth": "3"}}}
    stop = {"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": {"Std:Join": {
        "On": " ", "Values": ["score above", {"Get": "Parameters.Threshold"}]}}}}
    check = {"Name": "Check", "Type": "Condition", "Arguments": {
        "Conditions": [{"Type": "LessThanOrEqualTo", "LeftValue": {"Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Prepare.PropertyFiles.Report"}, "Path": "score"}},
            "RightValue": {"Get": "Parameters.Threshold"}}],
        "IfSteps": [use, fit], "ElseSteps": [stop]}}
    return {"Version": "2020-12-01", "Parameters": [{"Name": "Threshold", "Type": "Float", "DefaultValue": 2.0}],
            "Steps": [prepare, check]}


def prepare_foreign(folder: Path) -> Path:
    """The folder a foreign definition runs in: its code objects (--code), its input data (--data)
    and a victim directory beside it that no definition may move, read into the store or change."""
    code = folder / "code" / "sourcedir.tar.gz"
    if not code.exists():
        import io
        import tarfile

        code.parent.mkdir(parents=True)
        script = b"import os\nopen(os.path.join(os.environ['SM_MODEL_DIR'], 'model.txt'), 'w').write('m')\n"
        with tarfile.open(code, "w:gz") as tar:
            info = tarfile.TarInfo("train.py")
            info.size = len(script)
            tar.addfile(info, io.BytesIO(script))
        (folder / "data").mkdir()
        (folder / "data" / "raw.csv").write_text("1,2\n3,4\n")
        (folder.parent / "victim" / "data").mkdir(parents=True)
        (folder.parent / "victim" / "data" / "secret.txt").write_text("secret")
    return folder.parent / "victim"


def write_foreign_mutation(folder: Path, chooser: Chooser) -> str:
    """A damaged or hostile foreign definition in ``folder/definition.json``; returns what was done."""
    definition = foreign_definition()
    victim = folder.parent / "victim"
    kind = chooser.choice(("tree", "tree", "attack", "attack", "text", "intact"))
    what = kind
    if kind == "tree":
        definition = mutate(definition, chooser, rounds=chooser.choice((1, 1, 2, 3)), strings=DEFINITION_STRINGS)
    elif kind == "attack":
        what = _attack(definition, chooser, victim)
    text = json.dumps(definition) if kind != "text" else _damaged_text(json.dumps(definition), chooser)
    (folder / "definition.json").write_text(text, encoding="utf-8", errors="surrogateescape")
    return f"{what}"


def _attack(definition: dict, chooser: Chooser, victim: Path) -> str:
    """One reproduced attack on the runner, aimed at ``victim``."""
    prepare, check = definition["Steps"]
    outputs = prepare["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    attack = chooser.choice(("local-path", "bucket", "code-key", "link", "names", "runtime", "bare", "deep-ref"))
    if attack == "local-path":
        item = chooser.choice((outputs[0]["S3Output"], prepare["Arguments"]["ProcessingInputs"][0]["S3Input"]))
        item["LocalPath"] = "/opt/ml/processing/" + "../" * 30 + str(victim).lstrip("/")
    elif attack == "bucket":
        outputs[0]["S3Output"]["S3Uri"] = chooser.choice(("s3://../x", "s3://./runs", f"s3://{FOREIGN_BUCKET}/a/../../../cache"))
    elif attack == "code-key":
        fit = check["Arguments"]["IfSteps"][1]
        fit["Arguments"]["HyperParameters"]["sagemaker_submit_directory"] = f'"s3://{FOREIGN_BUCKET}/../../code/sourcedir.tar.gz"'
    elif attack == "link":
        target = chooser.choice((victim, victim / "data" / "secret.txt"))
        prepare["Arguments"]["AppSpecification"]["ContainerEntrypoint"] = ["sh", "-c", chooser.choice((
            f"ln -s {target} /opt/ml/processing/output/data/leak",
            f"rmdir /opt/ml/processing/output/data && ln -s {target} /opt/ml/processing/output/data"))]
    elif attack == "names":
        use, fit = check["Arguments"]["IfSteps"]
        use["Name"], fit["Name"] = chooser.choice((("a b", "a_b"), ("x" * 5000, "x" * 4999 + "y"), ("..", "."), ("a/b", "a%2Fb")))
    elif attack == "runtime":
        prepare["Arguments"]["StoppingCondition"]["MaxRuntimeInSeconds"] = chooser.choice((1, 0, -5, "1", None))
        prepare["Arguments"]["AppSpecification"]["ContainerEntrypoint"] = ["sh", "-c", "sleep 3"]
    elif attack == "bare":
        del prepare["Arguments"][chooser.choice(("ProcessingInputs", "ProcessingOutputConfig"))]
    else:
        check["Arguments"]["Conditions"][0]["LeftValue"] = {"Get": chooser.choice(DEFINITION_STRINGS[-12:])}
    return f"attack:{attack}"


def _damaged_text(text: str, chooser: Chooser) -> str:
    cut = chooser.index(len(text) + 1)
    kind = chooser.choice(("truncate", "deep", "nul", "surrogate", "huge"))
    if kind == "truncate":
        return text[:cut]
    if kind == "deep":
        return text[:-1] + ', "Deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
    if kind == "nul":
        return text[:cut] + "\x00" + text[cut:]
    if kind == "surrogate":
        return text[:cut] + "\udcff" + text[cut:]  # written as the byte 0xff: not UTF-8
    return text[:-1] + ', "Huge": "' + "x" * 5_000_000 + '"}'


# An error line of a local run names the step, an option, or the file it is about.
LOCATED_RUN = re.compile(r"^error: (step |--definition |--code|--data |--param|--from-step|/|\S+\.json\b)"
                         r"|^warning: (/|\S+\.json\b)")
RUN_ARGS = ["run", "--local", "--definition", "definition.json", "--code", "code", "--data",
            f"s3://{FOREIGN_BUCKET}/raw=./data"]


def classify_foreign(folder: Path) -> Outcome:
    """Run ``folder/definition.json``. A failure: a traceback, an exit code other than 0/1, an
    error line naming no step, option or file, a step ended by the runner's "internal error"
    (an exception it caught, with its traceback in the step log), or any change to the victim
    directory or beside the folder."""
    victim = folder.parent / "victim"
    before, names = snapshot(victim), listing(folder.parent)
    done = smpipe_in_process(*RUN_ARGS, cwd=folder, env=dict(os.environ))
    if done.exception is not None:
        return Outcome(f"failure:traceback:{type(done.exception).__name__}", str(done.exception)[:300])
    if done.returncode not in (0, 1):
        return Outcome(f"failure:exit-{done.returncode}", done.stderr[-300:])
    if snapshot(victim) != before or listing(folder.parent) != names:
        return Outcome("failure:wrote-outside", done.stderr[-300:])
    lines = [line for line in done.stderr.splitlines() if line.startswith(("error:", "warning:"))]
    unlocated = [line for line in lines if not LOCATED_RUN.match(line)]
    if unlocated:
        return Outcome("failure:unlocated-message", unlocated[0][:300])
    internal = [line for line in (done.stdout + done.stderr).splitlines() if "internal error:" in line]
    if internal:  # one located line, but the runner's own traceback in the step log
        return Outcome("failure:internal-error", internal[0][:300])
    return Outcome("ok" if done.returncode == 0 else "refused")
