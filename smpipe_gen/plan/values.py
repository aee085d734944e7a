"""How definition values are spelled for a reviewer, and walked leaf by leaf."""

from __future__ import annotations

import json
from typing import Any

_LIST_KEYS = ("InputName", "OutputName", "ChannelName", "PropertyFileName", "Name")
_EXPRESSIONS = ("Get", "Std:Join", "Std:JsonGet")


def show(value: Any) -> str:
    """A compact spelling of a definition value: expressions as Get(...), Join(...)."""
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "Get":
            return f"Get({inner})"
        if key == "Std:Join" and isinstance(inner, dict):
            return f"Join({json.dumps(inner.get('On', ''))}, [{', '.join(show(v) for v in inner.get('Values', []))}])"
        if key == "Std:JsonGet" and isinstance(inner, dict):
            return f"JsonGet({show(inner.get('PropertyFile'))}, {inner.get('Path')})"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in sorted(value.items())) + "}"
    return json.dumps(value, ensure_ascii=False)


def decode_hyperparameter(value: Any) -> Any:
    """The value a person wrote: the SDK stores hyperparameters JSON-encoded ("\\"5\\"" for 5)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def show_leaf(path: str, value: Any) -> str:
    """``show`` with hyperparameters decoded: ``num_round: 50``, not ``"\\"50\\""``."""
    if "HyperParameters." in path or path.startswith("HyperParameters"):
        decoded = decode_hyperparameter(value)
        return decoded if isinstance(decoded, str) else show(decoded)
    return show(value)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf paths of a step body. Lists of named items are keyed by name (ProcessingInputs[code])
    so inserting one input does not shift every other; expressions and scalar lists are leaves."""
    if isinstance(value, dict) and value and not (len(value) == 1 and next(iter(value)) in _EXPRESSIONS):
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(flatten(item, f"{prefix}.{key}" if prefix else key))
        return leaves
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for key in _LIST_KEYS:
            names = [item.get(key) for item in value]
            if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
                return {path: leaf for item in value for path, leaf in flatten(item, f"{prefix}[{item[key]}]").items()}
        return {path: leaf for i, item in enumerate(value) for path, leaf in flatten(item, f"{prefix}[{i}]").items()}
    return {prefix: value}


def rewrite(value: Any, names: dict[str, str]) -> Any:
    """``value`` with references to renamed steps (and strings equal to an old name, such as
    the step name in an output S3 path) spelled with the new names."""
    if isinstance(value, dict):
        return {key: rewrite(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [rewrite(item, names) for item in value]
    if isinstance(value, str):
        if value in names:
            return names[value]
        for old, new in names.items():
            if value.startswith(f"Steps.{old}.") or value.startswith(f"Steps.{old}["):
                return f"Steps.{new}{value[len('Steps.') + len(old):]}"
            if value.startswith(f"{old} ("):  # the Gate pseudo-field
                return new + value[len(old):]
    return value


def dig(value: Any, path: str) -> Any:
    """``value`` at a dotted path (``ResourceConfig.InstanceType``), None when absent."""
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def duration(seconds: int) -> str:
    """``1 h 30 min`` for 5400."""
    hours, rest = divmod(seconds, 3600)
    return " ".join(part for part in (f"{hours} h" if hours else "", f"{rest // 60} min" if rest // 60 else "",
                                      f"{rest % 60} s" if rest % 60 else "") if part) or "0 s"
