"""Per-step cost and start-up of ``smpipe-gen run --local``, side by side with the floor (one bare
``python -c pass`` per step) and, when installed, Kubeflow's ``kfp.local`` SubprocessRunner and
Metaflow's local runs on the same trivial chains; plus the start-up of each command
(benchmarks/startup.py) and, on request, cold and cached wall times of bundled examples.

    python benchmarks/local_run.py [--repeat 3] [--example abalone] [--peer-python PATH] [--readme]

One run prints everything issue 14 asks to see side by side: per-step cost against the floor and
the peers, a cached 12-step run, each command's start-up, check on an unchanged repository
against a render (benchmarks/startup.py) and, with --readme, the README's first command from a
fresh clone with an empty uv cache against the same job set up with pip as before uv
(benchmarks/readme_command.py; needs the package index).

Marginal cost per step = (wall of a 12-step chain - wall of a 6-step chain) / 6, from interleaved
runs (fresh project, nothing cached), so fixed start-up cancels out. kfp and metaflow are optional
(pip install 'smpipe-gen[bench]', or an interpreter of their own given as --peer-python, since they
pin packages the SDK also uses); when one cannot run, the table says why instead of giving a number.
The chains are written as definitions in the shape the SDK renders for ScriptProcessor steps.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from readme_command import readme_rows  # noqa: E402
from startup import command_startups, print_rows  # noqa: E402

# A diamond with two leaves (a -> b, c -> d -> e, f): tests/test_local_sandbox.py runs it.
DAG = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["d"], "f": ["d"]}


def chain(n: int) -> dict[str, list[str]]:
    """n steps, each reading the one before."""
    names = [f"s{i:02d}" for i in range(1, n + 1)]
    return {name: names[i - 1:i] for i, name in enumerate(names)}
STEP_SCRIPT = """\
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--name"); parser.add_argument("--inputs"); parser.add_argument("--output")
args = parser.parse_args()
total = 1
if os.path.isdir(args.inputs):
    for dep in sorted(os.listdir(args.inputs)):
        if dep not in ("code", "entrypoint"):
            total += int(open(os.path.join(args.inputs, dep, "value.txt")).read())
os.makedirs(args.output, exist_ok=True)
open(os.path.join(args.output, "value.txt"), "w").write(str(total))
print(args.name, total)
"""


# What the SDK's FrameworkProcessor uploads as its entrypoint (runproc.sh), trimmed to the lines
# that run here: unpack the code bundle in the code input, then run the script.
BOOTSTRAP = """#!/bin/bash

cd /opt/ml/processing/input/code/
tar -xzf sourcedir.tar.gz

set -e

python step.py "$@"
"""


def trivial_project(root: Path, dag: dict[str, list[str]] = DAG, framework: bool = False) -> Path:
    """A model repository whose rendered definition is ``dag`` of trivial steps: each runs
    ``python3 step.py`` (ScriptProcessor shape) or, with ``framework``, the SDK's bootstrap over
    a sourcedir bundle (FrameworkProcessor shape: bash, unpack, python)."""
    (root / "pipeline").mkdir(parents=True)
    (root / "step.py").write_text(STEP_SCRIPT)
    sha = hashlib.sha256(STEP_SCRIPT.encode()).hexdigest()
    code_uri = f"s3://bench-bucket/bench/code/{sha}/step.py"
    code = [{"s3_uri": code_uri, "kind": "file", "sha256": sha,
             "files": [{"path": "step.py", "arcname": "step.py", "sha256": sha}]}]
    entrypoint = ["python3", "/opt/ml/processing/input/code/step.py"]
    if framework:
        bundle = hashlib.sha256(f"step.py\0{sha}\n".encode()).hexdigest()
        code_uri = f"s3://bench-bucket/bench/code/{bundle}/sourcedir.tar.gz"
        boot_sha = hashlib.sha256(BOOTSTRAP.encode()).hexdigest()
        boot_uri = f"s3://bench-bucket/bench/code/{boot_sha}/runproc.sh"
        code = [{"s3_uri": code_uri, "kind": "sourcedir", "sha256": bundle,
                 "files": [{"path": "step.py", "arcname": "step.py", "sha256": sha}]},
                {"s3_uri": boot_uri, "kind": "inline", "sha256": boot_sha, "content": BOOTSTRAP}]
        entrypoint = ["/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"]
    steps = []
    for name, deps in dag.items():
        def s3_input(input_name, local, uri):
            return {"AppManaged": False, "InputName": input_name, "S3Input": {
                "LocalPath": local, "S3CompressionType": "None", "S3DataDistributionType": "FullyReplicated",
                "S3DataType": "S3Prefix", "S3InputMode": "File", "S3Uri": uri}}
        inputs = [s3_input(dep, f"/opt/ml/processing/input/{dep}",
                           {"Get": f"Steps.{dep}.ProcessingOutputConfig.Outputs['out'].S3Output.S3Uri"}) for dep in deps]
        inputs.append(s3_input("code", "/opt/ml/processing/input/code", code_uri))
        if framework:
            inputs.append(s3_input("entrypoint", "/opt/ml/processing/input/entrypoint", code[1]["s3_uri"]))
        steps.append({"Name": name, "Type": "Processing", "CacheConfig": {"Enabled": True, "ExpireAfter": "P30D"},
                      "Arguments": {
                          "AppSpecification": {"ImageUri": "bench:latest", "ContainerEntrypoint": entrypoint,
                              "ContainerArguments": ["--name", name, "--inputs", "/opt/ml/processing/input",
                                                     "--output", "/opt/ml/processing/output"]},
                          "ProcessingInputs": inputs,
                          "ProcessingOutputConfig": {"Outputs": [{"AppManaged": False, "OutputName": "out", "S3Output": {
                              "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob",
                              "S3Uri": {"Std:Join": {"On": "/", "Values": [
                                  "s3:/", "bench-bucket", "bench", {"Get": "Execution.PipelineExecutionId"}, name, "out"]}}}}]},
                          "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                                    "VolumeSizeInGB": 30}},
                          "RoleArn": "arn:aws:iam::123456789012:role/bench"}})
    definition = {"Version": "2020-12-01", "Metadata": {}, "Parameters": [], "Steps": steps}
    manifest = {"format": 1, "generator": "benchmark", "config_files": [],
                "pipeline": {"name": "bench", "role_arn": "arn:aws:iam::123456789012:role/bench",
                             "region": "us-east-1", "bucket": "bench-bucket"},
                "artifacts": code,
                "local_data": {}}
    (root / "pipeline" / "definition.json").write_text(json.dumps(definition, indent=2))
    (root / "pipeline" / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


def smpipe(project: Path, *args: str) -> tuple[float, dict]:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "smpipe_gen", "run", "--local", "-C", str(project), *args],
                   check=True, capture_output=True)
    wall = time.perf_counter() - started
    root = project / ".smpipe"
    execution = json.loads((root / "last-run.json").read_text())["execution_id"]
    return wall, json.loads((root / "runs" / execution / "run.json").read_text())


def kfp_chain(n: int, root: Path) -> str:
    """The chain as a kfp pipeline run by kfp.local's SubprocessRunner."""
    calls = "\n".join(f"    t = step(name='s{i:02d}', previous={'t.output' if i > 1 else repr('')})" for i in range(1, n + 1))
    return f"""
from kfp import dsl, local
local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root={str(root)!r})

@dsl.component
def step(name: str, previous: str) -> str:
    total = 1 + (int(previous) if previous else 0)
    print(name, total)
    return str(total)

@dsl.pipeline
def dag():
{calls}

dag()
"""


def metaflow_chain(n: int) -> str:
    """The chain as a Metaflow flow (plus its mandatory start and end steps)."""
    names = [f"s{i:02d}" for i in range(1, n + 1)] + ["end"]
    steps = "".join(f"""
    @step
    def {name}(self):
        self.value += 1
        self.next(self.{following})
""" for name, following in zip(names, names[1:]))
    return f"""
from metaflow import FlowSpec, step

class Chain(FlowSpec):
    @step
    def start(self):
        self.value = 0
        self.next(self.s01)
{steps}
    @step
    def end(self):
        pass

if __name__ == "__main__":
    Chain()
"""


def peer(kind: str, n: int, work: Path, python: str = sys.executable) -> tuple[float | None, str]:
    """Wall time of an n-step chain under a peer run by ``python``, or why it could not run."""
    work.mkdir(parents=True, exist_ok=True)
    module = "kfp" if kind == "kfp" else "metaflow"
    if subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode != 0:
        return None, f"{module} is not installed for {python} (pip install 'smpipe-gen[bench]')"
    env = {**os.environ, "USERNAME": "bench", "METAFLOW_DEFAULT_DATASTORE": "local",
           "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(work), "METAFLOW_HOME": str(work)}
    script = work / f"{kind}_chain.py"
    if kind == "kfp":
        script.write_text(kfp_chain(n, work / "kfp-root"))
        command = [python, str(script)]
    else:
        script.write_text(metaflow_chain(n))
        command = [python, str(script), "--quiet", "run"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()
        return None, f"failed: {reason[-1][:150] if reason else 'no output'}"
    return wall, ""


def bare_python(n: int) -> float:
    """The floor: n bare interpreter starts in a row."""
    started = time.perf_counter()
    for _ in range(n):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def example_times(name: str) -> list[tuple[str, str]]:
    source = REPO / "examples" / name
    if not (source / "pipeline" / "definition.json").is_file():
        return [(f"examples/{name}", "not rendered in this checkout")]
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / name
        shutil.copytree(source, project, ignore=shutil.ignore_patterns(".smpipe", "__pycache__"))
        try:
            cold, record = smpipe(project)
            cached, cached_record = smpipe(project)
        except subprocess.CalledProcessError as error:
            tail = (error.stderr or b"").decode(errors="replace").strip().splitlines()
            return [(f"examples/{name}", f"run failed: {tail[-1][:150] if tail else ''}")]
        own = sum(s.get("process_seconds") or 0 for s in record["steps"].values())
        n = sum(1 for s in record["steps"].values() if s["status"] == "done")
        hits = sum(1 for s in cached_record["steps"].values() if s["status"] == "cached")
        reran = ", ".join(f"{n} {s['duration_seconds']:.1f}s" for n, s in cached_record["steps"].items()
                          if s["status"] == "done" and (s["duration_seconds"] or 0) >= 0.05)
        return [
            (f"examples/{name}: step processes' own time (a)", f"{own:6.2f} s  ({n} steps executed)"),
            (f"examples/{name}: run --local cold (b)", f"{cold:6.2f} s  ({(cold - own) / max(n, 1) * 1000:.0f} ms/step overhead, parallel)"),
            (f"examples/{name}: cached re-run (c)", f"{cached:6.2f} s  ({hits} cache hits; re-ran without CacheConfig: "
                                                   f"{reran or 'only instant steps'})"),
        ]


SHORT, LONG = 6, 12


def marginal(times: dict[int, list[float]]) -> float:
    """Wall time one more step adds: (median of the long chain - median of the short) / difference."""
    return (statistics.median(times[LONG]) - statistics.median(times[SHORT])) / (LONG - SHORT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median reported)")
    parser.add_argument("--example", action="append", default=[], help="also time run --local on this example")
    parser.add_argument("--peer-python", default=sys.executable, help="interpreter with kfp and metaflow installed")
    parser.add_argument("--readme", action="store_true", help="also time the README's first command in a fresh clone, and as it was before uv")
    args = parser.parse_args()
    runners = {"bare python -c pass per step (the floor)": lambda n, work: (bare_python(n), ""),
               "smpipe-gen run --local": lambda n, work: (smpipe(trivial_project(work, chain(n)))[0], ""),
               "smpipe-gen run --local, FrameworkProcessor steps (bash runproc.sh + code bundle)":
                   lambda n, work: (smpipe(trivial_project(work, chain(n), framework=True))[0], ""),
               "Kubeflow kfp.local SubprocessRunner": lambda n, work: peer("kfp", n, work, args.peer_python),
               "Metaflow local run": lambda n, work: peer("metaflow", n, work, args.peer_python)}
    times: dict[str, dict[int, list[float]]] = {name: {SHORT: [], LONG: []} for name in runners}
    why: dict[str, str] = {}
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):  # interleaved, so a busy moment hits every runner alike
            for name, run in runners.items():
                for n in (SHORT, LONG):
                    if name in why:
                        continue
                    wall, reason = run(n, Path(tmp) / f"{list(runners).index(name)}-{n}-{i}")
                    if wall is None:
                        why[name] = reason
                    else:
                        times[name][n].append(wall)
        floor = marginal(times["bare python -c pass per step (the floor)"])
        for name in runners:
            if name in why:
                rows.append((f"per step: {name}", f"not run: {why[name]}"))
                continue
            cost = marginal(times[name])
            fixed = statistics.median(times[name][SHORT]) - SHORT * cost
            rows.append((f"per step: {name}", f"{cost * 1000:6.0f} ms/step  ({cost / floor:.1f}x the floor; "
                                              f"fixed {fixed:.2f} s; {LONG} steps {statistics.median(times[name][LONG]):.2f} s)"))
        cached_project = trivial_project(Path(tmp) / "cached", chain(LONG))
        smpipe(cached_project)
        cached = [smpipe(cached_project)[0] for _ in range(args.repeat)]
        rows.append((f"smpipe-gen run --local, {LONG}-step chain all cached", f"{statistics.median(cached):6.3f} s  (best {min(cached):.3f} s)"))
        rows += command_startups(args.repeat, cached_project=cached_project)
    for name in args.example:
        rows += example_times(name)
    if args.readme:
        rows += readme_rows(before_uv=True)
    print_rows(rows, f"result  (median of {args.repeat})")


if __name__ == "__main__":
    main()
