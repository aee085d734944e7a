"""A tuning step: the training job over the declared range, best by the objective metric,
and the SDK's top-model expression resolving to the best job's model."""

import json

from local_support import last_record, project, run


def test_tuning_picks_best_job_and_registers_it(tmp_path):
    repo = project(tmp_path)
    run(repo, out="tuned")
    record = last_record(repo)
    assert record["status"] == "Succeeded"
    tune = record["steps"]["Tune"]
    best = tune["properties"]["BestTrainingJob"]
    assert best["TrainingJobStatus"] == "Completed"
    logs = sorted((repo / ".smpipe" / "runs" / record["execution_id"] / "steps" / "Tune").glob("*.log"))
    assert len(logs) == 3  # MaxNumberOfTrainingJobs
    scores = {}
    for log in logs:
        text = log.read_text()
        scores[log.stem] = float(text.split("train_mse: ")[1].split()[0])
        # the service adds _tuning_objective_metric to each job's hyperparameters; the training
        # toolkit keeps it out of the script's arguments and SM_HPS
        command = next(line for line in text.splitlines() if line.startswith("[smpipe-gen] $ "))
        assert "--alpha" in command and "_tuning_objective_metric" not in command
    assert best["TrainingJobName"] == min(scores, key=scores.get)
    assert tune["metrics"]["train_mse"] == best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert 0.01 <= float(best["TunedHyperParameters"]["alpha"]) <= 50.0

    package = json.loads((repo / ".smpipe" / "registry" / "tuned" / "1" / "package.json").read_text())
    assert package["ModelApprovalStatus"] == "Approved"
    repack = record["steps"]["RegisterBest-RepackModel-0"]
    assert repack["status"] == "done"
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == repack["properties"]["ModelArtifacts"]["S3ModelArtifacts"]
    repack_log = (repo / ".smpipe" / "runs" / record["execution_id"] / "steps" / "RegisterBest-RepackModel-0" / "log.txt").read_text()
    assert f"tuned/models/{best['TrainingJobName']}/output/model.tar.gz" in repack_log


def test_ranges_are_drawn_as_the_api_scales_them():
    import math

    import pytest

    from smpipe_gen.errors import SmpipeError
    from smpipe_gen.local.jobs.tuning import _candidates

    ranges = {"ContinuousParameterRanges": [
        {"Name": "log", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "reverse", "MinValue": "0", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"}],
        "IntegerParameterRanges": [{"Name": "depth", "MinValue": "2", "MaxValue": "6"}]}
    drawn = _candidates(ranges, 400, "Random", "Tune")
    assert drawn == _candidates(ranges, 400, "Random", "Tune")  # a re-run tries the same trials
    logs = [math.log10(float(c["log"])) for c in drawn]
    reverse = [float(c["reverse"]) for c in drawn]
    assert all(-3 <= x <= 0 for x in logs) and 0.35 < sum(x < -1.5 for x in logs) / 400 < 0.65  # even per decade
    assert all(0 <= x <= 0.999 for x in reverse) and sum(x > 0.9 for x in reverse) / 400 > 0.5  # dense near 1
    assert {c["depth"] for c in drawn} == {"2", "3", "4", "5", "6"}
    with pytest.raises(SmpipeError, match="Grid search takes no continuous ranges"):
        _candidates(ranges, 4, "Grid", "Tune")
