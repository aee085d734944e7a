"""The cache rules on the committed abalone definition (built by the real SDK), edited the way
a config cannot yet produce: a fixed output path, a step with caching off, an execution
variable or a parameter in a cache key. Fast: no render, no git."""

from __future__ import annotations

import json
from pathlib import Path

from smpipe_gen import definition
from smpipe_gen.plan import compare, to_json

ABALONE = Path(__file__).resolve().parents[1] / "examples/abalone/pipeline"


def abalone() -> dict:
    return json.loads((ABALONE / "definition.json").read_text())


def step(data: dict, name: str) -> dict:
    return next(s for s in data["Steps"] if s["Name"] == name)


def predictions(before: dict, after: dict) -> dict[str, dict]:
    plan = to_json(compare(definition.from_json(before), definition.from_json(after), base="a", head="b"))
    return {p["step"]: p for p in plan["cache"]}


def reasons(prediction: dict) -> list[str]:
    return [cause["reason"] for cause in prediction["causes"]]


def test_upstream_writing_to_a_fixed_path_lets_readers_hit_with_a_warning():
    before = abalone()
    outputs = step(before, "abalone-Preprocess")["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    for output in outputs:
        output["S3Output"]["S3Uri"] = f"s3://bucket/fixed/{output['OutputName']}"
    after = json.loads(json.dumps(before))
    step(after, "abalone-Preprocess")["Arguments"]["Environment"] = {"SEED": "2"}
    result = predictions(before, after)
    assert (result["abalone-Preprocess"]["outcome"], reasons(result["abalone-Preprocess"])) == \
        ("miss", ["arguments changed"])
    assert result["abalone-Preprocess"]["causes"][0]["detail"] == "Environment.SEED: <none> -> \"2\""
    train = result["abalone-Train"]
    assert train["outcome"] == "hit"
    assert reasons(train) == ["may expire by policy", "upstream re-runs into a fixed path"]
    assert "reuses its cached result even if that data changed" in train["causes"][1]["detail"]


def test_cache_off_runs_every_time_and_its_readers_miss():
    before = abalone()
    after = json.loads(json.dumps(before))
    del step(after, "abalone-Train")["CacheConfig"]
    result = predictions(before, after)
    assert (result["abalone-Train"]["outcome"], reasons(result["abalone-Train"])) == ("runs", ["cache disabled"])
    assert result["abalone-Evaluate"]["causes"][-1]["detail"] == \
        "abalone-Train runs on every execution: new ModelArtifacts.S3ModelArtifacts"


def test_execution_variable_in_the_key_never_hits_and_a_parameter_default_counts():
    before = abalone()
    before["Parameters"].append({"Name": "Rounds", "Type": "String", "DefaultValue": "50"})
    step(before, "abalone-Train")["Arguments"]["HyperParameters"]["num_round"] = {"Get": "Parameters.Rounds"}
    after = json.loads(json.dumps(before))
    after["Parameters"][-1]["DefaultValue"] = "60"
    step(after, "abalone-Preprocess")["Arguments"]["Environment"] = {"RUN": {"Get": "Execution.PipelineExecutionId"}}
    result = predictions(before, after)
    assert reasons(result["abalone-Preprocess"]) == ["arguments changed", "cache key reads an execution variable"]
    train = result["abalone-Train"]
    assert train["outcome"] == "miss" and "parameter default changed" in reasons(train)
    assert any(c["detail"].startswith('Rounds: default "50" -> default "60"') for c in train["causes"])


def test_non_job_steps_are_never_cached_and_do_not_count_as_job_steps():
    data = abalone()
    plan = to_json(compare(definition.from_json(data), definition.from_json(data), base="a", head="b"))
    create = next(p for p in plan["cache"] if p["display_name"] == "abalone-CreateModel")
    assert (create["outcome"], create["job"], reasons(create)) == ("runs", False, ["step type never cached"])
    assert plan["cache_summary"]["job_steps"] == 4 and plan["cache_summary"]["rerun"] == ["abalone-Transform"]


def test_a_saved_json_plan_renders_as_the_plan_itself():
    """The renderers read only the machine plan: its JSON, saved and read back, gives the same
    text and markdown."""
    from smpipe_gen.plan import format_plans, render

    before, after = abalone(), abalone()
    step(after, "abalone-Train")["Arguments"]["HyperParameters"]["num_round"] = '"60"'
    plan = compare(definition.from_json(before), definition.from_json(after), base="a", head="b")
    saved = json.loads(format_plans([plan], "json"))
    assert saved["format_version"] == "2.0"
    for output_format in ("text", "markdown"):
        assert render(saved, output_format) == format_plans([plan], output_format)
    assert "  MISS  abalone-Train       arguments changed (hyperparameter num_round: 50 -> 60)" in render(saved, "text")


def test_tuning_step_attributes_and_cost_come_from_its_training_job_definition():
    """An SDK-built tuning definition: the instances, time limit and hyperparameters of its
    training jobs, its search, and an instance-hour bound of jobs × instances × max runtime."""
    tuned = definition.load_file(Path(__file__).resolve().parent / "local_fixtures/mini/tuned/definition.json")
    plan = to_json(compare(definition.from_json({}), tuned, base="none", head="tuned"))
    tune = next(s for s in plan["steps"] if s["name"] == "Tune")
    attributes = {a["name"]: a["value"] for a in tune["attributes"]}
    assert attributes["instances"] == "1 × ml.m5.xlarge, 30 GB volume"
    assert attributes["max runtime"] == "24 h" and attributes["entry point"] == "train.py"
    assert attributes["tuning"] == "Random, up to 3 jobs (2 at once), minimize train_mse, ranges alpha 0.01..50.0"
    assert attributes["inputs"] == "train <- Preprocess output train"
    cost = next(p for p in plan["cache"] if p["step"] == "Tune")["cost"]
    assert (cost["max_instance_hours"], cost["instance_type"]) == (72.0, "ml.m5.xlarge")  # 3 jobs × 1 × 24 h


def _history(*runs: tuple[str, dict, int, set[str] | None]):
    """Runs (name, definition as it ran, days ago, steps that succeeded or None for all)."""
    from datetime import datetime, timedelta, timezone

    from smpipe_gen.plan.cache import History, Run

    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    made = [Run(f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/abalone/execution/{name}", now - timedelta(days=days),
                definition.from_json(data), frozenset(succeeded if succeeded is not None else
                                                      {s["Name"] for s in data["Steps"]} | _branch_steps(data)))
            for name, data, days, succeeded in runs]
    return History(made, [], "what ran", now)


def _branch_steps(data: dict) -> set[str]:
    return {s["Name"] for top in data["Steps"] if top["Type"] == "Condition"
            for s in top["Arguments"]["IfSteps"] + top["Arguments"]["ElseSteps"]}


def _with_rounds(rounds: str) -> dict:
    data = abalone()
    step(data, "abalone-Train")["Arguments"]["HyperParameters"]["num_round"] = f'"{rounds}"'
    return data


def forecast(base: dict, head: dict, history) -> dict[str, tuple[str, str | None]]:
    plan = to_json(compare(definition.from_json(base), definition.from_json(head), base="main", head="pr",
                           history=history))
    return {p["display_name"]: (p["outcome"], (p["source_execution"] or "").rsplit("/", 1)[-1] or None)
            for p in plan["cache"] if p["job"]}


def test_a_revert_hits_the_older_run_and_so_does_what_reads_its_model():
    """E1 ran 50 rounds, E2 (newer) 60; the PR goes back to 50: Train and Evaluate (which reads
    Train's model) reuse E1, and so does Preprocess, whose run E2 itself reused (no step listing:
    inferred)."""
    history = _history(("e2", _with_rounds("60"), 1, None), ("e1", _with_rounds("50"), 3, None))
    assert forecast(_with_rounds("60"), _with_rounds("50"), history) == {
        "abalone-Preprocess": ("hit", "e1"), "abalone-Train": ("hit", "e1"), "abalone-Evaluate": ("hit", "e1"),
        "abalone-Transform": ("miss", None)}


def test_a_run_older_than_expire_after_or_a_failed_step_is_no_cache_entry():
    old = _history(("e2", _with_rounds("60"), 1, None), ("e1", _with_rounds("50"), 11, None))  # P10D
    result = forecast(_with_rounds("60"), _with_rounds("50"), old)
    assert result["abalone-Train"] == ("miss", None) and result["abalone-Evaluate"] == ("miss", None)
    failed = _history(("e1", _with_rounds("50"), 1, {"abalone-Preprocess"}))
    assert forecast(_with_rounds("60"), _with_rounds("50"), failed)["abalone-Train"] == ("miss", None)
    plan = to_json(compare(definition.from_json(_with_rounds("60")), definition.from_json(_with_rounds("50")),
                           base="main", head="pr", history=old))
    train = next(p for p in plan["cache"] if p["display_name"] == "abalone-Train")
    assert [c["reason"] for c in train["causes"]] == ["no matching run", "arguments changed"]
    assert train["causes"][1]["detail"] == "hyperparameter num_round: 60 -> 50"  # against the newest run in reach
    assert plan["forecast"] == {"basis": "executions", "assumption": "what ran", "executions": []}


def test_a_step_reading_a_result_another_run_made_misses():
    """Train hits only E1; Evaluate's own arguments match only E2, which read E2's model: a miss."""
    e2 = _with_rounds("60")
    step(e2, "abalone-Evaluate")["Arguments"]["Environment"] = {"SEED": "1"}
    history = _history(("e2", e2, 1, None), ("e1", _with_rounds("50"), 2, {"abalone-Preprocess", "abalone-Train"}))
    head = _with_rounds("50")
    step(head, "abalone-Evaluate")["Arguments"]["Environment"] = {"SEED": "1"}
    assert forecast(e2, head, history)["abalone-Evaluate"] == ("miss", None)
