"""Framework-level variables: ``env.env`` < process environment < command line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Mapping

from smpipe_gen.errors import SmpipeError

ENV_FILE = "env.env"
REQUIRED = ("SMP_ACCOUNTID", "SMP_REGION", "SMP_S3BUCKETNAME", "SMP_ROLE", "SMP_MODEL_CONFIGPATH")
OPTIONAL = ("SMP_SUBNETS", "SMP_SECURITYGROUPS", "SMP_KMSKEY", "SMP_FRAMEWORK_CONFPATH")
KNOWN = REQUIRED + OPTIONAL
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")


def read_env_file(path: Path, shown_as: str) -> dict[str, str]:
    """Parse ``export KEY="value"`` lines (``export`` optional; comments and blanks skipped)."""
    values: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise SmpipeError("not a KEY=value line", where=f"{shown_as}:{number}",
                              hint='write lines as export SMP_REGION="us-east-1"')
        key, raw = match.groups()
        try:
            parts = shlex.split(raw, comments=True)
        except ValueError as exc:
            raise SmpipeError(f"cannot parse the value of {key}: {exc}", where=f"{shown_as}:{number}",
                              hint="close the quotes") from None
        values[key] = " ".join(parts)
    return values


def framework_variables(root: Path, environ: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The SMP_* variables in force: env.env, then the environment, then the command line."""
    env_file = root / ENV_FILE
    merged = read_env_file(env_file, ENV_FILE) if env_file.is_file() else {}
    merged.update({k: v for k, v in environ.items() if k.startswith("SMP_")})
    merged.update(overrides)
    merged = {key: value for key, value in merged.items() if key.startswith("SMP_")}
    missing = [name for name in REQUIRED if not merged.get(name)]
    if missing:
        raise SmpipeError(f"required variable(s) not set: {', '.join(missing)}",
                          where=ENV_FILE if env_file.is_file() else "environment",
                          hint=f'add export {missing[0]}="..." to {ENV_FILE} or set it in the environment')
    return merged


_TOKEN = re.compile(r"SMP_(?:ACCOUNTID|REGION|S3BUCKETNAME|ROLE|SUBNETS|SECURITYGROUPS|KMSKEY)(?![A-Za-z0-9_])")


def substitute(value: object, variables: Mapping[str, str]) -> object:
    """Replace the framework's SMP_* tokens inside every string of a loaded YAML tree.

    Only the framework's own names are replaced, never other environment variables; a string
    that is exactly an unset optional token becomes None (an unset SMP_SUBNETS means no VPC).
    """
    if isinstance(value, dict):  # keys too: local_data maps s3://SMP_S3BUCKETNAME/... URIs
        return {_TOKEN.sub(lambda m: variables.get(m.group(0), m.group(0)), key): substitute(item, variables)
                for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, str) and "SMP_" in value:
        if _TOKEN.fullmatch(value.strip()) and not variables.get(value.strip()):
            return None
        return _TOKEN.sub(lambda m: variables.get(m.group(0), m.group(0)), value)
    return value


def split_list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]
