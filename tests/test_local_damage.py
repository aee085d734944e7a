"""Anything damaged or foreign under .smpipe/ is a cache miss or absent, with a warning naming the
file, never a traceback: one test per kind of file the runner keeps there. Each corrupts the
state a successful run of the "mini" fixture left, and the next run must succeed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from local_support import last_record, project, run, statuses

# Its module-scoped fixtures build once per run only if the module stays in one xdist worker.
pytestmark = pytest.mark.xdist_group("local-damage")


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> Path:
    """The mini fixture after one successful run (copied per test)."""
    repo = project(tmp_path_factory.mktemp("ran"))
    run(repo)
    return repo


@pytest.fixture
def repo(ran, tmp_path) -> Path:
    target = tmp_path / "mini"
    shutil.copytree(ran, target)
    return target


def one(repo: Path, pattern: str) -> Path:
    found = sorted((repo / ".smpipe").glob(pattern))
    assert found, f"no {pattern} under .smpipe"
    return found[0]


def rerun(repo: Path, warning: str) -> dict:
    result = run(repo)
    assert "Traceback" not in result.stderr
    assert warning in result.stderr, result.stderr
    record = last_record(repo)
    assert record["status"] == "Succeeded"
    return record


@pytest.mark.parametrize("content", [b"[]", b"\xff\xfe not utf-8", b'{"status": "Failed", "resumable": 7}'])
def test_damaged_run_bookmark(repo, content):
    (repo / ".smpipe" / "last-run.json").write_bytes(content)
    if content.startswith(b"{"):  # well-formed JSON of the wrong inner shape: ignored quietly
        run(repo)
        assert last_record(repo)["status"] == "Succeeded"
    else:
        rerun(repo, "last-run.json: damaged run bookmark")


@pytest.mark.parametrize("content", [
    b"{trunc", b'{"step": "Preprocess"}', b"\x00\x01", b"[" * 100_000,
    # valid JSON recording an output that is no S3 URI: it failed the step on every later run
    b'{"step": "Preprocess", "execution_id": "x", "created": 9e9, "properties": {}, "outputs": {"/etc/passwd": "x"}}',
])
def test_damaged_cache_entry_is_a_miss(repo, content):
    entry = one(repo, "cache/Preprocess/*.json")
    entry.write_bytes(content)
    record = rerun(repo, "damaged cache entry")
    assert statuses(record)["Preprocess"] == "done"  # ran again instead of using the entry


def test_damaged_code_bundle_is_rebuilt(repo):
    bundle = one(repo, "code/*.tar.gz")
    bundle.write_bytes(b"not a tarball")
    rerun(repo, "damaged code bundle")
    assert bundle.read_bytes() != b"not a tarball"


def test_tampered_code_bundle_is_rebuilt(repo):
    import tarfile

    bundle = one(repo, "code/*.tar.gz")
    with tarfile.open(bundle, "w:gz") as tar:  # a valid tarball with other content
        info = tarfile.TarInfo("preprocess.py")
        tar.addfile(info)
    rerun(repo, "damaged code bundle")


def test_damaged_model_record(repo):
    one(repo, "models/*.json").write_bytes(b"\xff")
    record = last_record(repo)
    run(repo)
    assert last_record(repo)["status"] == "Succeeded" and last_record(repo)["execution_id"] != record["execution_id"]


def test_damaged_registry_entry(repo):
    package = one(repo, "registry/*/1/package.json")
    package.write_bytes(b"[1, 2")
    run(repo)
    group = package.parent.parent
    assert sorted(p.name for p in group.iterdir() if p.name.isdigit()) == ["1", "2"]
    from smpipe_gen.local.jobs.register import list_versions

    assert [p["ModelPackageVersion"] for p in list_versions(group.parent, group.name)] == [2]


def test_registry_group_that_is_a_file(repo):
    group = one(repo, "registry/*")
    shutil.rmtree(group)
    group.write_text("foreign")
    rerun(repo, "damaged registry group")
    assert (group / "1" / "package.json").is_file()
