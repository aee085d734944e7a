"""The PR comment under hostile input: every text a pull request controls (step and parameter
names, config values, file names, the environment's name) reaches GitHub's own parser
(cmark-gfm) as text inside code, whatever it holds. Fast: no render, no git."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from smpipe_gen import definition
from smpipe_gen.plan import compare, format_plans
from smpipe_gen.plan.render import code

ABALONE = Path(__file__).resolve().parents[1] / "examples/abalone/pipeline"
HOSTILE = ["a`b``c", "x\n<!-- hide the rest", "@octocat", "#1", "<img src=x onerror=alert(1)>", "| cell | split |",
           "[link](https://evil.example)", "**bold**", "\r\n# heading", "`", "line\u2028separator", "\\"]


def github_html(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


@pytest.mark.parametrize("value", HOSTILE)
def test_a_code_span_holds_any_text_as_one_code_element(value):
    for table in (False, True):
        html = github_html(f"| a |\n|---|\n| {code(value, table)} |\n" if table else f"- {code(value)}\n")
        (inner,) = re.findall(r"<code>(.*?)</code>", html, flags=re.S)
        shown = re.sub(r"[\x00-\x1f\u2028]", " ", value)  # line breaks become spaces, nothing else changes
        assert inner.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&") == shown


def test_a_plan_whose_every_name_is_hostile_renders_as_text_in_code():
    text = (ABALONE / "definition.json").read_text()
    before = json.loads(text)
    hostile = "T`x\\n<!-- hidden @octocat #1 <img src=x> | pipe"  # no . nor [: they end a step reference
    after = json.loads(text.replace("abalone-Train", hostile).replace("MseThreshold", "Mse@threshold<!--"))
    after["Steps"][1]["Arguments"]["HyperParameters"]["eta"] = '"[l](https://evil.example) **bold**"'
    plan = compare(definition.from_json(before), definition.from_json(after), base="main <b>",
                   head="PR #7 @someone", environment="prod\n<!--")
    markdown = format_plans([plan], "markdown")
    html = github_html(markdown)
    assert not re.search(r"<!--|<img|<a |<b>|<strong>bold|<h1", html)
    outside_code = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    assert not re.search(r"@\w|#\d|evil\.example", outside_code), outside_code
    rows = re.findall(r"<tr>", html.split("Cache on SageMaker")[1])
    assert len(rows) == 1 + 4  # the header and the four job steps: no cell split the table
    assert html.count("<code>T`x") >= 3  # the renamed step, its cache row, the parameter it reads
