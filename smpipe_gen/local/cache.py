"""Step cache: a finished step's result stored under a key made of its resolved arguments, code
digests and input contents. A hit is trusted only if every output it published still has the
content recorded when it was published."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smpipe_gen.definition import Definition, expire_seconds
from smpipe_gen.errors import SmpipeError, shorten
from smpipe_gen.local.jobs import StepResult, read_state
from smpipe_gen.local.store import Store, warn_damaged
from smpipe_gen.paths import file_name, write_atomic
from smpipe_gen.steps import resolve, step_type

if TYPE_CHECKING:
    from smpipe_gen.local.code import CodeArtifacts
    from smpipe_gen.local.run_state import Node, RunRecords


def cache_key(kind: str, arguments: Any, code: dict[str, str], inputs: dict[str, str]) -> str:
    payload = json.dumps({"type": kind, "arguments": arguments, "code": code, "inputs": inputs},
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
        write_atomic(self._path(step, key), json.dumps(entry, sort_keys=True, default=str))


class Reuse:
    """Whether a step may take an earlier result instead of running: its key (resolved
    arguments with execution ids masked, plus code and input digests) and the rules of
    ``--from-step``, the step's CacheConfig and resuming an unsuccessful run."""

    def __init__(self, cache: Cache, definition: Definition, records: RunRecords, code: CodeArtifacts, *,
                 use_cache: bool, from_step: str | None):
        self.cache, self.definition, self.records, self.code = cache, definition, records, code
        self.store, self.run_root = cache.store, records.run_root  # what a type's local_cache_inputs reads
        self.use_cache, self.from_step = use_cache, from_step
        self.from_ancestors = set(definition.ancestors(from_step)) if from_step else set()

    def key(self, node: Node, arguments: dict[str, Any]) -> str:
        ids = self.records.previous_ids | {self.records.execution_id}
        execution = re.compile("|".join(map(re.escape, sorted(ids))))
        text = json.dumps(arguments, sort_keys=True, default=str)
        masked = execution.sub("<execution>", text)
        strings = set(re.findall(r's3://[^"\\]+', text))
        code = {uri: self.code.digest(uri) for uri in strings if self.code.get(uri)}
        inputs = {}
        kind = step_type(node.type)
        for value in kind.input_uris(arguments):
            if isinstance(value, str) and not self.code.get(value):
                inputs[execution.sub("<execution>", value)] = self.store.digest(value)
        if kind.local_cache_inputs:  # what the step reads besides its arguments (a transform's model)
            extra = resolve(kind.local_cache_inputs)(self, kind.job_arguments(arguments), f"step {node.name}")
            inputs.update(extra.inputs)
            code.update(extra.code)
            for literal, placeholder in extra.masks.items():
                masked = re.sub(re.escape(literal), placeholder, masked)
        return cache_key(node.type, masked, code, inputs)

    def lookup(self, node: Node, key: str) -> tuple[StepResult, str] | None:
        if node.name in self.from_ancestors:
            hit = self.cache.lookup(node.name, key)
            if hit is None:
                raise SmpipeError(f"no earlier result of step {node.name!r} matches its current inputs",
                                  where="--from-step", hint="run without --from-step first")
            return hit
        if not self.use_cache or self.from_step == node.name:
            return None
        if self.from_step and node.name in self.definition.downstream(self.from_step):
            return None
        config = node.step.cache
        if config is not None and config.enabled:
            hit = self.cache.lookup(node.name, key, expire_seconds(config.expire_after))
            if hit:
                return hit
        if self.records.resumable:
            return self.cache.lookup(node.name, key, executions=self.records.resumable)
        return None
