"""Step cache: a finished step's result stored under a key made of its resolved arguments, code
digests and input contents. A hit is trusted only if every output it published still has the
content recorded when it was published."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from smpipe_gen import artifacts
from smpipe_gen.errors import SmpipeError, shorten
from smpipe_gen.paths import file_name
from smpipe_gen.local.jobs import StepResult, read_state
from smpipe_gen.local.store import Store, warn_damaged


def cache_key(step_type: str, arguments: Any, code: dict[str, str], inputs: dict[str, str]) -> str:
    payload = json.dumps({"type": step_type, "arguments": arguments, "code": code, "inputs": inputs},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class Cache:
    def __init__(self, root: Path, store: Store):
        self.root = Path(root)
        self.store = store

    def _path(self, step: str, key: str) -> Path:
        return self.root / file_name(step) / f"{key}.json"

    def lookup(self, step: str, key: str, max_age: float | None = None,
               executions: set[str] | None = None) -> tuple[StepResult, str] | None:
        """A trusted earlier result and the execution that produced it, or None."""
        path = self._path(step, key)
        entry = read_state(path, "cache entry")
        if entry is None:
            return None
        try:
            return self._trusted(entry, max_age, executions)
        # SmpipeError: the entry records an output the store cannot hold (not an S3 URI, ...)
        except (KeyError, TypeError, AttributeError, ValueError, SmpipeError) as error:
            warn_damaged(path, "cache entry", f"{type(error).__name__}: {shorten(str(error))}")
            return None

    def _trusted(self, entry: dict[str, Any], max_age: float | None,
                 executions: set[str] | None) -> tuple[StepResult, str] | None:
        if max_age is not None and time.time() - float(entry["created"]) > max_age:
            return None
        if executions is not None and entry["execution_id"] not in executions:
            return None
        for uri, digest in entry["outputs"].items():
            if self.store.digest(uri) != digest:
                return None
        result = StepResult(properties=dict(entry["properties"]), outputs=dict(entry["outputs"]),
                            metrics={k: float(v) for k, v in entry.get("metrics", {}).items()})
        return result, str(entry["execution_id"])

    def save(self, step: str, key: str, execution_id: str, result: StepResult) -> None:
        entry = {"step": step, "key": key, "execution_id": execution_id, "created": time.time(),
                 "properties": result.properties, "outputs": result.outputs, "metrics": result.metrics}
        # compact: json's C encoder runs only without indent, and this is on the path of every step
        artifacts.write_atomic(self._path(step, key), json.dumps(entry, sort_keys=True, default=str))
