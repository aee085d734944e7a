"""Config loading and validation: every error is one line with file, line and key, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ENV_FILE, make_repo, smpipe, write
from smpipe_gen.config.loader import load_config
from smpipe_gen.config.resolve import resolve
from smpipe_gen.errors import SmpipeError
from smpipe_gen.config.dependencies import DependencySyntaxError, parse_chain
from smpipe_gen.dag import StepGraph

BASE = """
conf:
  models:
    m:
      source_directory: scripts
      preprocess:
        image_uri: img
        entry_point: preprocess.py
        channels:
          train:
            dataFiles:
              - sourceName: raw
                fileName: s3://SMP_S3BUCKETNAME/raw.csv
      train:
        image_uri: img
        entry_point: train.py
  sagemakerPipeline:
    pipelineName: p
    models:
      m:
        steps:
          - step_name: m-Pre
            step_class: Processing
            step_type: preprocess
          - step_name: m-Train
            step_class: Training
            chain_input_source_step: [m-Pre]
"""


def errors_of(tmp_path: Path, conf: str) -> list[str]:
    make_repo(tmp_path, conf)
    with pytest.raises(SmpipeError) as caught:
        resolve(load_config(tmp_path, environ={}))
    return caught.value.lines()


def test_loads_and_substitutes_framework_tokens(tmp_path):
    make_repo(tmp_path, BASE)
    loaded = load_config(tmp_path, environ={})
    pre = loaded.spec.models["m"].preprocess
    assert pre.channel_map()["train"].dataFiles[0].fileName == "s3://test-bucket/raw.csv"
    assert loaded.spec.settings.subnets == [] and loaded.spec.settings.region == "eu-west-1"


def test_command_line_beats_environment_beats_env_file(tmp_path):
    make_repo(tmp_path, BASE)
    from_env = load_config(tmp_path, environ={"SMP_REGION": "us-west-2", "SMP_SUBNETS": "subnet-a, subnet-b"})
    assert from_env.spec.settings.region == "us-west-2"
    assert from_env.spec.settings.subnets == ["subnet-a", "subnet-b"]
    overridden = load_config(tmp_path, overrides={"SMP_REGION": "ap-south-1"}, environ={"SMP_REGION": "us-west-2"})
    assert overridden.spec.settings.region == "ap-south-1"


def test_unknown_key_names_file_line_and_suggests(tmp_path):
    lines = errors_of(tmp_path, BASE.replace("entry_point: train.py", "entry_piont: train.py"))
    assert len(lines) == 1
    assert lines[0].startswith("conf/conf.yaml:15: conf.models.m.train.entry_piont: unknown key 'entry_piont'")
    assert "did you mean 'entry_point'?" in lines[0]


def test_wrong_type_and_missing_key(tmp_path):
    conf = BASE.replace("instance_count" if False else "image_uri: img\n        entry_point: train.py",
                        "image_uri: img\n        instance_count: many")
    lines = errors_of(tmp_path, conf)
    assert any("conf.models.m.train.instance_count" in line and "many" in line for line in lines)
    lines = errors_of(tmp_path, BASE.replace("    pipelineName: p\n", ""))
    assert any("missing required key 'pipelineName'" in line and "conf/conf.yaml:" in line for line in lines)


def test_step_names_unique_and_references_exist(tmp_path):
    conf = BASE + """          - step_name: m-Train
            step_class: Training
            chain_input_source_step: [m-Prep]
"""
    lines = errors_of(tmp_path, conf)
    assert any("step name 'm-Train' is used twice" in line for line in lines)
    conf = BASE.replace("chain_input_source_step: [m-Pre]", "chain_input_source_step: [m-Prep]")
    (line,) = errors_of(tmp_path, conf)
    assert "conf.sagemakerPipeline.models.m.steps.1.chain_input_source_step.0: unknown step 'm-Prep'" in line
    assert "did you mean 'm-Pre'?" in line


def test_dependencies_parse_and_cycles_are_named(tmp_path):
    assert parse_chain("a >> [b, c] >> d") == [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    with pytest.raises(DependencySyntaxError):
        parse_chain("a > b")
    lines = errors_of(tmp_path, BASE + "    dependencies:\n      - m-Pre >> m-Tran\n")
    assert any("unknown step 'm-Tran'" in line and "did you mean 'm-Train'" in line for line in lines)
    lines = errors_of(tmp_path, BASE + "    dependencies:\n      - m-Pre >> m-Train >\n")
    assert any("cannot parse" in line and ".dependencies.0" in line for line in lines)
    (line,) = errors_of(tmp_path, BASE + "    dependencies:\n      - m-Train >> m-Pre\n")
    assert "dependency cycle: " in line and "m-Pre >> m-Train >> m-Pre" in line


def test_graph_order_is_stable_declaration_order():
    graph = StepGraph()
    for name in ("c", "a", "b"):
        graph.add_step(name)
    graph.add_edge("b", "a")
    assert graph.order() == ["c", "b", "a"]
    assert graph.find_cycle() is None


def test_transform_needs_a_model_and_register_a_trained_model(tmp_path):
    conf = BASE.replace("""      train:
        image_uri: img""", """      transform:
        image_uri: img
        entry_point: inference.py
      registry:
        ModelPackageGroupName: g
      train:
        image_uri: img""") + """          - step_name: m-Transform
            step_class: Transform
            chain_input_source_step: [m-Pre]
"""
    (line,) = errors_of(tmp_path, conf)
    assert "Transform step 'm-Transform' has no model to use" in line and "add a CreateModel step" in line
    conf = conf.replace("step_class: Training\n            chain_input_source_step: [m-Pre]",
                        "step_class: Processing\n            step_type: preprocess")
    conf = conf.replace("m-Transform\n            step_class: Transform", "m-Reg\n            step_class: RegisterModel")
    conf = conf.replace("""          - step_name: m-Reg
            step_class: RegisterModel
            chain_input_source_step: [m-Pre]""", """          - step_name: m-Reg
            step_class: RegisterModel""")
    lines = errors_of(tmp_path, conf)
    assert any("RegisterModel step 'm-Reg' has no trained model" in line for line in lines)


def test_condition_parameters_and_fail_checks(tmp_path):
    conf = BASE + """          - step_name: m-Gate
            step_class: Condition
            conditions:
              - type: LessThan
                left: {step: m-Train, json_path: a.b}
                right: {Parameter: Threshold}
            if_steps: [m-Nope]
          - step_name: m-Fail
            step_class: Fail
"""
    lines = errors_of(tmp_path, conf)
    joined = "\n".join(lines)
    assert "a Fail step needs 'error_message'" in joined
    conf = conf.replace("            step_class: Fail\n", "            step_class: Fail\n            error_message: stop\n")
    joined = "\n".join(errors_of(tmp_path, conf))
    assert "unknown step 'm-Nope'" in joined
    assert "'m-Train' is a Training step; conditions read JSON reports of Metrics steps" in joined
    assert "unknown parameter 'Threshold'" in joined


def test_model_files_merge_by_glob_with_one_anchor(tmp_path):
    write(tmp_path / "env.env", ENV_FILE.format(configpath="*/conf/conf.yaml"))
    write(tmp_path / "a" / "scripts" / "train.py", "")
    write(tmp_path / "b" / "scripts" / "train.py", "")
    write(tmp_path / "a" / "conf" / "conf.yaml", """
        conf:
          models:
            a: {source_directory: a/scripts, train: {image_uri: img, entry_point: train.py}}
        """)
    write(tmp_path / "b" / "conf" / "conf.yaml", """
        conf:
          models:
            b: {source_directory: b/scripts, train: {image_uri: img, entry_point: train.py}}
          sagemakerPipeline:
            pipelineName: ab
            models:
              a: {steps: [{step_name: a-Train, step_class: Training}]}
              b: {steps: [{step_name: b-Train, step_class: Training}]}
            dependencies: ["a-Train >> b-Train"]
        """)
    resolved = resolve(load_config(tmp_path, environ={}))
    assert list(resolved.steps) == ["a-Train", "b-Train"]
    assert resolved.spec.config_files == ["a/conf/conf.yaml", "b/conf/conf.yaml"]
    write(tmp_path / "c" / "conf" / "conf.yaml", """
        conf:
          models:
            a: {source_directory: a/scripts}
          sagemakerPipeline: {pipelineName: x, models: {}}
        """)
    with pytest.raises(SmpipeError) as caught:
        load_config(tmp_path, environ={})
    joined = "\n".join(caught.value.lines())
    assert "c/conf/conf.yaml:3: conf.models.a: model 'a' is defined twice (also in a/conf/conf.yaml)" in joined
    assert "sagemakerPipeline is defined twice (also in b/conf/conf.yaml)" in joined


def test_original_framework_layout_loads_unchanged(tmp_path):
    """The public framework's spellings: channels as a bare string or an empty mapping,
    ModelRepack as the string "False", hyperparams, a framework conf naming SMP_ variables."""
    write(tmp_path / "env.env", ENV_FILE.format(configpath="examples/tf/conf/conf.yaml")
          + 'export SMP_SUBNETS="subnet-1,subnet-2"\nexport SMP_SECURITYGROUPS="sg-1"\n')
    write(tmp_path / "framework" / "conf" / "conf.yaml", """
        conf:
          applicationName: aiml
          s3Bucket: SMP_S3BUCKETNAME
          sagemakerNetworkSecurity:
            subnets: SMP_SUBNETS
            role: SMP_ROLE
            security_groups_id: SMP_SECURITYGROUPS
          models:
            projectName: housing
            modelName: calhousing
        """)
    for script in ("preprocess.py", "train.py", "inference.py", "evaluate.py"):
        write(tmp_path / "examples" / "tf" / "modelscripts" / script, "")
    write(tmp_path / "examples" / "tf" / "conf" / "conf.yaml", """
        ---
        conf:
            models:
                calhousing:
                    source_directory: examples/tf/modelscripts
                    preprocess:
                        image_uri: SMP_ACCOUNTID.dkr.ecr.SMP_REGION.amazonaws.com/sklearn:1.2-1
                        entry_point: preprocess.py
                        channels:
                            train:
                                dataFiles:
                                    - sourceName: raw_data
                                      fileName: s3://SMP_S3BUCKETNAME/housing/cal_housing.data
                    train:
                        image_uri: img-train
                        entry_point: train.py
                        hyperparams:
                            epochs: 3
                    registry:
                        ModelRepack: "False"
                        InferenceSpecification:
                            image_uri: img-infer
                            supported_content_types:
                                - application/json
                            supported_response_MIME_types:
                                - application/json
                            approval_status: PendingManualApproval
                    transform:
                      image_uri: img-infer
                      entry_point: inference.py
                      channels:
                          train:
                    evaluate:
                      image_uri: img-eval
                      entry_point: evaluate.py
                      channels: train
                      content_type: application/json
            sagemakerPipeline:
                pipelineName: calhousing-test
                models:
                    calhousing:
                        steps:
                            - step_name: calhousing-Preprocessing
                              step_type: preprocess
                              step_class: Processing
                              enable_cache: True
                            - step_name: calhousing-Training
                              step_class: Training
                              enable_cache: True
                              chain_input_source_step:
                                - calhousing-Preprocessing
                            - step_name: calhousing-CreateModel
                              step_class: CreateModel
                            - step_name: calhousing-Transform
                              step_class: Transform
                              chain_input_source_step:
                                - calhousing-Preprocessing
                              chain_input_additional_prefix: test/x_test.csv
                            - step_name: calhousing-Metrics
                              step_class: Metrics
                              chain_input_source_step:
                                - calhousing-Preprocessing
                                - calhousing-Transform
                            - step_name: calhousing-Register
                              step_class: RegisterModel
                dependencies:
                    - calhousing-Preprocessing >> calhousing-Training >> calhousing-CreateModel >> calhousing-Transform >> calhousing-Metrics >> calhousing-Register
        """)
    resolved = resolve(load_config(tmp_path, environ={}))
    settings = resolved.spec.settings
    assert settings.subnets == ["subnet-1", "subnet-2"] and settings.security_groups == ["sg-1"]
    assert settings.project_name == "housing"
    model = resolved.spec.models["calhousing"]
    assert model.preprocess.image_uri == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sklearn:1.2-1"
    assert model.registry.ModelRepack is False and model.train.all_hyperparameters == {"epochs": "3"}
    assert list(model.evaluate.channel_map()) == ["train"] and list(model.transform.channel_map()) == ["train"]
    register = resolved.steps["calhousing-Register"]
    assert register.trained_step == "calhousing-Training" and register.metrics_step == "calhousing-Metrics"
    assert resolved.steps["calhousing-Register"].depends_on == ["calhousing-Metrics"]


def test_cli_errors_are_one_line_without_traceback(tmp_path):
    make_repo(tmp_path, BASE.replace("step_class: Training", "step_class: Trainng"))
    result = smpipe("validate", "-C", str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: conf/conf.yaml:25: conf.sagemakerPipeline.models.m.steps.1.step_class:")
    assert "Trainng" in line and "hint:" in line


def test_invalid_yaml_and_missing_variables(tmp_path):
    lines = errors_of(tmp_path, BASE.replace("pipelineName: p", "pipelineName: [p"))
    assert lines[0].startswith("conf/conf.yaml:") and "invalid YAML" in lines[0]
    (tmp_path / "env.env").write_text('export SMP_REGION="x"\n')
    with pytest.raises(SmpipeError) as caught:
        load_config(tmp_path, environ={})
    assert "SMP_ACCOUNTID" in caught.value.one_line() and "env.env" in caught.value.one_line()


def test_schema_command_prints_json_schema():
    import json

    result = smpipe("schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["properties"]["conf"]["properties"]["sagemakerPipeline"] == {"$ref": "#/$defs/PipelineConfig"}
    assert "step_class" in schema["$defs"]["Step"]["properties"]


def test_errors_inside_union_values_point_at_the_key(tmp_path):
    conf = BASE.replace("entry_point: train.py", "entry_point: train.py\n        instance_type: {Paramter: X}")
    lines = errors_of(tmp_path, conf)
    assert lines == [
        "conf/conf.yaml:16: conf.models.m.train.instance_type.Parameter: missing required key 'Parameter' "
        "(hint: add it; see `smpipe-gen schema` for the format)",
        "conf/conf.yaml:16: conf.models.m.train.instance_type.Paramter: unknown key 'Paramter' "
        "(hint: did you mean 'Parameter'?)"]
    conf = BASE + """          - step_name: m-Gate
            step_class: Condition
            conditions:
              - type: LessThan
                left: {step: m-Train}
                right: 1
"""
    lines = errors_of(tmp_path, conf)
    assert any("conditions.0.left.json_path: missing required key 'json_path'" in line for line in lines), lines


def test_model_repack_true_is_refused_with_the_reason(tmp_path):
    conf = BASE.replace("      train:\n        image_uri", "      registry:\n        ModelRepack: \"True\"\n      train:\n        image_uri")
    (line,) = errors_of(tmp_path, conf)
    assert line.startswith("conf/conf.yaml:14: conf.models.m.registry.ModelRepack: ModelRepack: True is not supported")
    assert "use ModelRepack: False" in line
