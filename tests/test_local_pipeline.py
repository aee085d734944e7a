"""End to end on the SDK-rendered "mini" fixture: both condition branches, the Fail message,
the transform handler contract with JoinSource Input, and registry versions."""

import json

from local_support import last_record, project, run, statuses


def test_true_branch_then_fail_branch_and_register_versions(tmp_path):
    repo = project(tmp_path)
    run(repo)
    record = last_record(repo)
    assert record["status"] == "Succeeded"
    assert statuses(record) == {
        "Preprocess": "done", "Train": "done", "Evaluate": "done", "CheckMse": "done",
        "CreateModel-RepackModel-0": "done", "CreateModel-CreateModel": "done", "Transform": "done",
        "Register-RepackModel-0": "done", "Register-RegisterModel": "done", "MseTooHigh": "skipped"}
    assert 0 < record["steps"]["Train"]["metrics"]["train_mse"] < 1
    assert record["steps"]["CheckMse"]["properties"] == {"Outcome": "True"}

    # transform: inference.py's four handlers, one .out per input file, input joined to prediction
    store = repo / ".smpipe" / "s3" / "fixture-bucket"
    out_lines = (store / "mini" / "transform" / "x.csv.out").read_text().splitlines()
    test_inputs = [p for p in store.rglob("x.csv") if record["execution_id"] in str(p)]
    in_lines = test_inputs[0].read_text().splitlines()
    assert len(out_lines) == len(in_lines) == 30
    for given, joined in zip(in_lines, out_lines):
        assert joined.startswith(given + ",") and len(joined.split(",")) == 4
        float(joined.rsplit(",", 1)[1])

    package = json.loads((repo / ".smpipe" / "registry" / "mini" / "1" / "package.json").read_text())
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["ModelPackageVersion"] == 1
    metrics = json.loads((repo / ".smpipe" / "registry" / "mini" / "1" / "metrics-ModelQuality.Statistics.json").read_text())
    assert metrics["regression_metrics"]["mse"]["value"] > 0

    # second run: the cached preprocess is reused, the model registers as version 2
    run(repo)
    record = last_record(repo)
    assert record["steps"]["Preprocess"]["status"] == "cached"
    assert record["steps"]["Train"]["status"] == "done"  # no CacheConfig: runs again
    versions = sorted(p.name for p in (repo / ".smpipe" / "registry" / "mini").iterdir())
    assert versions == ["1", "2"]

    # a strict threshold takes the Else branch: the Fail step's resolved message fails the run
    result = run(repo, "--param", "MseThreshold=0.001", expect=1)
    record = last_record(repo)
    assert record["status"] == "Failed" and record["failed_step"] == "MseTooHigh"
    assert "is above 0.001" in record["message"] and record["message"].startswith("MSE 0.")
    assert "error: step MseTooHigh: execution failed: MSE 0." in result.stderr
    assert "Traceback" not in result.stderr
    assert statuses(record)["Transform"] == "skipped"
    assert statuses(record)["Register-RegisterModel"] == "skipped"
    assert sorted(p.name for p in (repo / ".smpipe" / "registry" / "mini").iterdir()) == ["1", "2"]
