"""Caching and resume on the "mini" fixture, through the real CLI."""

import os
import signal
import subprocess
import sys
import time

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
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


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
