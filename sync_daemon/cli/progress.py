"""The progress bar of ``sync-daemon run`` in the foreground on a terminal: a long pass, live on stderr.

The daemon's log lines go through the same console (``write``), so rich prints them above the bar
instead of into it.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text


class TerminalProgress:
    """A bar per long pass (orders read of the total, deliveries made), and a stream for the log above it."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self._lock = threading.Lock()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, progress: Any) -> None:
        """Show a ``PassProgress``; None takes the bar down (the pass is over)."""
        with self._lock:
            if progress is None:
                if self._bar is not None:
                    self._bar.stop()
                self._bar = self._task = None
                return
            if self._bar is None:
                self._bar = Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("orders read,"),
                    TextColumn("{task.fields[delivered]} delivered"), TimeElapsedColumn(),
                    console=self.console, transient=True,
                )
                self._bar.start()
                self._task = self._bar.add_task(progress.kind, total=progress.total, delivered=0)
            assert self._task is not None
            self._bar.update(self._task, completed=progress.read, total=progress.total, delivered=progress.delivered)

    def write(self, text: str) -> int:
        """A log line, printed above the bar (as plain text: never read as markup)."""
        if text.strip():
            self.console.print(Text(text.rstrip("\n")), soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        """Nothing buffered: every line is printed as it comes."""

    def isatty(self) -> bool:
        """A terminal: the log picks its readable format unless told JSON."""
        return True
