"""Python source spellings of config values: exact literals, whatever characters they hold."""

from __future__ import annotations

import keyword
import re
from typing import Any, Callable

from smpipe_gen.config.model import ParameterRef


def py(value: Any, param: Callable[[ParameterRef], str] | None = None) -> str:
    """A Python expression that evaluates to ``value``.

    Strings go through repr(), which escapes quotes, backslashes, newlines and control
    characters and keeps non-ASCII text as is, so the rendered file stays valid Python and the
    definition carries the exact string. Parameter references become the parameter variable.
    """
    if isinstance(value, ParameterRef):
        if param is None:
            raise ValueError("a parameter reference needs a parameter namer")
        return param(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k, param)}: {py(v, param)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(py(item, param) for item in value) + "]"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError(f"no literal for {type(value).__name__}")


class Namer:
    """Unique, readable Python identifiers for step and parameter names."""

    def __init__(self, reserved: set[str] | None = None):
        self.used: set[str] = set(reserved or ())
        self.names: dict[str, str] = {}

    def __call__(self, name: str, suffix: str = "") -> str:
        key = f"{name}\0{suffix}"
        if key not in self.names:
            base = re.sub(r"[^0-9a-zA-Z]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)).strip("_").lower()
            base = base or "step"
            if base[0].isdigit() or keyword.iskeyword(base):
                base = f"step_{base}"
            base = f"{base}_{suffix}" if suffix else base
            candidate, counter = base, 2
            while candidate in self.used:
                candidate, counter = f"{base}_{counter}", counter + 1
            self.used.add(candidate)
            self.names[key] = candidate
        return self.names[key]


class Code:
    """A Python expression written out with one argument per line, for readable diffs."""

    def render(self, indent: str) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class Raw(Code):
    """An expression already spelled as source (a variable, a literal from ``py``)."""

    def __init__(self, source: str):
        self.source = source

    def render(self, indent: str) -> str:
        return self.source


class Call(Code):
    """``fn(key=value, ...)``; arguments whose value is None are left out (SDK default)."""

    def __init__(self, fn: str, *args: Code | str, **kwargs: Code | str | None):
        self.fn = fn
        self.args = [_code(a) for a in args]
        self.kwargs = [(k, _code(v)) for k, v in kwargs.items() if v is not None]

    def render(self, indent: str) -> str:
        if not self.args and not self.kwargs:
            return f"{self.fn}()"
        inner = indent + "    "
        lines = [f"{inner}{arg.render(inner)}," for arg in self.args]
        lines += [f"{inner}{key}={value.render(inner)}," for key, value in self.kwargs]
        return f"{self.fn}(\n" + "\n".join(lines) + f"\n{indent})"


class ListOf(Code):
    def __init__(self, items: list[Code | str]):
        self.items = [_code(item) for item in items]

    def render(self, indent: str) -> str:
        if not self.items:
            return "[]"
        if all(isinstance(item, Raw) for item in self.items) and sum(len(i.source) for i in self.items) < 60:
            return "[" + ", ".join(item.render(indent) for item in self.items) + "]"
        inner = indent + "    "
        return "[\n" + "\n".join(f"{inner}{item.render(inner)}," for item in self.items) + f"\n{indent}]"


class DictOf(Code):
    def __init__(self, items: dict[str, Code | str]):
        self.items = {key: _code(value) for key, value in items.items()}

    def render(self, indent: str) -> str:
        if not self.items:
            return "{}"
        inner = indent + "    "
        return "{\n" + "\n".join(f"{inner}{py(k)}: {v.render(inner)}," for k, v in self.items.items()) + f"\n{indent}}}"


def _code(value: Code | str) -> Code:
    return value if isinstance(value, Code) else Raw(value)


def comment_text(text: str) -> str:
    """``text`` made safe for one ``#`` comment line. Names are validated against a pattern
    already; this is the second fence: a line break would end the comment and start code, so
    every non-printable character is written as its escape."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
