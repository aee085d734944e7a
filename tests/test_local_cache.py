"""Caching and resume: end to end on the "mini" fixture through the real CLI (resume after a
failure, invalidation, Ctrl-C and a killed run), then the cache's rules as in-process tables."""

import os
import signal
import subprocess
import sys
import time

import pytest

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


def _start(repo, *args):
    command = [sys.executable, "-m", "smpipe_gen", "run", "--local", "-C", str(repo), *args]
    # Ctrl-C reaches the runner as in a terminal: a test worker may have inherited SIGINT ignored
    # (a process started in the background of a shell does), and a child inherits that.
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_evaluate(repo, process, seen=()):
    """Block until a new run's slow Evaluate step is running (Preprocess and Train are done);
    returns that run's execution id."""
    deadline = time.time() + 60
    while time.time() < deadline:
        for log in (repo / ".smpipe" / "runs").glob("*/steps/Evaluate/log.txt"):
            execution = log.parents[2].name
            if execution not in seen and "sleeping" in log.read_text():
                return execution
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    raise AssertionError("Evaluate never started")


def test_ctrl_c_stops_jobs_and_a_killed_run_is_resumed(tmp_path):
    repo = project(tmp_path)
    process = _start(repo, "--param", "EvalMode=slow")
    interrupted = _wait_for_evaluate(repo, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130 and "interrupted: running jobs stopped" in stderr
    record = last_record(repo)
    assert record["status"] == "Stopped" and statuses(record)["Evaluate"] == "failed"
    leftovers = subprocess.run(["pgrep", "-f", "evaluate.py --mode slow"], capture_output=True, text=True)
    assert leftovers.stdout == "", "job processes outlived the interrupted run"

    # a run killed outright (no chance to record anything) is resumed just the same
    process = _start(repo, "--param", "EvalMode=slow")
    killed = _wait_for_evaluate(repo, process, seen={interrupted})
    os.kill(process.pid, signal.SIGKILL)  # the runner alone: its jobs must die with it
    process.communicate()
    deadline = time.time() + 5
    while subprocess.run(["pgrep", "-f", "evaluate.py --mode slow"], capture_output=True).returncode == 0:
        assert time.time() < deadline, "job processes outlived the killed runner"
        time.sleep(0.1)
    run(repo)
    resumed = last_record(repo)
    assert resumed["status"] == "Succeeded"
    assert resumed["steps"]["Train"]["status"] == "cached"
    assert resumed["steps"]["Train"]["cached_from"] in (interrupted, killed)
    assert resumed["steps"]["Evaluate"]["status"] == "done"


# -- the cache's rules, in process ------------------------------------------------------------------
OUTPUT = "s3://bucket/run-1/Preprocess/train"


def _cache(tmp_path):
    from smpipe_gen.local.cache import Cache
    from smpipe_gen.local.jobs import StepResult
    from smpipe_gen.local.store import Store

    store = Store(tmp_path / "s3", {"s3://bucket/raw": tmp_path / "seed"})
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "raw.csv").write_text("1,2\n")
    published = store.path(OUTPUT) / "train.csv"
    published.parent.mkdir(parents=True)
    published.write_text("1,2\n")
    cache = Cache(tmp_path / "cache", store)
    cache.save("Preprocess", "key", "run-1", StepResult(properties={"ProcessingJobName": "p"},
                                                         outputs={OUTPUT: store.digest(OUTPUT)}, metrics={"mse": 1}))
    return cache, published


@pytest.mark.parametrize("lookup, change, hit", [
    ({}, None, True),
    ({"max_age": 3600}, None, True),
    ({"max_age": -1}, None, False),  # older than the step's ExpireAfter
    ({"executions": {"run-1", "run-0"}}, None, True),  # resuming from a failed run that produced it
    ({"executions": {"run-0"}}, None, False),  # produced by a run that is not resumed
    ({"key": "other"}, None, False),  # another cache key: arguments, code or inputs changed
    ({}, "tampered", False),  # an output no longer has the content recorded when it was published
    ({}, "removed", False),
])
def test_a_cached_result_is_reused_only_when_its_rules_hold(tmp_path, lookup, change, hit):
    cache, published = _cache(tmp_path)
    if change == "tampered":
        published.write_text("9,9\n")
    elif change == "removed":
        published.unlink()
    key = lookup.pop("key", "key")
    found = cache.lookup("Preprocess", key, **lookup)
    if not hit:
        assert found is None
    else:
        result, execution = found
        assert execution == "run-1"
        assert (result.properties, result.metrics) == ({"ProcessingJobName": "p"}, {"mse": 1.0})


@pytest.mark.parametrize("entry", ['{"execution_id": "run-1"}', "not json", "[]", '{"outputs": {"/etc": "x"}, '
                                   '"execution_id": "r", "created": 0, "properties": {}}'])
def test_a_damaged_cache_entry_is_a_warning_and_a_miss(tmp_path, capsys, entry):
    cache, _ = _cache(tmp_path)
    next((tmp_path / "cache").rglob("key.json")).write_text(entry)
    assert cache.lookup("Preprocess", "key") is None
    assert "damaged cache entry" in capsys.readouterr().err


def test_the_cache_key_changes_with_each_part_and_not_with_key_order():
    from smpipe_gen.local.cache import cache_key

    base = ("Processing", {"a": 1, "b": [1, 2]}, {"s3://c/code": "d1"}, {"s3://bucket/raw": "i1"})
    assert cache_key(*base) == cache_key("Processing", {"b": [1, 2], "a": 1}, *base[2:])
    changed = [("Training", *base[1:]), (base[0], {"a": 2, "b": [1, 2]}, *base[2:]),
               (*base[:2], {"s3://c/code": "d2"}, base[3]), (*base[:3], {"s3://bucket/raw": "i2"})]
    keys = {cache_key(*parts) for parts in changed} | {cache_key(*base)}
    assert len(keys) == len(changed) + 1


def test_a_seeded_file_is_the_object_its_uri_names(tmp_path):
    """Local data given for one object (--data s3://b/raw/raw.csv=./elsewhere.csv) is read under
    the URI's name, as a job's S3Prefix input would lay it out; a seeded directory keeps its names."""
    from smpipe_gen.local.store import Store

    (tmp_path / "elsewhere.csv").write_text("1\n")
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "sub" / "a.csv").write_text("2\n")
    store = Store(tmp_path / "s3", {"s3://b/raw/raw.csv": tmp_path / "elsewhere.csv", "s3://b/tables": tmp_path / "dir"})
    assert store.objects("s3://b/raw/raw.csv") == {"raw.csv": tmp_path / "elsewhere.csv"}
    assert store.objects("s3://b/raw") == {"raw.csv": tmp_path / "elsewhere.csv"}
    assert store.objects("s3://b/tables") == {"sub/a.csv": tmp_path / "dir" / "sub" / "a.csv"}
    assert store.objects("s3://b/tables/sub") == {"a.csv": tmp_path / "dir" / "sub" / "a.csv"}
