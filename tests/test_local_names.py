"""Steps are shown and accepted by the names people wrote, and CI logs get the whole summary."""

from __future__ import annotations

import os

from local_support import last_record, project, run, run_local, statuses


def test_config_names_in_output_from_step_accepts_both_and_plain_summary_is_whole(tmp_path):
    repo = project(tmp_path)
    run(repo)
    # the name written in the program (the SDK made Register-RepackModel-0 and Register-RegisterModel)
    done = run_local("-C", str(repo), "--from-step", "Register", env={**os.environ, "COLUMNS": "40"})
    steps = statuses(last_record(repo))
    assert steps["Register-RepackModel-0"] == "done" and steps["Register-RegisterModel"] == "done"
    assert steps["Train"] == "cached"  # an ancestor: reused
    lines = done.stderr.splitlines()
    assert "  Register: done" in " ".join(lines) or any(line.startswith("  Register: done") for line in lines)
    # the summary: one plain line per step, longer than the 40 columns the "terminal" has
    (train,) = [line for line in lines if line.lstrip().startswith("Train ")]
    assert "train_mse=" in train and "(from " in train and len(train) > 40
    assert any(line.lstrip().startswith("Register (repack 0) ") for line in lines)
    assert not any("│" in line or "…" in line for line in lines)
    assert any(line.startswith("running mini locally: execution ") and "steps at a time)" in line for line in lines)
    # the SDK's own name is accepted too
    run(repo, "--from-step", "Register-RegisterModel")
    assert statuses(last_record(repo))["Register-RepackModel-0"] == "cached"


def test_unknown_step_lists_the_written_names(tmp_path):
    repo = project(tmp_path)
    done = run(repo, "--from-step", "Regster", expect=1)
    assert "no step named 'Regster'" in done.stderr and "Register," in done.stderr
