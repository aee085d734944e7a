"""The definition model on the examples' real rendered definitions and manifests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from smpipe_gen import definition
from smpipe_gen.errors import SmpipeError
from smpipe_gen.project import Project

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _abalone() -> definition.Definition:
    return definition.load(Project.at(EXAMPLES / "abalone"))


def test_steps_types_names_and_config_origin():
    model = _abalone()
    assert list(model.steps) == ["abalone-Preprocess", "abalone-Train", "abalone-Evaluate", "abalone-CheckMse",
                                 "abalone-CreateModel-CreateModel", "abalone-Transform",
                                 "abalone-Register-RegisterModel", "abalone-MseTooHigh"]
    evaluate = model["abalone-Evaluate"]
    assert (evaluate.type, evaluate.step_class, evaluate.model) == ("Processing", "Metrics", "abalone")
    assert evaluate.origin == definition.Origin("abalone-Evaluate", "abalone", "Metrics", "evaluate")
    create = model["abalone-CreateModel-CreateModel"]
    assert (create.display_name, create.origin.step, create.step_class) == ("abalone-CreateModel", "abalone-CreateModel",
                                                                            "CreateModel")
    assert model.named("abalone-Register") is model["abalone-Register-RegisterModel"]
    assert model.parameters == (definition.Parameter("MseThreshold", "Float", 6.0),)
    assert model["abalone-Train"].cache == definition.CacheConfig(True, "P10D")
    assert model["abalone-CheckMse"].cache is None


def test_dependencies_references_and_branches():
    model = _abalone()
    train = model["abalone-Train"]
    assert train.referenced_steps == ("abalone-Preprocess",)
    assert {ref.path for ref in train.references} >= {"ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}
    check = model["abalone-CheckMse"]
    assert [ref.via for ref in check.references] == ["JsonGet"]
    assert check.referenced_steps == ("abalone-Evaluate",)
    assert check.if_steps == ("abalone-CreateModel-CreateModel", "abalone-Transform", "abalone-Register-RegisterModel")
    assert check.else_steps == ("abalone-MseTooHigh",)
    assert "IfSteps" not in check.arguments and "IfSteps" in check.body["Arguments"]
    assert (model["abalone-MseTooHigh"].condition, model["abalone-MseTooHigh"].branch) == ("abalone-CheckMse", "else")
    assert [s.name for s in model.top_level] == list(model.steps)[:4]
    assert model["abalone-Evaluate"].property_files == (
        definition.PropertyFile("EvaluationReport", "model_evaluation_metrics", "model_evaluation_metrics.json"),)
    assert model.downstream("abalone-Evaluate") == list(model.steps)[3:]
    assert model.ancestors("abalone-Transform") == ["abalone-Preprocess", "abalone-Train", "abalone-Evaluate",
                                                    "abalone-CheckMse", "abalone-CreateModel-CreateModel"]
    assert model.order().index("abalone-CheckMse") < model.order().index("abalone-Transform")
    assert ("abalone-CheckMse", "abalone-MseTooHigh", "else") in {(e.source, e.target, e.kind) for e in model.edges()}


def test_references_are_found_inside_expressions():
    model = definition.from_json({"Steps": [
        {"Name": "Pre", "Type": "Fail"}, {"Name": "Other", "Type": "Fail"},
        {"Name": "S", "Type": "Fail", "Arguments": {"a": [
            {"Get": "Steps.Pre.X"}, {"Std:Join": {"Values": [{"Get": "Steps.Other.Outputs['y'].Z"}]}},
            {"Std:JsonGet": {"Path": "a", "S3Uri": {"Get": "Steps.Pre.Y"}}}]}}]})
    assert model["S"].references == (definition.Reference("Pre", "X"), definition.Reference("Other", "Outputs['y'].Z"),
                                     definition.Reference("Pre", "Y", "JsonGet"))
    assert model["S"].referenced_steps == ("Other", "Pre") and model["S"].upstream == ("Other", "Pre")


def test_code_objects_match_the_manifest_and_are_found_without_it():
    model = _abalone()
    manifest_uris = {artifact.s3_uri for artifact in model.manifest.artifacts}
    used = {code.s3_uri for step in model for code in step.code}
    assert used == manifest_uris  # every uploaded object is used by some step, and only those
    train = model["abalone-Train"]
    (code,) = train.code
    assert code.artifact.kind == "sourcedir" and "scripts/train.py" in {f.path for f in code.artifact.files}
    assert {c.artifact.kind for c in model["abalone-Preprocess"].code} == {"sourcedir", "inline"}
    assert model.steps_using(code.s3_uri) == ["abalone-Train"]  # each step ships its own code
    (served,) = model["abalone-CreateModel-CreateModel"].code  # SAGEMAKER_SUBMIT_DIRECTORY
    assert model.steps_using(served.s3_uri) == ["abalone-CreateModel-CreateModel", "abalone-Register-RegisterModel"]
    foreign = definition.load_file(EXAMPLES / "abalone/pipeline/definition.json")
    assert foreign.manifest is None and foreign["abalone-Evaluate"].step_class == "Processing"
    assert foreign["abalone-Evaluate"].origin is None and foreign.models() == {None: list(foreign.steps)}
    for step in model:  # the places the SDK puts code find exactly the manifest's objects
        assert [c.s3_uri for c in foreign[step.name].code] == [c.s3_uri for c in step.code], step.name
        assert all(c.artifact is None for c in foreign[step.name].code)


def test_steps_are_grouped_per_model():
    model = definition.load(Project.at(EXAMPLES / "two-models"))
    groups = model.models()
    assert set(groups) == {"housing", "pca"}
    assert all(name.startswith(f"{group}-") for group, names in groups.items() for name in names)


def test_the_model_is_read_only_and_thaws_to_the_json():
    model = _abalone()
    with pytest.raises(TypeError):
        model["abalone-Train"].arguments["HyperParameters"]["eta"] = "1"  # type: ignore[index]
    with pytest.raises(AttributeError):
        model["abalone-Train"].name = "x"  # type: ignore[misc]
    raw = json.loads((EXAMPLES / "abalone/pipeline/definition.json").read_text())
    assert model.json() == raw and model["abalone-Train"].json() == raw["Steps"][1]


def _edit_manifest(project, change):
    data = json.loads(project.manifest_json.read_text())
    change(data)
    project.manifest_json.write_text(json.dumps(data))


@pytest.fixture
def copy(tmp_path):
    shutil.copytree(EXAMPLES / "abalone/pipeline", tmp_path / "pipeline")
    return Project.at(tmp_path)


@pytest.mark.parametrize("damage, expected", [
    (lambda p: p.definition_json.unlink(),
     "pipeline/definition.json: rendered definition not found (hint: run `smpipe-gen render`)"),
    (lambda p: p.manifest_json.unlink(),
     "pipeline/manifest.json: rendered manifest not found (hint: run `smpipe-gen render`)"),
    (lambda p: p.definition_json.write_text('{\n  "Steps": [\n}'),
     "pipeline/definition.json:3: rendered definition is not valid JSON: Expecting value"),
    (lambda p: p.definition_json.write_text('{"Steps": {}}'),
     "pipeline/definition.json: not a pipeline definition (no Steps list)"),
    (lambda p: p.manifest_json.write_text('{"generator": "x"}'),
     "pipeline/manifest.json: damaged manifest: config_files: missing (hint: re-render"),
    (lambda p: _edit_manifest(p, lambda m: m["pipeline"].update(role_arn=7)),
     "pipeline/manifest.json: damaged manifest: pipeline.role_arn: expected a string"),
    (lambda p: _edit_manifest(p, lambda m: m["artifacts"][1].update(kind="zip")),
     "pipeline/manifest.json: damaged manifest: artifacts.1.kind: expected one of 'file', 'sourcedir', 'inline'"),
    (lambda p: _edit_manifest(p, lambda m: m.update(extra=1)),
     "pipeline/manifest.json: damaged manifest: extra: unknown key"),
    (lambda p: p.definition_json.write_text('{"Steps": [{"Name": "A", "Type": "Fail", "DependsOn": ["B"]}]}'),
     "step A: refers to unknown step 'B'"),
    (lambda p: p.definition_json.write_text(json.dumps({"Steps": [
        {"Name": "A", "Type": "Fail", "DependsOn": ["B"]},
        {"Name": "B", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Steps.A.X"}}}]})),
     "pipeline/definition.json: dependency cycle: A -> B -> A"),
    (lambda p: p.definition_json.write_text('{"Steps": [{"Name": "A", "Type": "Fail"}, {"Name": "A", "Type": "Fail"}]}'),
     "pipeline/definition.json: step 'A' appears twice"),
])
def test_each_way_loading_fails_is_one_located_line(copy, damage, expected):
    definition.load(copy)  # intact before the damage
    damage(copy)
    with pytest.raises(SmpipeError) as error:
        definition.load(copy)
    assert error.value.one_line().startswith(expected)


def test_the_manifest_reads_back_what_render_wrote():
    from smpipe_gen.manifest import Manifest

    for example in ("abalone", "two-models", "llm-summarization"):
        data = json.loads((EXAMPLES / example / "pipeline/manifest.json").read_text())
        assert Manifest.from_json(data, where="m").to_json() == data


@pytest.mark.parametrize("data", [
    [], {"Steps": [1]}, {"Steps": [{"Name": "C", "Type": "Condition", "Arguments": []}]},
    {"Steps": [{"Name": "C", "Type": "Condition", "Arguments": {"IfSteps": {}}}]},
    {"Steps": [{"Name": "A", "Type": "Fail", "Arguments": "x"}]},
    {"Steps": [{"Name": "A", "Type": "Fail", "DependsOn": "B"}]},
    {"Steps": [], "Parameters": [{"Type": "String"}]},
])
def test_malformed_definitions_are_refused_in_one_line(data):
    with pytest.raises(SmpipeError) as error:
        definition.from_json(data, where="x.json")
    assert "\n" not in error.value.one_line()


def test_odd_optional_parts_add_nothing():
    model = definition.from_json({"Steps": [{"Name": "A", "Type": "Processing", "PropertyFiles": 3, "CacheConfig": "on",
                                             "Arguments": {"ProcessingInputs": [{"InputName": "code", "S3Input": "s3://x"}]}}]})
    assert model["A"].property_files == () and model["A"].cache is None and model["A"].code == ()


def test_consumers_import_neither_the_sdk_nor_pydantic():
    import subprocess
    import sys

    code = ("import sys, smpipe_gen.definition, smpipe_gen.drawing, smpipe_gen.plan, smpipe_gen.apply, "
            "smpipe_gen.commands.run, smpipe_gen.local.scheduler; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sagemaker', 'pydantic')); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
