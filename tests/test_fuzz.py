"""Property-based fuzzing of validate, render and run --local --definition (small CI profile;
benchmarks/fuzz.py runs the large one): mutated example configs and environment files, and
hostile foreign definitions, must end in ok or a located one-line refusal, never a traceback,
another exit code, a write outside their place or a partial write."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fuzz_support import (EXAMPLE_NAMES, classify, classify_foreign, prepare_foreign, prepare_repo,
                          write_foreign_mutation, write_mutation)
from helpers import offline_env, smpipe

def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class DrawChooser:
    """Lets the shared mutators draw from hypothesis, so failures shrink to a small case."""

    def __init__(self, data: st.DataObject):
        self.data = data

    def choice(self, options):
        return options[self.data.draw(st.integers(0, len(options) - 1))]

    def index(self, size: int) -> int:
        return self.data.draw(st.integers(0, size - 1))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _case(command: str, data: st.DataObject, workdir: Path) -> None:
    example = data.draw(st.sampled_from(EXAMPLE_NAMES))
    root, files = prepare_repo(example, workdir)
    what = write_mutation(files, DrawChooser(data))
    outcome = classify(command, root)
    assert not outcome.kind.startswith("failure"), f"{command} {example} {what}: {outcome.kind}: {outcome.detail}"


@fuzz(100)
@given(data=st.data())
def test_validate_never_crashes_on_mutated_examples(data, workdir):
    _case("validate", data, workdir)


@fuzz(5)
@given(data=st.data())
def test_render_never_crashes_or_half_writes(data, workdir):
    _case("render", data, workdir)


@pytest.fixture(scope="module")
def foreign_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("foreign") / "work"
    folder.mkdir()
    prepare_foreign(folder)
    return folder


@fuzz(15)
@given(data=st.data())
def test_run_local_holds_its_ground_on_hostile_definitions(data, foreign_folder):
    what = write_foreign_mutation(foreign_folder, DrawChooser(data))
    outcome = classify_foreign(foreign_folder)
    assert not outcome.kind.startswith("failure"), f"{what}: {outcome.kind}: {outcome.detail}"


def test_real_subprocess_cases_match(tmp_path):
    """A few cases through the real console entry in a child process, as CI runs it."""
    root, files = prepare_repo("abalone", tmp_path)

    def run(args: list[str]) -> tuple[int, str]:
        done = smpipe(*args, env=offline_env())
        return done.returncode, done.stderr

    assert classify("validate", root, run).kind == "ok"
    files[0].write_bytes(b"conf:\n  models: [\xff]\n")
    assert classify("validate", root, run).kind == "refused"
    files[0].write_text("conf:\n  models:\n    abalone: {source_directory: /etc}\n")
    assert classify("render", root, run).kind == "refused"
