"""One local execution's identity and what it leaves on disk: its id and execution variables,
the run bookmark (``last-run.json``: which earlier executions a re-run may resume from), each
step's directory and log, and the run record (``run.json``). The scheduler decides what runs;
this module remembers it."""

from __future__ import annotations

import json
import secrets
import string
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Iterable

from smpipe_gen.definition import Step
from smpipe_gen.errors import SmpipeError
from smpipe_gen.local.endpoint import ACCOUNT
from smpipe_gen.local.jobs import StepResult, read_state
from smpipe_gen.local.store import Store
from smpipe_gen.paths import file_name, write_atomic


class State(str, Enum):
    """A step's state in a local run, as the run record and the progress display spell it."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_STARTED = "not started"
    STOOD_IN = "stood in"  # --stand-in: not run, its properties a file's (local/stand_in.py)

    def __str__(self) -> str:
        return self.value

    @property
    def succeeded(self) -> bool:
        """Whether the steps after it may read its properties."""
        return self in (State.DONE, State.CACHED, State.STOOD_IN)


@dataclass
class Node:
    """A step of the run and what became of it."""

    step: Step
    deps: set[str]
    branch_of: tuple[str, bool] | None  # (condition step, True for IfSteps)
    state: State = State.PENDING
    started: float | None = None
    duration: float | None = None
    result: StepResult | None = None
    message: str | None = None
    cached_from: str | None = None
    error: SmpipeError | None = None
    process_seconds: float | None = None

    @property
    def name(self) -> str:
        return self.step.name

    @property
    def type(self) -> str:
        return self.step.type


def _new_execution_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(12))


class RunRecords:
    """A new execution under ``run_root``, and what the earlier ones there left."""

    def __init__(self, run_root: Path, pipeline: str, region: str):
        self.run_root = run_root
        runs = run_root / "runs"
        self.previous_ids = {p.name for p in runs.iterdir()} if runs.is_dir() else set()
        self.resumable = self._load_resumable()
        self.pipeline = pipeline
        self.execution_id = _new_execution_id()
        self.run_dir = runs / self.execution_id
        self.started = time.time()
        now = datetime.now(timezone.utc).isoformat()
        arn = f"arn:aws:sagemaker:{region}:{ACCOUNT}:pipeline/{pipeline}"
        self.execution = {  # the Execution variables its expressions read
            "PipelineExecutionId": self.execution_id, "PipelineName": pipeline,
            "PipelineExecutionArn": f"{arn}/execution/{self.execution_id}", "PipelineArn": arn,
            "StartDateTime": now, "CurrentDateTime": now,
        }

    def _load_resumable(self) -> set[str]:
        """Executions a re-run may resume from: the unbroken series of unsuccessful runs before this one."""
        last = read_state(self.run_root / "last-run.json", "run bookmark") or {}
        resumable = last.get("resumable", [])
        if last.get("status") == "Succeeded" or not isinstance(resumable, list):
            return set()
        return {r for r in resumable if isinstance(r, str)}

    def write_last_run(self, status: str) -> None:
        resumable = [] if status == "Succeeded" else sorted(self.resumable | {self.execution_id})
        write_atomic(self.run_root / "last-run.json", json.dumps(
            {"execution_id": self.execution_id, "status": status, "resumable": resumable}, indent=1))

    def step_dir(self, name: str) -> Path:
        """A step's working directory: its own for every distinct name, whatever the name holds."""
        return self.run_dir / "steps" / file_name(name)

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.step_dir(name) / "log.txt"
        if not path.is_file():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def write(self, status: str, nodes: Iterable[Node], parameters: dict[str, Any], failure: Node | None,
              store: Store) -> dict[str, Any]:
        """The run record (run.json), and the bookmark that says whether a re-run resumes."""
        ended = time.time()
        record = {
            "execution_id": self.execution_id, "pipeline": self.pipeline, "status": status,
            "started": datetime.fromtimestamp(self.started, timezone.utc).isoformat(),
            "duration_seconds": round(ended - self.started, 3), "parameters": parameters,
            "failed_step": failure.name if failure else None,
            "message": failure.message if failure else None,
            "steps": {n.name: _step_record(n, self.step_dir(n.name), store) for n in nodes},
        }
        write_atomic(self.run_dir / "run.json", json.dumps(record, indent=2, default=str) + "\n")
        self.write_last_run(status)
        return record


def _step_record(node: Node, step_dir: Path, store: Store) -> dict[str, Any]:
    result = node.result
    return {
        "type": node.type, "status": node.state.value,
        "duration_seconds": None if node.duration is None else round(node.duration, 3),
        "log": str(step_dir / "log.txt") if node.state in (State.DONE, State.FAILED) else None,
        "process_seconds": node.process_seconds, "cached_from": node.cached_from, "message": node.message,
        "outputs": {uri: str(store.path(uri)) for uri in sorted(result.outputs)} if result else {},
        "metrics": result.metrics if result else {},
        "properties": _public(result.properties) if result else None,
    }


def _public(props: dict[str, Any]) -> dict[str, Any]:
    keep = ("ProcessingJobName", "TrainingJobName", "ModelArtifacts", "FinalMetricDataList", "ModelName",
            "ModelPackageArn", "TransformJobName", "Outcome", "BestTrainingJob", "HyperParameterTuningJobName",
            "OutputParameters")
    return {k: v for k, v in props.items() if k in keep}
