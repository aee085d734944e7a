"""codegen's generate() on small configs, in process: which SDK
names the module imports, the variables and order of the steps, the parameters and the pipeline
call. What the SDK makes of the generated code is tested by rendering (test_render.py)."""

from __future__ import annotations

import pytest

from helpers import make_repo
from smpipe_gen.render.bundles import code_bundles
from smpipe_gen.render.codegen import generate
from smpipe_gen.render.engine import code_files, validate_project
from test_config import BASE

GATE_SECTIONS = """
      evaluate:
        image_uri: img
        entry_point: evaluate.py
"""
GATE_PARAMETERS = """
    parameters:
      - {name: MaxMse, type: Float, default: 6.0}
"""
GATE_STEPS = """
          - step_name: m-Evaluate
            step_class: Metrics
            chain_input_source_step: [m-Train, m-Pre]
          - step_name: m-Gate
            step_class: Condition
            conditions:
              - {type: LessThanOrEqualTo, left: {step: m-Evaluate, json_path: regression_metrics.mse.value},
                 right: {Parameter: MaxMse}}
            if_steps: []
            else_steps: [m-Stop]
          - step_name: m-Stop
            step_class: Fail
            error_message: MSE too high
"""


def module(tmp_path, extra_sections: str = "", parameters: str = "", extra_steps: str = ""):
    """The module generated for test_config's two-step config, with these sections, pipeline
    parameters and steps added."""
    pipeline = "  sagemakerPipeline:\n    pipelineName: p\n"
    make_repo(tmp_path, BASE.replace(pipeline, extra_sections.lstrip("\n") + pipeline + parameters.lstrip("\n"))
              + extra_steps.lstrip("\n"))
    resolved = validate_project(tmp_path)
    return generate(resolved, code_bundles(resolved, code_files(resolved)))


def names(code) -> dict[str, list[str]]:
    return {step.name: [variable for variable, _ in step.statements] for step in code.steps}


def test_a_processing_and_training_chain_imports_only_what_it_uses(tmp_path):
    code = module(tmp_path)
    assert names(code) == {"m-Pre": ["m_pre_code", "m_pre_processor", "m_pre"],
                           "m-Train": ["m_train_code", "m_train_estimator", "m_train"]}
    imported = {name for group in code.imports.values() for name in group}
    assert {"ProcessingStep", "TrainingStep", "TrainingInput", "FrameworkProcessor", "Estimator",
            "Pipeline", "PipelineSession"} <= imported
    assert not imported & {"ConditionStep", "FailStep", "JsonGet", "ParameterFloat", "TransformStep", "ModelStep"}
    assert dict(code.constants)["PIPELINE_NAME"] == "'p'" and dict(code.constants)["REGION"] == "'eu-west-1'"
    assert code.parameters == []
    train = code.steps[1].statements[-1][1].render("")
    assert "m_pre.properties.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri" in train


def test_a_quality_gate_adds_its_parameter_condition_and_fail_step_after_what_it_reads(tmp_path):
    code = module(tmp_path, GATE_SECTIONS, GATE_PARAMETERS, GATE_STEPS)
    order = [step.name for step in code.steps]
    assert order.index("m-Evaluate") < order.index("m-Gate") and order.index("m-Stop") < order.index("m-Gate")
    assert [variable for variable, _ in code.parameters] == ["max_mse"]
    assert code.parameters[0][1].render("") == "ParameterFloat(\n    name='MaxMse',\n    default_value=6.0,\n)"
    imported = {name for group in code.imports.values() for name in group}
    assert {"ConditionStep", "ConditionLessThanOrEqualTo", "JsonGet", "FailStep", "PropertyFile",
            "ParameterFloat"} <= imported
    gate = dict(next(s for s in code.steps if s.name == "m-Gate").statements)["m_gate"].render("")
    assert "right=max_mse" in gate and "else_steps=[m_stop]" in gate
    assert "regression_metrics.mse.value" in gate
    pipeline = code.pipeline.render("")
    assert "parameters=[max_mse]" in pipeline and "m_gate" in pipeline


@pytest.mark.parametrize("step_name, variable", [("m-Pre", "m_pre"), ("m-Train", "m_train")])
def test_each_step_ends_with_the_step_object_the_pipeline_lists(tmp_path, step_name, variable):
    code = module(tmp_path)
    step = next(s for s in code.steps if s.name == step_name)
    assert step.statements[-1][0] == variable
    assert variable in code.pipeline.render("")
