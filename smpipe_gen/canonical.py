"""The byte-stable JSON text of the rendered files: the same data always gives the same bytes."""

from __future__ import annotations

import json
import re
from typing import Any

# The tool's version (headers, manifest) and the SDK's (manifest): a rendered file that differs
# only there is the same render (check reports no drift, render leaves the file as it is).
_VERSION_LINE = re.compile(r"smpipe-gen \d+(?:\.\d+)+\S*|(?<=\"sagemaker_version\": )\"[^\"]*\"")


def versionless(text: str) -> str:
    """A rendered file's text with the tool's and the SDK's versions masked."""
    return _VERSION_LINE.sub("version", text)


def canonical_json(data: Any) -> str:
    """The one JSON spelling used for every rendered file: sorted keys, two-space indent,
    real UTF-8 characters, trailing newline. Same data, same bytes."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


_STEP_LISTS = ("Steps", "IfSteps", "ElseSteps")


_STEP_INDENT = " " * 4  # where canonical_json puts a top-level step


def definition_json(definition: dict[str, Any]) -> str:
    """definition.json's spelling: canonical_json, except that a step inside a condition's
    IfSteps/ElseSteps is written at the indentation of a top-level step. Adding or removing a
    gate then changes only the lines of the gate, not every line of the steps it guards."""
    steps: list[str] = []

    def hollow(value: Any) -> Any:
        """``value`` with every step replaced by a placeholder naming its index in ``steps``."""
        if isinstance(value, dict):
            return {key: [placeholder(item) for item in item_list]
                    if key in _STEP_LISTS and isinstance(item_list, list) else hollow(item_list)
                    for key, item_list in value.items()}
        return [hollow(item) for item in value] if isinstance(value, list) else value

    def placeholder(step: Any) -> Any:
        if not isinstance(step, dict):
            return hollow(step)
        steps.append("")
        index = len(steps) - 1
        # a branch's steps at the left margin of their condition: shifted with it, they land
        # where the top-level steps are
        steps[index] = fill(json.dumps(hollow(step), indent=2, sort_keys=True, ensure_ascii=False), "")
        return f"\0step {index}"

    def fill(text: str, margin: str) -> str:
        return re.sub(r'(?m)^ *"\\u0000step (\d+)"(,?)$',
                      lambda m: _indent(steps[int(m.group(1))], margin) + m.group(2), text)

    text = fill(json.dumps(hollow(definition), indent=2, sort_keys=True, ensure_ascii=False), _STEP_INDENT) + "\n"
    if json.loads(text) != definition:  # the placeholders are NULs, which no config can hold
        raise AssertionError("definition_json changed the definition")
    return text


def _indent(text: str, margin: str) -> str:
    """``text`` with ``margin`` before each of its JSON lines. JSON ends lines with LF only;
    textwrap.indent would also break lines at the characters JSON writes raw in strings (U+2028,
    U+0085), and change the string."""
    return "\n".join(margin + line for line in text.split("\n"))
