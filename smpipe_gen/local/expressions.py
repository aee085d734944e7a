"""Evaluating the definition's expression language: Parameters, ExecutionVariables, Std:Join,
Get on step properties, Std:JsonGet on property files, and conditions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from smpipe_gen.definition import parse_json
from smpipe_gen.errors import SmpipeError, shorten
from smpipe_gen.json_values import as_text

_TOKEN = re.compile(r"\.?([A-Za-z_][\w-]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_LIST_KEYS = ("OutputName", "ChannelName", "MetricName", "Name", "InputName")


def walk(value: Any, path: str, where: str) -> Any:
    """Follow a property path like ``ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri``."""
    pos, current = 0, value
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if not match:
            raise SmpipeError(f"cannot parse property path {path!r}", where=where)
        pos = match.end()
        attr, index, key1, key2 = match.groups()
        key = attr if attr is not None else key1 if key1 is not None else key2
        try:
            if index is not None:
                current = current[int(index)]
            elif isinstance(current, dict):
                current = current[key]
            elif isinstance(current, list):
                current = next(item for item in current if isinstance(item, dict)
                               and any(item.get(k) == key for k in _LIST_KEYS))
            else:
                raise KeyError(key)
        except (KeyError, IndexError, StopIteration, TypeError):
            raise SmpipeError(f"property {path!r} does not exist", where=where,
                              hint="check the Get reference against the step's outputs") from None
    return current


def json_path(data: Any, path: str, where: str) -> Any:
    """The JsonGet path subset SageMaker accepts: dotted keys and [index]."""
    path = path[2:] if path.startswith("$.") else path
    return walk(data, path, where)


_MISSING = object()
FOREIGN_HINT = "a definition from the SageMaker SDK never has this shape: rebuild it"


def _operands(body: Any, key: str | None, where: str, kind: type = object) -> Any:
    """``body[key]`` (``body`` itself for None) when it is a ``kind`` or an expression; a hand-made
    definition of another shape is one error naming the step."""
    value = body if key is None else body.get(key, _MISSING) if isinstance(body, dict) else _MISSING
    if value is _MISSING or not isinstance(value, (kind, dict)):  # a dict: an expression that gives the value
        raise SmpipeError(f"malformed expression {shorten(repr(body))}", where=where,
                          hint=FOREIGN_HINT)
    return value


class Resolver:
    """Resolves expressions against parameters, execution variables and finished steps.

    ``step_properties(name)`` returns a finished step's properties (raising if it did not run);
    ``property_file(step, name)`` returns the local path of a property file.
    """

    def __init__(self, parameters: dict[str, Any], execution: dict[str, Any],
                 step_properties: Callable[[str], dict[str, Any]],
                 property_file: Callable[[str, str], Path], read_uri: Callable[[str], Path]):
        self.parameters = parameters
        self.execution = execution
        self.step_properties = step_properties
        self.property_file = property_file
        self.read_uri = read_uri

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            return [self.resolve(item, where) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, body), = value.items()
            if key == "Get":
                return self.get(body, where)
            if key == "Std:Join":
                parts = self.resolve(_operands(body, "Values", where, list), where)
                return str(body.get("On", "")).join(as_text(p) for p in parts)
            if key == "Std:JsonGet":
                return self.json_get(_operands(body, None, where, dict), where)
        return {k: self.resolve(v, where) for k, v in value.items()}

    def get(self, ref: str, where: str) -> Any:
        if not isinstance(ref, str):
            raise SmpipeError(f"Get needs a reference such as Steps.<step>.<property>, got {shorten(repr(ref))}",
                              where=where, hint=FOREIGN_HINT)
        head, _, rest = ref.partition(".")
        if head == "Parameters":
            if rest not in self.parameters:
                raise SmpipeError(f"unknown parameter {rest!r}", where=where, hint="declare it in the pipeline parameters")
            return self.parameters[rest]
        if head == "Execution":
            if rest not in self.execution:
                raise SmpipeError(f"unknown execution variable {rest!r}", where=where)
            return self.execution[rest]
        if head == "Steps":
            step, _, path = rest.partition(".")
            props = self.step_properties(step)
            if path.startswith("PropertyFiles."):
                return {"PropertyFile": (step, path[len("PropertyFiles."):])}
            return walk(props, path, f"{where}: Steps.{step}")
        raise SmpipeError(f"unsupported reference {ref!r}", where=where)

    def json_get(self, body: dict[str, Any], where: str) -> Any:
        if "PropertyFile" in body:
            ref = self.resolve(body["PropertyFile"], where)
            pair = ref.get("PropertyFile") if isinstance(ref, dict) else (None, ref)  # or a name alone
            step, name = pair if isinstance(pair, tuple) else (None, None)
            if not isinstance(name, str):
                raise SmpipeError(f"JsonGet's PropertyFile {shorten(repr(ref))} is no Get of Steps.<step>.PropertyFiles.<name>",
                                  where=where, hint=FOREIGN_HINT)
            path = self.property_file(step, name)
        else:
            path = self.read_uri(self.resolve(_operands(body, "S3Uri", where, str), where))
        hint = "the step must write the file named in its PropertyFiles"
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SmpipeError(f"property file {path} was not written", where=where, hint=hint) from None
        except (OSError, UnicodeDecodeError) as error:
            raise SmpipeError(f"property file {path} cannot be read ({error})", where=where, hint=hint) from None
        data = parse_json(text, str(path), f"property file of {where}", hint)
        json_path_ = self.resolve(_operands(body, "Path", where, str), where)
        return json_path(data, json_path_, f"{where}: JsonGet {shorten(str(json_path_))}")

    def condition(self, cond: dict[str, Any], where: str) -> bool:
        """Evaluate one condition of every type SageMaker supports."""
        kind = _operands(cond, None, where, dict).get("Type")
        if kind == "Not":
            return not self.condition(_operands(cond, "Expression", where, dict), where)
        if kind == "Or":
            return any(self.condition(c, where) for c in _operands(cond, "Conditions", where, list))
        if kind == "In":
            query = self.resolve(_operands(cond, "QueryValue", where), where)
            return any(_equal(query, self.resolve(v, where)) for v in _operands(cond, "Values", where, list))
        left = self.resolve(_operands(cond, "LeftValue", where), where)
        right = self.resolve(_operands(cond, "RightValue", where), where)
        if kind == "Equals":
            return _equal(left, right)
        compare = {"GreaterThan": lambda a, b: a > b, "GreaterThanOrEqualTo": lambda a, b: a >= b,
                   "LessThan": lambda a, b: a < b, "LessThanOrEqualTo": lambda a, b: a <= b}.get(kind)
        if compare is None:
            raise SmpipeError(f"unsupported condition type {kind!r}", where=where)
        try:
            return compare(*_comparable(left, right))
        except TypeError:
            raise SmpipeError(f"cannot compare {left!r} with {right!r}", where=where) from None


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, (int, float)) or isinstance(right, (int, float)):
        try:
            return float(left), float(right)
        except (TypeError, ValueError):
            pass
    return left, right


def _equal(left: Any, right: Any) -> bool:
    a, b = _comparable(left, right)
    return a == b
