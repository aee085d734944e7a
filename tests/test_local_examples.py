"""The bundled examples end to end on their small sample data, as users run them."""

import json
import shutil
from pathlib import Path

import pytest

from helpers import render_each
from local_support import last_record, run, statuses

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(tmp_path: Path, name: str) -> Path:
    source = EXAMPLES / name
    if not source.is_dir():
        pytest.skip(f"examples/{name} is not in this checkout")
    target = tmp_path / name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".smpipe", "__pycache__"))
    if not (target / "pipeline" / "definition.json").is_file():
        render_each([target])
    return target


def test_abalone_true_branch_with_loose_threshold_and_fail_step_with_strict(tmp_path):
    repo = example(tmp_path, "abalone")
    run(repo, "--param", "MseThreshold=1000")
    record = last_record(repo)
    assert record["status"] == "Succeeded"
    steps = statuses(record)
    assert [s for s, state in steps.items() if state == "skipped"] == ["abalone-MseTooHigh"]
    transform = next(n for n in steps if n.endswith("Transform"))
    assert steps[transform] == "done"
    assert (repo / ".smpipe" / "registry" / "abalone" / "1" / "package.json").is_file()

    result = run(repo, "--param", "MseThreshold=0.0001", expect=1)
    record = last_record(repo)
    assert record["failed_step"] == "abalone-MseTooHigh"
    assert statuses(record)[transform] == "skipped"
    assert "error: step abalone-MseTooHigh: execution failed:" in result.stderr
    # the cached re-run reuses every cacheable step before the gate
    cached = [s for s, state in statuses(record).items() if state == "cached"]
    assert "abalone-Preprocess" in cached


def test_two_models_register_both_in_order(tmp_path):
    repo = example(tmp_path, "two-models")
    run(repo)
    record = last_record(repo)
    assert record["status"] == "Succeeded"
    registry = repo / ".smpipe" / "registry"
    packages = {p.parent.parent.name: json.loads(p.read_text()) for p in registry.glob("*/*/package.json")}
    assert len(packages) == 2
    registered = sorted(packages.values(), key=lambda p: p["CreationTime"])
    # the definition orders the registrations with DependsOn; the local registry follows it
    steps = {s["Name"]: s for s in json.loads((repo / "pipeline" / "definition.json").read_text())["Steps"]}
    second = next(s for s in steps.values() if s["Type"] == "RegisterModel" and s.get("DependsOn"))
    assert registered[1]["Step"] == second["Name"]
    assert registered[0]["Step"] in second["DependsOn"]
    assert all(p["ModelPackageVersion"] == 1 for p in packages.values())
