"""A small bounded pool of daemon threads for HTTP sends.

``concurrent.futures.ThreadPoolExecutor`` joins its threads at interpreter exit, so a request
hanging until its timeout would hold up a shutdown; these threads are daemons, and a request
abandoned at exit is safe because its ledger row still says ``sending``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

_STOP = object()


class WorkerPool:
    """Runs callables on at most ``size`` daemon threads; ``submit`` returns a Future."""

    def __init__(self, size: int, name: str) -> None:
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True) for index in range(max(size, 1))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        """Queue ``function(*args)``; its result or exception lands in the returned Future."""
        future: Future[Any] = Future()
        self._tasks.put((future, function, args))
        return future

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is _STOP:
                return
            future, function, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function(*args))
            except BaseException as error:  # noqa: BLE001 - the caller decides what an error means
                future.set_exception(error)

    def shutdown(self) -> None:
        """Let the threads finish what they hold and end; does not wait for them."""
        for _ in self._threads:
            self._tasks.put(_STOP)
