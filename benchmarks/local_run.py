"""Per-step overhead of ``smpipe-gen run --local`` against running the scripts directly and
against Kubeflow's ``kfp.local`` SubprocessRunner and Metaflow's local runs, on the same DAG of
trivial steps; plus cold and cached wall times of a bundled example.

    /work/venv/bin/python benchmarks/local_run.py [--example abalone] [--repeat 3]

kfp and metaflow are optional (pip install kfp metaflow); when one cannot run, the table says
why instead of giving a number. The trivial DAG (6 steps: a -> b, c -> d -> e, f) is written
as a definition in the shape the SDK renders for ScriptProcessor steps, all cache-enabled.
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
DAG = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["d"], "f": ["d"]}
STEP_SCRIPT = """\
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--name"); parser.add_argument("--inputs"); parser.add_argument("--output")
args = parser.parse_args()
total = 1
if os.path.isdir(args.inputs):
    for dep in sorted(os.listdir(args.inputs)):
        if dep != "code":
            total += int(open(os.path.join(args.inputs, dep, "value.txt")).read())
os.makedirs(args.output, exist_ok=True)
open(os.path.join(args.output, "value.txt"), "w").write(str(total))
print(args.name, total)
"""


def trivial_project(root: Path) -> Path:
    """A model repository whose rendered definition is the trivial DAG."""
    (root / "pipeline").mkdir(parents=True)
    (root / "step.py").write_text(STEP_SCRIPT)
    sha = hashlib.sha256(STEP_SCRIPT.encode()).hexdigest()
    code_uri = f"s3://bench-bucket/bench/code/{sha}/step.py"
    steps = []
    for name, deps in DAG.items():
        def s3_input(input_name, local, uri):
            return {"AppManaged": False, "InputName": input_name, "S3Input": {
                "LocalPath": local, "S3CompressionType": "None", "S3DataDistributionType": "FullyReplicated",
                "S3DataType": "S3Prefix", "S3InputMode": "File", "S3Uri": uri}}
        inputs = [s3_input(dep, f"/opt/ml/processing/input/{dep}",
                           {"Get": f"Steps.{dep}.ProcessingOutputConfig.Outputs['out'].S3Output.S3Uri"}) for dep in deps]
        inputs.append(s3_input("code", "/opt/ml/processing/input/code", code_uri))
        steps.append({"Name": name, "Type": "Processing", "CacheConfig": {"Enabled": True, "ExpireAfter": "P30D"},
                      "Arguments": {
                          "AppSpecification": {"ImageUri": "bench:latest", "ContainerEntrypoint": [
                              "python3", "/opt/ml/processing/input/code/step.py"],
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
                "artifacts": [{"s3_uri": code_uri, "kind": "file", "sha256": sha,
                               "files": [{"path": "step.py", "arcname": "step.py", "sha256": sha}]}],
                "local_data": {}}
    (root / "pipeline" / "definition.json").write_text(json.dumps(definition, indent=2))
    (root / "pipeline" / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


def direct(root: Path) -> float:
    """Sum of the step scripts' own wall times, each run by hand in dependency order."""
    total = 0.0
    for name, deps in DAG.items():
        inputs = root / "direct" / name / "in"
        inputs.mkdir(parents=True)
        for dep in deps:
            shutil.copytree(root / "direct" / dep / "out", inputs / dep)
        started = time.perf_counter()
        subprocess.run([sys.executable, str(root / "step.py"), "--name", name, "--inputs", str(inputs),
                        "--output", str(root / "direct" / name / "out")], check=True, capture_output=True)
        total += time.perf_counter() - started
    return total


def smpipe(project: Path, *args: str) -> tuple[float, dict]:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "smpipe_gen", "run", "--local", "-C", str(project), *args],
                   check=True, capture_output=True)
    wall = time.perf_counter() - started
    root = project / ".smpipe"
    execution = json.loads((root / "last-run.json").read_text())["execution_id"]
    return wall, json.loads((root / "runs" / execution / "run.json").read_text())


KFP_PIPELINE = """
from kfp import dsl, local
local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root={root!r})

@dsl.component
def step(name: str, left: str, right: str) -> str:
    total = 1 + sum(int(v) for v in (left, right) if v)
    print(name, total)
    return str(total)

@dsl.pipeline
def dag():
    a = step(name="a", left="", right="")
    b = step(name="b", left=a.output, right="")
    c = step(name="c", left=a.output, right="")
    d = step(name="d", left=b.output, right=c.output)
    step(name="e", left=d.output, right="")
    step(name="f", left=d.output, right="")

dag()
"""

METAFLOW_FLOW = """
from metaflow import FlowSpec, step

class Dag(FlowSpec):
    @step
    def start(self):
        self.next(self.a)
    @step
    def a(self):
        self.value = 1
        self.next(self.b, self.c)
    @step
    def b(self):
        self.value += 1
        self.next(self.d)
    @step
    def c(self):
        self.value += 1
        self.next(self.d)
    @step
    def d(self, inputs):
        self.value = 1 + sum(i.value for i in inputs)
        self.next(self.fan)
    @step
    def fan(self):
        self.next(self.e, self.f)
    @step
    def e(self):
        self.next(self.join)
    @step
    def f(self):
        self.next(self.join)
    @step
    def join(self, inputs):
        self.next(self.end)
    @step
    def end(self):
        pass

if __name__ == "__main__":
    Dag()
"""


def peer(kind: str, work: Path) -> tuple[float | None, int, str]:
    """Wall time of the same DAG under a peer, the number of steps it ran, or why it could not run."""
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "USERNAME": "bench", "METAFLOW_DEFAULT_DATASTORE": "local",
           "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(work), "METAFLOW_HOME": str(work)}
    if kind == "kfp":
        script, command, steps = work / "kfp_dag.py", None, 6
        script.write_text(KFP_PIPELINE.format(root=str(work / "kfp-root")))
        command = [sys.executable, str(script)]
    else:
        script, steps = work / "mf_dag.py", 10
        script.write_text(METAFLOW_FLOW)
        command = [sys.executable, str(script), "--quiet", "run"]
    module = "kfp" if kind == "kfp" else "metaflow"
    if subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode != 0:
        return None, steps, f"{module} is not installed (pip install {module})"
    started = time.perf_counter()
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()
        return None, steps, f"failed: {reason[-1][:150] if reason else 'no output'}"
    return wall, steps, ""


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median reported)")
    parser.add_argument("--example", action="append", help="example(s) to time (default: abalone, two-models)")
    args = parser.parse_args()
    steps = len(DAG)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        directs, colds, cacheds, serials, startups = [], [], [], [], []
        for i in range(args.repeat):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "smpipe_gen", "run", "--help"], check=True, capture_output=True)
            startups.append(time.perf_counter() - started)
            project = trivial_project(Path(tmp) / f"dag{i}")
            directs.append(direct(project))
            cold, _ = smpipe(project)
            colds.append(cold)
            cached, record = smpipe(project)
            assert all(s["status"] == "cached" for s in record["steps"].values()), record
            cacheds.append(cached)
            serial, _ = smpipe(project, "--no-cache", "--max-parallel", "1")
            serials.append(serial)
        a, b, c, s1, up = map(statistics.median, (directs, colds, cacheds, serials, startups))
        rows += [
            ("smpipe-gen CLI start-up (fixed, in every figure below)", f"{up:6.2f} s"),
            (f"trivial DAG ({steps} steps): scripts run directly, sum (a)", f"{a:6.2f} s"),
            ("trivial DAG: smpipe-gen run --local cold (b)", f"{b:6.2f} s  ({(b - a) / steps * 1000:.0f} ms/step overhead)"),
            ("trivial DAG: smpipe-gen run --local --max-parallel 1", f"{s1:6.2f} s  ({(s1 - a) / steps * 1000:.0f} ms/step overhead, "
                                                                     f"{(s1 - a - up) / steps * 1000:.0f} ms/step net of start-up)"),
            ("trivial DAG: cached re-run (c)", f"{c:6.2f} s"),
        ]
        for kind, label in (("kfp", "Kubeflow kfp.local SubprocessRunner"), ("metaflow", "Metaflow local run")):
            times, reason, n = [], "", steps
            for i in range(args.repeat):
                wall, n, reason = peer(kind, Path(tmp) / f"{kind}{i}")
                if wall is None:
                    break
                times.append(wall)
            if times:
                wall = statistics.median(times)
                rows.append((f"trivial DAG: {label} (d)", f"{wall:6.2f} s  ({n} steps; ~{(wall - a / steps * n) / n * 1000:.0f} ms/step overhead)"))
            else:
                rows.append((f"trivial DAG: {label} (d)", f"not run: {reason}"))
    for name in args.example or ["abalone", "two-models"]:
        rows += example_times(name)
    width = max(len(label) for label, _ in rows)
    print(f"{'measurement':<{width}}  result  (median of {args.repeat}; {os.cpu_count()} cores)")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
