"""Caching and resume on the "mini" fixture, through the real CLI."""

from local_support import last_record, project, run, statuses


def test_resume_after_failed_step_then_cache_rules(tmp_path):
    repo = project(tmp_path)
    failed = run(repo, "--param", "EvalMode=crash", expect=1)
    first = last_record(repo)
    assert first["failed_step"] == "Evaluate"
    assert statuses(first)["Train"] == "done" and statuses(first)["CheckMse"] == "not started"
    assert "evaluation crashed on purpose" in failed.stderr  # the tail of the failing step's log
    assert "error: step Evaluate: execution failed: process exited with code 1" in failed.stderr

    # the re-run resumes: Train (no CacheConfig) is reused from the failed execution
    run(repo)
    second = last_record(repo)
    assert second["status"] == "Succeeded"
    assert second["steps"]["Preprocess"]["status"] == "cached"
    assert second["steps"]["Train"]["status"] == "cached"
    assert second["steps"]["Train"]["cached_from"] == first["execution_id"]
    assert second["steps"]["Evaluate"]["status"] == "done"

    # after a success there is nothing to resume: only CacheConfig steps are reused
    run(repo)
    third = last_record(repo)
    assert third["steps"]["Preprocess"]["status"] == "cached"
    assert third["steps"]["Train"]["status"] == "done"

    # --from-step reuses what comes before the step and re-runs it and what follows
    run(repo, "--from-step", "Evaluate")
    fourth = last_record(repo)
    assert fourth["steps"]["Train"]["status"] == "cached"
    assert fourth["steps"]["Evaluate"]["status"] == "done"

    run(repo, "--no-cache")
    assert set(statuses(last_record(repo)).values()) == {"done", "skipped"}


def test_changed_input_or_tampered_output_invalidates_cache(tmp_path):
    repo = project(tmp_path)
    run(repo, "--param", "TrainFail=yes", expect=1)
    first = last_record(repo)
    assert first["failed_step"] == "Train"
    run(repo, "--param", "TrainFail=yes", expect=1)
    assert last_record(repo)["steps"]["Preprocess"]["status"] == "cached"

    # a cached output that no longer has the content recorded at publish time is not trusted
    published = repo / ".smpipe" / "s3" / "fixture-bucket"
    train_csv = next(p for p in published.rglob("train.csv") if first["execution_id"] in str(p))
    train_csv.write_text("1,2,3,4\n")
    run(repo, "--param", "TrainFail=yes", expect=1)
    assert last_record(repo)["steps"]["Preprocess"]["status"] == "done"

    # changed input data changes the cache key
    raw = repo / "data" / "raw.csv"
    raw.write_text(raw.read_text() + "1.0,1.0,1.0,1.0\n")
    run(repo, "--param", "TrainFail=yes", expect=1)
    assert last_record(repo)["steps"]["Preprocess"]["status"] == "done"
