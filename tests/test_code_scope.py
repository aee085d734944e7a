"""Code scoped to the step, end to end on the bundled examples with the real SDK.

Each example is a git repository whose main holds it rendered as before scoping (every model
with ``code_scope: source_directory``: one bundle per source directory) and whose working tree
holds it as committed. The plan of that change says what scoping changes, and only that: the
code each step ships. The definitions are otherwise the same (the layout of definition.json
moved, its content did not).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import git
import pytest

from helpers import EXAMPLES, copy_example, render_each, without_versions

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group('code-scope')]  # ten SDK renders in one process
# (the group keeps the module in one xdist worker, so its module fixture renders once per run)

EXAMPLE_NAMES = sorted(path.parent.parent.name for path in EXAMPLES.glob("*/pipeline/definition.json"))
_SOURCE_DIRECTORY = re.compile(r"(?m)^(?P<indent> +)source_directory: .*\n")


def _model_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("conf*.yaml") if _SOURCE_DIRECTORY.search(path.read_text()))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> dict[str, Path]:
    roots = {name: copy_example(name, tmp_path_factory.mktemp(name)) for name in EXAMPLE_NAMES}
    scoped = {path: path.read_text() for root in roots.values() for path in _model_files(root)}
    for path, text in scoped.items():
        path.write_text(_SOURCE_DIRECTORY.sub(lambda m: m[0] + f"{m['indent']}code_scope: source_directory\n", text))
    render_each(list(roots.values()))
    for root in roots.values():
        repo = git.Repo.init(root, initial_branch="main")
        repo.git.add(A=True)
        repo.git.commit("-qm", "one bundle per source directory", "--no-gpg-sign", author="t <t@example.com>")
    for path, text in scoped.items():
        path.write_text(text)
    render_each(list(roots.values()))
    return roots


def _without_code_uris(text: str) -> dict:
    return json.loads(re.sub(r"/code/[0-9a-f]{64}/sourcedir\.tar\.gz", "/code/…/sourcedir.tar.gz", text))


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_the_render_as_committed_is_the_scoped_one(migrated, name):
    root = migrated[name]
    for file in ("definition.json", "manifest.json", "pipeline.py"):
        assert without_versions((root / "pipeline" / file).read_text()) == \
            without_versions((EXAMPLES / name / "pipeline" / file).read_text()), file


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_scoping_changes_the_code_steps_ship_and_nothing_else(migrated, name):
    from smpipe_gen import plan
    from smpipe_gen.project import Project

    root = migrated[name]
    before = git.Repo(root).git.show("main:pipeline/definition.json")
    assert _without_code_uris(before) == _without_code_uris((root / "pipeline/definition.json").read_text())

    result = plan.to_json(plan.against_ref(Project.at(root)))
    assert result["parameters"] == [] and result["settings"] == [] and result["risks"] == []
    assert result["steps"], "every example has a step whose bundle got smaller"
    for step in result["steps"]:
        assert step["status"] == "changed"
        assert {change["category"] for change in step["changes"]} == {"code"}, step
        assert all(change["note"].startswith("removed: ") for change in step["changes"]), step
    for prediction in result["cache"]:
        if prediction["job"] and prediction["outcome"] == "miss":
            assert {c["reason"] for c in prediction["causes"]} <= {"code changed", "upstream output changed"}


def test_a_step_ships_only_what_its_entry_point_reaches(migrated):
    manifest = json.loads((migrated["abalone"] / "pipeline/manifest.json").read_text())
    definition = (migrated["abalone"] / "pipeline/definition.json").read_text()
    bundles = {artifact["s3_uri"]: sorted(f["path"] for f in artifact["files"])
               for artifact in manifest["artifacts"] if artifact["kind"] == "sourcedir"}
    assert sorted(bundles.values()) == [["scripts/evaluate.py", "scripts/requirements.txt"],
                                        ["scripts/inference.py", "scripts/requirements.txt"],
                                        ["scripts/preprocess.py", "scripts/requirements.txt"],
                                        ["scripts/requirements.txt", "scripts/train.py"]]
    assert all(uri in definition for uri in bundles)
