"""Plain and read-only JSON data: freezing it, thawing it, and reading optional parts of a
definition a hand-made file may spell otherwise. Pure functions, shared by the definition model
and the step type registry (which the model itself reads)."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any, Iterator, Mapping


def as_text(value: Any) -> str:
    """A JSON value as SageMaker spells it in a string (a parameter value, a Join part, an
    environment variable): booleans lower-case, as JSON writes them; everything else str()."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)



def freeze(value: Any) -> Any:
    """JSON data made read-only: objects become mappings that refuse writes, arrays tuples."""
    if isinstance(value, dict):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """Plain JSON data (dicts and lists, a fresh copy) from frozen data, for json.dumps and for
    code that builds on it."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value


def as_list(value: Any) -> list | tuple:
    """``value`` when it is a list, else nothing: optional lists a hand-made definition may spell
    otherwise add nothing instead of failing in the middle of reading it."""
    return value if isinstance(value, (list, tuple)) else []


def dig(value: Any, *keys: str) -> Any:
    """The value at ``keys`` in (plain or frozen) JSON, or None when a level is missing or is no
    object: a hand-made definition may spell any argument otherwise."""
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def strings(value: Any, key: str | None = None) -> Iterator[tuple[str | None, str]]:
    """(the key holding it, string) for every string in ``value`` (plain or frozen JSON); a
    JSON-encoded string (the SDK's hyperparameters) is decoded too."""
    if isinstance(value, str):
        yield key, value
        if len(value) > 1 and value[0] == value[-1] == '"':
            try:
                yield from strings(json.loads(value), key)
            except ValueError:
                pass
    elif isinstance(value, Mapping):
        for item_key, item in value.items():
            yield from strings(item, item_key)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item, key)
