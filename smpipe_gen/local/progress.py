"""What a person sees during and after a local run: a live view with one line per step on a
terminal (one line per state change otherwise, for CI logs) and a summary at the end: a table
on a terminal, plain lines elsewhere (never cut to the terminal width: CI logs keep every step
name, note and metric). Steps are shown by the names people wrote (definition.Step.display_name).
Rich is imported only for a terminal: plain lines cost a cached run nothing to start."""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported only on a terminal, where it shows
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    from smpipe_gen.local.run_state import Node

from smpipe_gen.local.run_state import State

STYLE = {State.PENDING: "dim", State.RUNNING: "yellow", State.CACHED: "cyan", State.DONE: "green",
         State.FAILED: "bold red", State.SKIPPED: "dim", State.NOT_STARTED: "dim", State.STOOD_IN: "magenta"}


def _duration(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}s"


class Progress:
    def __init__(self, console: Console | None = None, names: dict[str, str] | None = None):
        if console is None and sys.stderr.isatty():
            from rich.console import Console

            console = Console(stderr=True)
        self.console = console  # None: plain lines on stderr
        self.names = names or {}
        self.nodes: list[Node] = []
        self.live: Live | None = None
        self._lock = threading.Lock()

    def start(self, nodes: list[Node], header: str) -> None:
        self.nodes = nodes
        self.say(header)
        if self.console is not None and self.console.is_terminal:
            from rich.live import Live

            self.live = Live(self._table(), console=self.console, refresh_per_second=8, transient=True,
                             get_renderable=self._table)
            self.live.start()

    def change(self, node: Node) -> None:
        if self.live is None and node.state is not State.PENDING:
            with self._lock:
                extra = f" {_duration(node.duration)}" if node.state in (State.DONE, State.FAILED, State.CACHED) else ""
                extra = f" ({node.message})" if node.state == State.STOOD_IN else extra
                self.say(f"  {self.shown(node.name)}: {node.state}{extra}")

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def _table(self) -> Table:
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False)
        now = time.time()
        for node in self.nodes:
            seconds = node.duration if node.duration is not None else (now - node.started if node.started else None)
            table.add_row(self.shown(node.name), node.type, f"[{STYLE[node.state]}]{node.state}[/]", _duration(seconds))
        return table

    def say(self, text: str) -> None:
        """One message as is: no markup, no colouring, never wrapped at the console's width."""
        if self.console is None:
            print(text, file=sys.stderr, flush=True)
        else:
            self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def shown(self, name: str) -> str:
        return self.names.get(name, name)

    def summary(self, record: dict[str, Any]) -> None:
        title = f"{record['pipeline']} execution {record['execution_id']}: {record['status']}"
        rows = [(self.shown(name), step["type"], step["status"], _duration(step["duration_seconds"]), _note(step))
                for name, step in record["steps"].items()]
        if self.console is None or not self.console.is_terminal:
            self._plain(title, rows)
            return
        from rich.table import Table

        table = Table(title=title)
        for column in ("step", "type", "status", "duration", "metrics / note"):
            table.add_column(column)
        for name, kind, status, duration, note in rows:
            table.add_row(name, kind, f"[{STYLE[status]}]{status}[/]", duration, note[:120])
        self.console.print(table)

    def _plain(self, title: str, rows: list[tuple[str, ...]]) -> None:
        """The summary as aligned plain lines, whatever the width of the (absent) terminal."""
        header = ("step", "type", "status", "duration", "metrics / note")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
        lines = [title] + ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4]
                           for row in [header, *rows]]
        for line in lines:
            self.say(line.rstrip())


def _note(step: dict[str, Any]) -> str:
    """Metrics, where a cached result came from, or why the step failed."""
    note = ", ".join(f"{k}={v:.4g}" for k, v in step["metrics"].items())
    if step["cached_from"]:
        note = (note + " " if note else "") + f"(from {step['cached_from']})"
    if step["status"] in ("failed", "stood in") and step["message"]:
        note = step["message"]
    return note
