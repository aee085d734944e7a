"""Hostile input: a config file arrives in a pull request, so it is untrusted. Each defect
class found by probing gets a test here that shows the refusal message."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpers import make_repo, smpipe
from smpipe_gen.errors import SmpipeError
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


# ---------------------------------------------------------------- YAML limits

def _load(tmp_path: Path, content: bytes | str):
    from smpipe_gen.config.yaml_source import load_yaml

    file = tmp_path / "conf.yaml"
    file.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SmpipeError) as caught:
        load_yaml(file, "conf/conf.yaml")
    return caught.value.one_line()


BOMB = "conf:\n  unused:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"    {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9))


def test_alias_bomb_under_an_unused_key_fails_fast(tmp_path):
    started = time.monotonic()
    message = _load(tmp_path, BOMB)
    assert time.monotonic() - started < 5
    assert message.startswith("conf/conf.yaml:")
    assert "more than 100,000 nodes once aliases are expanded" in message


def test_deep_nesting_is_one_line_not_recursion_error(tmp_path):
    message = _load(tmp_path, "conf: " + "[" * 5000 + "]" * 5000 + "\n")
    assert message.startswith("conf/conf.yaml:1:") and "nesting deeper than 64 levels" in message
    block = "".join(" " * i + f"k{i}:\n" for i in range(500)) + " " * 500 + "v\n"
    assert "nesting deeper than 64 levels" in _load(tmp_path, block)


def test_size_and_node_count_are_bounded(tmp_path):
    assert "config file is too large (2,000,006 bytes; the limit is 1,048,576)" in _load(
        tmp_path, "conf: " + "x" * 2_000_000)
    many = "conf:\n" + "".join(f"  k{i}: {i}\n" for i in range(60_000))
    assert "more than 100,000 nodes" in _load(tmp_path, many)


def test_nul_and_non_utf8_are_reported_with_line_and_column(tmp_path):
    assert _load(tmp_path, b"conf:\n  models: \xff\n") == (
        "conf/conf.yaml:2:11: not UTF-8: byte 0xff cannot be decoded (hint: save the file as UTF-8)")
    assert _load(tmp_path, "conf:\n  a: b\x00\n").startswith("conf/conf.yaml:2:7: NUL character in the file")
    assert _load(tmp_path, "conf:\n  a: \x07\n").startswith("conf/conf.yaml:2:6: invalid character '\\x07'")


def test_anchors_and_aliases_within_limits_still_work(tmp_path):
    from smpipe_gen.config.yaml_source import load_yaml

    file = tmp_path / "ok.yaml"
    file.write_text("base: &base {image_uri: img, instance_count: 2}\ntrain: *base\n")
    assert load_yaml(file, "ok.yaml").data["train"] == {"image_uri": "img", "instance_count": 2}
