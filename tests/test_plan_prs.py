"""The plan of ten realistic pull requests on the abalone example, on real renders.

Each PR edits a copy of examples/abalone on a branch of a real git repository (its config, a
script or env.env); one child process renders every copy with the real SageMaker SDK; the plan
compares each render with main's. The tests assert the machine plan: statuses, attributes of an
added step, risks once with their steps, and the predicted cache outcome of each step with its
reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest

from helpers import copy_example, render_each, smpipe

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group('plan-prs')]  # ten SDK renders in one process: about a minute on a busy machine
# (the group keeps the module in one xdist worker, so its module fixture renders once per run)

CONF = "conf/conf.yaml"
NEW_ROLE = "arn:aws:iam::123456789012:role/AdminEverywhere"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PROFILE_STEP = """\
          - step_name: abalone-Profile
            step_class: Processing
            step_type: preprocess
            enable_cache: true
"""


def _edit(root: Path, path: str, old: str, new: str, count: int = 1) -> None:
    file = root / path
    text = file.read_text()
    assert text.count(old) >= count, f"{old!r} not in {path}"
    file.write_text(text.replace(old, new) if count < 0 or count > 1 else text.replace(old, new, 1))


def _between(root: Path, path: str, start: str, end: str | None) -> None:
    """Remove the text from ``start`` up to (not including) ``end`` (None: the end of the file)."""
    file = root / path
    text = file.read_text()
    file.write_text(text[:text.index(start)] + (text[text.index(end):] if end else ""))


def _remove_gate(root: Path) -> None:
    """Drop the MSE gate and its Fail step: the guarded steps become top-level steps."""
    _between(root, CONF, "          - step_name: abalone-CheckMse", "          - step_name: abalone-CreateModel")
    _between(root, CONF, "          - step_name: abalone-MseTooHigh", None)


PULL_REQUESTS = {
    "instance": lambda r: _edit(r, CONF, "entry_point: train.py\n        instance_type: ml.m5.xlarge",
                                "entry_point: train.py\n        instance_type: ml.m5.2xlarge"),
    "new_step": lambda r: _edit(r, CONF, "          - step_name: abalone-Train\n",
                                PROFILE_STEP + "          - step_name: abalone-Train\n"),
    "renamed": lambda r: _edit(r, CONF, "abalone-Preprocess", "abalone-Prepare", count=-1),
    "train_line": lambda r: (r / "scripts/train.py").write_text((r / "scripts/train.py").read_text() + "# tuned\n"),
    "hyperparameter": lambda r: _edit(r, CONF, "num_round: 50", "num_round: 60"),
    "no_gate": _remove_gate,
    "role": lambda r: _edit(r, "env.env", "role/SageMakerPipelineExecution", NEW_ROLE.rsplit(":", 1)[1]),
    "kms": lambda r: (r / "env.env").write_text((r / "env.env").read_text() + f'export SMP_KMSKEY="{KMS_KEY}"\n'),
    "expiry": lambda r: _edit(r, CONF, "step_class: Training\n            enable_cache: true\n",
                              "step_class: Training\n            enable_cache: true\n            cache_expire_after: P1D\n"),
    "parameter": lambda r: _edit(r, CONF, "        default: 6.0\n",
                                 "        default: 6.0\n      - name: MaxDepth\n        type: Integer\n        default: 5\n"),
}



@pytest.fixture(scope="module")
def prs(tmp_path_factory) -> dict[str, Path]:
    """Every PR as a git repository whose main holds the example as committed and whose
    checked-out branch holds the PR, rendered and committed (one SDK process for all)."""
    roots = {}
    for name, change in PULL_REQUESTS.items():
        root = copy_example("abalone", tmp_path_factory.mktemp(name))
        repo = git.Repo.init(root, initial_branch="main")
        repo.git.add(A=True)
        repo.git.commit("-qm", "abalone as committed", "--no-gpg-sign", author="t <t@example.com>")
        repo.git.checkout("-qb", name)
        change(root)
        roots[name] = root
    render_each(list(roots.values()))
    for name, root in roots.items():
        repo = git.Repo(root)
        repo.git.add(A=True)
        repo.git.commit("-qm", name, "--no-gpg-sign", author="t <t@example.com>")
    return roots


def machine_plan(root: Path) -> dict:
    from smpipe_gen import plan
    from smpipe_gen.project import Project

    return plan.to_json(plan.against_ref(Project.at(root)))


def outcomes(result: dict) -> dict[str, tuple[str, list[str]]]:
    """Job step -> (outcome, reasons)."""
    return {p["display_name"]: (p["outcome"], [c["reason"] for c in p["causes"]]) for p in result["cache"] if p["job"]}


def statuses(result: dict) -> dict[str, str]:
    return {step["display_name"]: step["status"] for step in result["steps"]}


EXPIRY = "may expire by policy"
ALWAYS_NEW_MODEL = ("miss", ["upstream output changed"])  # CreateModel runs every time: a new ModelName


def test_instance_type_alone_keeps_the_cache(prs):
    """SageMaker's cache key leaves out instance types: a bigger training instance re-runs nothing."""
    result = machine_plan(prs["instance"])
    assert result["format_version"] == "2.0"
    (step,) = result["steps"]
    assert (step["display_name"], step["status"], [c["category"] for c in step["changes"]]) == \
        ("abalone-Train", "changed", ["instance type"])
    assert outcomes(result) == {"abalone-Preprocess": ("hit", [EXPIRY]), "abalone-Train": ("hit", [EXPIRY]),
                                "abalone-Evaluate": ("hit", [EXPIRY]), "abalone-Transform": ALWAYS_NEW_MODEL}
    transform = next(p for p in result["cache"] if p["display_name"] == "abalone-Transform")
    assert "abalone-CreateModel runs on every execution: new ModelName" in transform["causes"][0]["detail"]
    assert result["cache_summary"]["rerun"] == ["abalone-Transform"]


def test_hyperparameter_reruns_training_and_what_reads_its_model(prs):
    result = machine_plan(prs["hyperparameter"])
    (step,) = result["steps"]
    assert [(c["path"], c["before"], c["after"]) for c in step["changes"]] == [
        ("Arguments.HyperParameters.num_round", "50", "60")]  # decoded, not "\"50\""
    cache = outcomes(result)
    assert cache["abalone-Preprocess"] == ("hit", [EXPIRY])
    assert cache["abalone-Train"] == ("miss", ["arguments changed"])
    assert cache["abalone-Evaluate"] == ("miss", ["upstream output changed"])
    detail = {p["display_name"]: p["causes"][0]["detail"] for p in result["cache"]}
    assert detail["abalone-Train"] == "hyperparameter num_round: 50 -> 60"
    assert detail["abalone-Evaluate"] == "abalone-Train runs again: new ModelArtifacts.S3ModelArtifacts"
    train = next(p for p in result["cache"] if p["display_name"] == "abalone-Train")
    assert train["cost"] == {"instance_count": 1, "instance_type": "ml.m5.xlarge", "max_runtime_seconds": 3000,
                             "max_instance_hours": 0.83, "unknown": ""}


def test_one_line_of_train_py_reruns_only_what_ships_it_or_reads_its_model(prs):
    """Each step ships only what its entry point reaches (render/bundles.py): editing train.py
    changes the code URI of the training step alone. Preprocess keeps its cache and the plan
    says why; Evaluate misses for the new model it reads, not for code."""
    from smpipe_gen import definition

    root = prs["train_line"]
    repo = git.Repo(root)
    base = definition.from_json(json.loads(repo.git.show("main:pipeline/definition.json")))
    head = definition.load_file(root / "pipeline/definition.json")
    code_changed = {s.display_name for s in head if s.name in base
                    and [c.s3_uri for c in s.code] != [c.s3_uri for c in base[s.name].code]}
    assert code_changed == {"abalone-Train"}
    result = machine_plan(root)
    cache = outcomes(result)
    assert cache["abalone-Preprocess"] == ("hit", [EXPIRY, "unchanged"])
    assert cache["abalone-Train"] == ("miss", ["code changed"])
    assert cache["abalone-Evaluate"] == ("miss", ["upstream output changed"])
    details = {p["display_name"]: [c["detail"] for c in p["causes"]] for p in result["cache"]}
    assert details["abalone-Preprocess"][1] == "scripts/train.py changed, but this step does not ship it"
    assert details["abalone-Train"] == ["changed: scripts/train.py"]
    assert result["cache_summary"]["hits"] == ["abalone-Preprocess"]


def test_added_step_shows_every_attribute_and_misses(prs):
    result = machine_plan(prs["new_step"])
    assert statuses(result) == {"abalone-Profile": "added"}
    (step,) = result["steps"]
    assert step["type"] == "Processing" and step["model"] == "abalone"
    attributes = {a["name"]: a["value"] for a in step["attributes"]}
    assert attributes["image"] == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    assert attributes["instances"] == "1 × ml.m5.xlarge, 32 GB volume"
    assert attributes["max runtime"] == "50 min"
    assert "scripts/preprocess.py" in attributes["code"].split(", ")
    assert attributes["inputs"] == "raw <- s3://smpipe-examples-123456789012/abalone/raw/abalone.csv"
    assert attributes["outputs"].startswith(
        "train -> s3://smpipe-examples-123456789012/abalone/{execution id}/abalone-Profile/output/train")
    assert attributes["role"] == "arn:aws:iam::123456789012:role/SageMakerPipelineExecution"
    assert attributes["cache"] == "on, expires after P10D"
    cache = outcomes(result)
    assert cache["abalone-Profile"] == ("miss", ["new step"])
    assert cache["abalone-Train"] == ("hit", [EXPIRY])


def test_renamed_step_misses_and_so_does_everything_reading_it(prs):
    result = machine_plan(prs["renamed"])
    renamed = [s for s in result["steps"] if s["status"] == "renamed"]
    assert [(s["old_name"], s["name"]) for s in renamed] == [("abalone-Preprocess", "abalone-Prepare")]
    cache = outcomes(result)
    assert cache["abalone-Prepare"] == ("miss", ["renamed"])
    assert cache["abalone-Train"][0] == "miss" and "upstream output changed" in cache["abalone-Train"][1]
    assert result["cache_summary"]["hits"] == []


def test_removed_quality_gate_is_one_risk_per_step_removed(prs):
    result = machine_plan(prs["no_gate"])
    status = statuses(result)
    assert status["abalone-CheckMse"] == "removed" and status["abalone-MseTooHigh"] == "removed"
    removed = next(s for s in result["steps"] if s["display_name"] == "abalone-CheckMse")
    assert {a["name"] for a in removed["attributes"]} >= {"conditions", "branches"}
    gates = [r for r in result["risks"] if r["kind"] == "gate"]
    assert any(r["steps"] == ["abalone-CheckMse"] and "quality gate is gone" in r["message"] for r in gates)
    assert outcomes(result)["abalone-Train"] == ("hit", [EXPIRY])


def test_role_change_is_one_risk_listing_every_step(prs):
    result = machine_plan(prs["role"])
    (risk,) = result["risks"]
    assert risk["kind"] == "role" and NEW_ROLE in risk["message"]
    assert risk["steps"] == ["abalone-Preprocess", "abalone-Train", "abalone-Evaluate", "abalone-CreateModel", "pipeline"]
    assert outcomes(result)["abalone-Train"] == ("hit", [EXPIRY])  # the role is not in the cache key


def test_kms_key_is_one_risk(prs):
    result = machine_plan(prs["kms"])
    kinds = [r["kind"] for r in result["risks"]]
    assert kinds.count("kms") == len({r["message"] for r in result["risks"] if r["kind"] == "kms"})
    assert all(len(r["steps"]) >= 1 for r in result["risks"])
    steps = {s for r in result["risks"] if r["kind"] == "kms" for s in r["steps"]}
    assert {"abalone-Preprocess", "abalone-Train"} <= steps


def test_cache_expiry_change_keeps_the_hit_and_names_the_new_policy(prs):
    result = machine_plan(prs["expiry"])
    (step,) = result["steps"]
    assert [(c["category"], c["before"], c["after"]) for c in step["changes"]] == [("cache", '"P10D"', '"P1D"')]
    train = next(p for p in result["cache"] if p["display_name"] == "abalone-Train")
    assert train["outcome"] == "hit" and train["expire_after"] == "P1D"
    assert train["causes"][0]["detail"] == "a hit only if the last run is younger than P1D (ExpireAfter was P10D)"


def test_new_parameter_changes_no_step(prs):
    result = machine_plan(prs["parameter"])
    assert result["steps"] == []
    assert result["parameters"] == [{"name": "MaxDepth", "status": "added", "before": "<none>",
                                     "after": "Integer, default 5"}]
    assert result["cache_summary"]["rerun"] == ["abalone-Transform"]


def test_text_plan_through_the_cli(prs):
    done = smpipe("plan", "-C", str(prs["hyperparameter"]))
    assert done.returncode == 2, done.stderr
    lines = done.stdout.splitlines()
    assert lines[2].startswith("Cache: 3 of 4 job steps will re-run on SageMaker "
                               "(abalone-Train, abalone-Evaluate, abalone-Transform); at most ")
    assert "  MISS  abalone-Train       arguments changed (hyperparameter num_round: 50 -> 60)" in lines
