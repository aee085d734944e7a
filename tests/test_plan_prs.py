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

from helpers import copy_example, render_each, smpipe, smpipe_in_process

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
    "pipeline_rename": lambda r: _edit(r, CONF, "pipelineName: abalone\n", "pipelineName: abalone-v2\n"),
    "hostile": lambda r: (PULL_REQUESTS["instance"](r), _edit(r, CONF, "objective: reg:squarederror",
                                                              f"objective: {json.dumps(HOSTILE)}")),
    "unshipped": lambda r: (
        (r / "scripts/helper.py").write_text("print('helping')\n"),
        _edit(r, "scripts/preprocess.py", "import argparse", "import subprocess\nimport sys\nimport argparse"),
        _edit(r, "scripts/preprocess.py", "\ndef main", "\nsubprocess.run([sys.executable, 'helper.py'], check=True)\n\ndef main")),
}
# A config value that tries to close the comment's code, hide the rest of the comment, mention
# someone, link an issue and inject an image.
HOSTILE = "x`y\n<!-- hidden\n@octocat <img src=x onerror=alert(1)> #1 [link](https://evil.example) **bold**"



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


def markdown_of(root: Path) -> str:
    from smpipe_gen import plan
    from smpipe_gen.project import Project

    return plan.format_plans([plan.against_ref(Project.at(root))], "markdown")


def github_html(markdown: str) -> str:
    """The comment as GitHub renders it (cmark-gfm, raw HTML let through as GitHub's sanitizer
    would see it), to read what a reviewer sees."""
    import cmarkgfm
    from cmarkgfm.cmark import Options

    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def test_instance_type_comment_opens_with_the_verdict_fits_25_lines_and_draws_no_graph(prs):
    """The instance type is outside the cache key: the comment says Train keeps its cache and
    when the new type takes effect, lists what runs on every execution, and draws nothing."""
    markdown = markdown_of(prs["instance"])
    lines = markdown.splitlines()
    assert len(lines) <= 25, markdown
    assert "mermaid" not in markdown and "downstream" not in markdown
    assert lines[2].startswith("- **Re-runs on SageMaker:** 1 of 4 job steps (`abalone-Transform`)")
    assert lines[3:5] == ["- **Risks:** none", "- **Unshipped files:** none"]
    assert "`abalone-Register` `registers a new model package version in group abalone, approval " \
        "PendingManualApproval`" in lines[5]
    change = next(line for line in lines if "`Arguments.ResourceConfig.InstanceType`" in line)
    assert "takes effect only when abalone-Train runs again: its cache key is unchanged" in change
    result = machine_plan(prs["instance"])
    assert (result["topology_changed"], result["graph"]) == (False, "")
    assert result["pipeline"] == {"name": "abalone", "action": "update", "replaces": None}
    assert [(e["display_name"], e["type"]) for e in result["effects"]] == [
        ("abalone-CreateModel", "CreateModel"), ("abalone-Register", "RegisterModel")]
    text = smpipe("plan", "-C", str(prs["instance"])).stdout
    assert "Runs on every execution:\n  abalone-CreateModel creates a new SageMaker model\n  abalone-Register registers " \
        "a new model package version in group abalone" in text


def test_renamed_pipeline_is_a_replacement_with_its_risk_and_no_cache(prs):
    result = machine_plan(prs["pipeline_rename"])
    assert result["pipeline"] == {"name": "abalone-v2", "action": "replace", "replaces": "abalone"}
    risk = result["risks"][0]
    assert (risk["kind"], risk["steps"]) == ("replacement", ["pipeline"])
    assert risk["message"] == ("pipeline abalone is replaced by abalone-v2, a new pipeline: no cache (every step runs) "
                               "and no executions; abalone's executions stay under its name, and abalone is not deleted")
    assert {(outcome, tuple(why)) for outcome, why in outcomes(result).values()} == {("miss", ("new pipeline",))}
    assert result["cache_summary"]["hits"] == [] and result["cache_summary"]["max_instance_hours"] is not None


def test_text_from_the_pr_cannot_hide_the_comment_mention_or_inject_html(prs):
    """A hyperparameter holding a backtick, a line break and ``<!--``, a mention, an issue
    reference, an image tag and a link, in the same PR as an instance type change: GitHub's
    parser shows all of it as text inside code, and the rest of the comment after it."""
    import re

    html = github_html(markdown_of(prs["hostile"]))
    assert "<!--" not in html.replace("&lt;!--", "") and "<img" not in html and "<a " not in html and "<strong>bold" not in html
    assert "ml.m5.2xlarge" in html and "<table>" in html  # the instance type change and the cache table are there
    outside_code = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    assert not re.search(r"@octocat|#1\b|evil\.example", outside_code)  # what GitHub would link sits only in code
    assert "@octocat &lt;img src=x onerror=alert(1)&gt; #1 [link](https://evil.example)" in html


def test_a_file_no_step_ships_is_reported_by_validate_and_plan(prs):
    root = prs["unshipped"]
    (item,) = machine_plan(root)["unshipped"]
    assert (item["file"], item["how"], item["targets"], item["steps"]) == (
        "scripts/preprocess.py", "starts it with subprocess", ["scripts/helper.py"], ["abalone-Preprocess"])
    assert "- **Unshipped files:** `scripts/helper.py (scripts/preprocess.py:" in markdown_of(root)
    done = smpipe_in_process("validate", "-C", str(root))
    assert done.returncode == 0, done.stderr
    (warning,) = done.stderr.splitlines()
    assert warning.startswith(f"warning: scripts/preprocess.py:{item['line']}: scripts/helper.py: this line starts it "
                              "with subprocess, but the code bundle of abalone-Preprocess leaves it out")
    assert "code_scope: source_directory" in warning
