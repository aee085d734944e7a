"""What a person sees during and after a local run: a live view with one line per step on a
terminal (one line per state change otherwise, for CI logs) and a summary table at the end."""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from smpipe_gen.local.scheduler import Node

STYLE = {"pending": "dim", "running": "yellow", "cached": "cyan", "done": "green", "failed": "bold red",
         "skipped": "dim", "not started": "dim"}


def _duration(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}s"


class Progress:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.nodes: list[Node] = []
        self.live: Live | None = None
        self._lock = threading.Lock()

    def start(self, nodes: list[Node], header: str) -> None:
        self.nodes = nodes
        self.console.print(header)
        if self.console.is_terminal:
            self.live = Live(self._table(), console=self.console, refresh_per_second=8, transient=True,
                             get_renderable=self._table)
            self.live.start()

    def change(self, node: Node) -> None:
        if self.live is None and node.state != "pending":
            with self._lock:
                extra = f" {_duration(node.duration)}" if node.state in ("done", "failed", "cached") else ""
                self.console.print(f"  {node.name}: {node.state}{extra}", highlight=False)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def _table(self) -> Table:
        table = Table(box=None, show_header=False, pad_edge=False)
        now = time.time()
        for node in self.nodes:
            seconds = node.duration if node.duration is not None else (now - node.started if node.started else None)
            table.add_row(node.name, node.type, f"[{STYLE[node.state]}]{node.state}[/]", _duration(seconds))
        return table

    def summary(self, record: dict[str, Any]) -> None:
        table = Table(title=f"{record['pipeline']} execution {record['execution_id']}: {record['status']}")
        for column in ("step", "type", "status", "duration", "metrics / note"):
            table.add_column(column)
        for name, step in record["steps"].items():
            note = ", ".join(f"{k}={v:.4g}" for k, v in step["metrics"].items())
            if step["cached_from"]:
                note = (note + " " if note else "") + f"(from {step['cached_from']})"
            if step["status"] == "failed" and step["message"]:
                note = step["message"][:120]
            table.add_row(name, step["type"], f"[{STYLE[step['status']]}]{step['status']}[/]",
                          _duration(step["duration_seconds"]), note)
        self.console.print(table)
