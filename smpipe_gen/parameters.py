"""Values given on the command line: ``NAME=VALUE`` pairs, and pipeline parameters checked
against the definition's Parameters (name, Type, EnumValues). One place for both ``run
--local --param`` and ``apply --start --param``, so a value accepted by one is accepted by the other."""

from __future__ import annotations

from typing import Any

from smpipe_gen.errors import SmpipeError, did_you_mean


def parse_assignments(values: list[str] | None, flag: str, example: str = "NAME=VALUE",
                      split_last: bool = False) -> dict[str, str]:
    """``KEY=VALUE`` pairs into a dict. ``split_last`` splits at the last ``=`` (for
    ``--data s3://bucket/prefix=./dir``, where only the path side may hold one)."""
    result: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.rpartition("=") if split_last else item.partition("=")
        if not sep or not key.strip():
            raise SmpipeError(f"{item!r} is not {example}", where=flag, hint=f"write {flag} {example}")
        result[key.strip()] = value
    return result


def typed_overrides(definition: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """The overridden parameters with values of their declared Type; unknown names refused."""
    declared = {p["Name"]: p for p in definition.get("Parameters", [])}
    values: dict[str, Any] = {}
    for name, raw in overrides.items():
        if name not in declared:
            hint = did_you_mean(name, declared, f"declared parameters: {', '.join(sorted(declared)) or 'none'}")
            raise SmpipeError(f"unknown parameter {name!r}", where=f"--param {name}", hint=hint)
        values[name] = _typed(declared[name], raw)
    return values


def parameter_values(definition: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """Every parameter's value for an execution: its default unless overridden."""
    values = typed_overrides(definition, overrides)
    for spec in definition.get("Parameters", []):
        name = spec["Name"]
        if name not in values:
            if "DefaultValue" not in spec:
                raise SmpipeError(f"parameter {name!r} has no default value", where=f"--param {name}",
                                  hint=f"pass --param {name}=VALUE")
            values[name] = spec["DefaultValue"]
    return values


def _typed(spec: dict[str, Any], raw: str) -> Any:
    name, kind = spec["Name"], spec.get("Type", "String")
    try:
        if kind == "Integer":
            value: Any = int(raw)
        elif kind == "Float":
            value = float(raw)
        elif kind == "Boolean":
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            value = raw.lower() == "true"
        else:
            value = raw
    except ValueError:
        raise SmpipeError(f"{raw!r} is not a valid {kind}", where=f"--param {name}",
                          hint=f"parameter {name} has Type {kind}") from None
    enum = spec.get("EnumValues")
    if enum and value not in enum:
        raise SmpipeError(f"{raw!r} is not one of {enum}", where=f"--param {name}", hint="use one of the EnumValues")
    return value
