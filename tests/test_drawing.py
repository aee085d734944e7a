"""graph through the CLI, and the DAG reading that plan shares, on SDK-built definitions."""

from __future__ import annotations

import json

import pytest

pytest.register_assert_rewrite("deploy_support")  # before the import below, as for a plugin
from helpers import smpipe, smpipe_in_process  # noqa: E402
from smpipe_gen import definition, drawing  # noqa: E402

pytest_plugins = ["deploy_support"]  # its fixtures: moto server, proxy, SDK-rendered projects


def test_mermaid_shows_data_edges_and_condition_branches(project):
    root, _repo = project
    done = smpipe("graph", "-C", str(root), report_sdk=True)
    assert done.returncode == 0, done.stderr
    assert "sagemaker imported: False" in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    assert '  CheckMse{"CheckMse<br/>Condition"}' in lines
    # the SDK's ModelStep suffix is dropped from labels: the name written in the program
    assert '  Register_RegisterModel[/"Register<br/>RegisterModel"/]' in lines
    assert set(lines) >= {
        "  Preprocess --> Train",  # Train reads Preprocess's train output
        "  Train --> Evaluate",
        "  Evaluate --> CheckMse",  # the condition reads Evaluate's property file
        "  CheckMse -->|if| Register_RegisterModel",
        "  CheckMse -->|else| Fail",
    }


def test_dot_output(project):
    root, _repo = project
    done = smpipe_in_process("graph", "-C", str(root), "--format", "dot")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("digraph pipeline {")
    assert '"CheckMse" [label="CheckMse\\nCondition", shape=diamond];' in done.stdout
    assert '"CheckMse" -> "Fail" [label=else, color=red];' in done.stdout


def test_depends_on_edges_and_downstream(rendered):
    data = json.loads((rendered / "variants/base/definition.json").read_text())
    data["Steps"].append({"Name": "Notify", "Type": "Fail", "DependsOn": ["Train"], "Arguments": {}})
    model = definition.from_json(data)
    found = {(e.source, e.target, e.kind) for e in model.edges()}
    assert ("Train", "Notify", "depends") in found
    assert model.downstream("Train") == ["Evaluate", "CheckMse", "Register-RegisterModel", "Fail", "Notify"]
    assert "  Train -.-> Notify" in drawing.mermaid(model)


def test_missing_definition_is_a_one_line_error(tmp_path):
    done = smpipe_in_process("graph", "-C", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == ("error: pipeline/definition.json: rendered definition not found "
                                   "(hint: run `smpipe-gen render`)")


def test_steps_are_boxed_per_model_when_the_manifest_names_it():
    from pathlib import Path

    from smpipe_gen.project import Project

    examples = Path(__file__).resolve().parent.parent / "examples"
    model = definition.load(Project.at(examples / "two-models"))
    lines = drawing.mermaid(model).splitlines()
    start, end = lines.index('  subgraph model_pca["pca"]'), lines.index("  end")
    assert '    pca_Train["pca-Train<br/>Training"]' in lines[start:end]
    assert '    housing_Evaluate["housing-Evaluate<br/>Metrics"]' in lines  # the config's step class
    dot = drawing.dot(model)
    assert '  subgraph cluster_1 {\n    label="housing";' in dot and dot.count("subgraph cluster_") == 2
    foreign = definition.load_file(examples / "two-models/pipeline/definition.json")  # no manifest: no boxes
    assert "subgraph" not in drawing.mermaid(foreign) and "cluster" not in drawing.dot(foreign)
    assert '  housing_Evaluate["housing-Evaluate<br/>Processing"]' in drawing.mermaid(foreign).splitlines()


def test_plan_graphs_are_boxed_per_model_from_the_manifests():
    from pathlib import Path

    from smpipe_gen import plan
    from smpipe_gen.manifest import Manifest

    pipeline = Path(__file__).resolve().parent.parent / "examples/abalone/pipeline"
    before, data = (json.loads((pipeline / name).read_text()) for name in ("definition.json", "manifest.json"))
    after = json.loads(json.dumps(before).replace("ml.m5.xlarge", "ml.m5.2xlarge"))
    manifest = Manifest.from_json(data, where="manifest.json")
    result = plan.compare(definition.from_json(before, manifest), definition.from_json(after, manifest),
                          base="main", head="pr")
    assert (result.topology_changed, result.graph) == (False, "")  # one instance type: no graph to look at
    branch = after["Steps"][3]["Arguments"]["IfSteps"]  # abalone-CheckMse's: the Transform step goes
    branch[:] = [step for step in branch if step["Name"] != "abalone-Transform"]
    result = plan.compare(definition.from_json(before, manifest), definition.from_json(after, manifest),
                          base="main", head="pr")
    assert result.topology_changed
    assert '  subgraph model_abalone["abalone"]' in result.graph and "abalone-Evaluate<br/>Metrics" in result.graph
    assert "abalone_CreateModel_CreateModel --> abalone_Transform" in result.graph  # its edges, from the base
    assert "  class abalone_Transform removed" in result.graph


def test_step_graph_orders_walks_and_names_cycles_in_declaration_order():
    from smpipe_gen.dag import from_upstreams

    graph = from_upstreams([("d", ["b", "c"]), ("c", ["a"]), ("b", ["a"]), ("a", []), ("e", [])])
    assert graph.order() == ["a", "c", "b", "d", "e"]  # among ready steps, the one declared first
    assert graph.ancestors("d") == ["c", "b", "a"] and graph.descendants("a") == ["d", "c", "b"]
    assert graph.downstream("a") == ["c", "b"] and graph.upstream("d") == {"b", "c"}
    graph.add_edge("d", "a")
    assert graph.find_cycle() == ["d", "a", "c", "d"]  # upstream -> downstream, from the first declared step
