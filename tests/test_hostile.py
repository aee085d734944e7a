"""Hostile input: a config file arrives in a pull request, so it is untrusted. Each defect
class found by probing gets a test here that shows the refusal message."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import make_repo, smpipe
from smpipe_gen.render.literals import comment_text

INJECTED_MODEL = '''
conf:
  models:
    "m\\n    open({canary!r}, 'w').write('pwned')\\n    #":
      source_directory: scripts
      preprocess:
        image_uri: img
        entry_point: preprocess.py
  sagemakerPipeline:
    pipelineName: p
    models:
      "m\\n    open({canary!r}, 'w').write('pwned')\\n    #":
        steps:
          - step_name: m-Pre
            step_class: Processing
            step_type: preprocess
'''


@pytest.mark.parametrize("command", ["validate", "render", "check"])
def test_code_in_a_model_name_is_refused_and_never_runs(tmp_path, command):
    canary = tmp_path / "canary"
    repo = make_repo(tmp_path / "repo", INJECTED_MODEL.format(canary=str(canary)))
    result = smpipe(command, "-C", str(repo))
    assert result.returncode == 1, result.stderr
    assert 'model name "m\\n    open(' in result.stderr
    assert "is not allowed" in result.stderr and "conf/conf.yaml:3: conf.models." in result.stderr
    assert "Traceback" not in result.stderr
    assert not canary.exists()
    assert not (repo / "pipeline").exists()


def test_code_in_a_custom_section_name_is_refused(tmp_path):
    conf = '''
    conf:
      models:
        m:
          source_directory: scripts
          "x\\nimport os":
            image_uri: img
            entry_point: preprocess.py
      sagemakerPipeline:
        pipelineName: p
        models:
          m:
            steps:
              - step_name: m-Pre
                step_class: Processing
                step_type: "x\\nimport os"
    '''
    result = smpipe("validate", "-C", str(make_repo(tmp_path, conf)))
    assert result.returncode == 1
    assert "section name 'x\\nimport os' is not allowed" in result.stderr
    assert "step_type" in result.stderr and "String should match pattern" in result.stderr


def test_comments_escape_line_breaks_anyway():
    assert comment_text("a\nb\r\x0cc\u2028d") == "a\\nb\\r\\x0cc\\u2028d"
    assert comment_text(comment_text("x\ny")) == "x\\ny"
