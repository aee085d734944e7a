"""Render time for 1, 10 and 50 modeling units, and the SageMaker SDK's import time.

Each modeling unit is preprocess -> train -> evaluate -> register (4 steps, its own scripts).
Run: python benchmarks/render.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

UNITS = (1, 10, 50)


def make_repo(root: Path, units: int) -> Path:
    root.mkdir(parents=True)
    (root / "env.env").write_text(textwrap.dedent("""\
        export SMP_ACCOUNTID="123456789012"
        export SMP_REGION="us-east-1"
        export SMP_S3BUCKETNAME="bench-bucket"
        export SMP_ROLE="arn:aws:iam::123456789012:role/Bench"
        export SMP_MODEL_CONFIGPATH="*/conf/conf.yaml"
        """))
    for index in range(units):
        name = f"unit{index:02d}"
        scripts = root / name / "scripts"
        scripts.mkdir(parents=True)
        for script in ("preprocess.py", "train.py", "evaluate.py", "inference.py"):
            (scripts / script).write_text(f"print('{name} {script}')\n")
        anchor = ""
        if index == units - 1:
            models = "\n".join(
                f"""      unit{i:02d}:
        steps:
          - {{step_name: unit{i:02d}-Pre, step_class: Processing, step_type: preprocess, enable_cache: true}}
          - {{step_name: unit{i:02d}-Train, step_class: Training, chain_input_source_step: [unit{i:02d}-Pre]}}
          - {{step_name: unit{i:02d}-Eval, step_class: Metrics, chain_input_source_step: [unit{i:02d}-Pre]}}
          - {{step_name: unit{i:02d}-Register, step_class: RegisterModel}}""" for i in range(units))
            anchor = f"  sagemakerPipeline:\n    pipelineName: bench-{units}\n    models:\n{models}\n"
        (root / name / "conf").mkdir()
        (root / name / "conf" / "conf.yaml").write_text(f"""conf:
  models:
    {name}:
      source_directory: {name}/scripts
      preprocess: {{image_uri: img, entry_point: preprocess.py, outputs: [train, test]}}
      train: {{image_uri: img, entry_point: train.py, hyperparameters: {{depth: 3}}}}
      evaluate: {{image_uri: img, entry_point: evaluate.py}}
      registry: {{ModelPackageGroupName: {name}}}
{anchor}""")
    return root


def sdk_import_seconds() -> float:
    code = "import time,os;os.environ['SAGEMAKER_SUPPRESS_V2_WARNING']='1';t=time.perf_counter();" \
           "import sagemaker.workflow.pipeline;print(time.perf_counter()-t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from smpipe_gen.render.engine import render_project

    print(f"SDK import (fresh process): {sdk_import_seconds():.2f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        render_project(make_repo(Path(tmp, "warmup"), 1))  # imports the SDK once
        print(f"{'units':>5} {'steps':>5} {'render s':>9} {'s/unit':>7} {'definition KiB':>15}")
        for units in UNITS:
            repo = make_repo(Path(tmp, f"u{units}"), units)
            start = time.perf_counter()
            rendered = render_project(repo)
            seconds = time.perf_counter() - start
            size = len(rendered.definition_json.encode()) / 1024
            print(f"{units:>5} {units * 4:>5} {seconds:>9.2f} {seconds / units:>7.3f} {size:>15.1f}")


if __name__ == "__main__":
    main()
