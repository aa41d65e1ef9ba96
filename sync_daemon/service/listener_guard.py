"""What an anonymous client can take of the listener: a bounded time per request, a bounded share of
the connections, and a few lines of the log.

waitress's ``channel_timeout`` counts idle time only, so a client sending a byte a second is never
idle, and its ``connection_limit`` stops accepting once that many sockets are open: 110 such clients
kept ``/healthz`` and the webhook routes unreachable. Its documented hooks are enough to bound this:

- ``GuardedChannel`` (the server's ``channel_class``) closes a connection whose request is not in
  after ``REQUEST_READ_SECONDS`` from its first byte, however steadily it trickles in;
- a new connection that finds its client at ``CONNECTIONS_PER_CLIENT``, or the listener at
  ``SOFT_CONNECTION_LIMIT``, closes the oldest connection still reading (or idle between requests)
  instead of waiting behind it, so a request that arrives whole is always taken and answered; a
  request being served or answered is never closed;
- ``RateLimitedLog`` lets one record per message per minute through from waitress's loggers and
  this module's, with the count of those held back (2 000 requests had written 463 "Task queue
  depth" warnings).

The slow-client figures (docs/webhooks.md) are measured with ``python -m bench.slow_clients``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from waitress.channel import HTTPChannel

REQUEST_READ_SECONDS = 10.0  # a whole request (headers and a 1 MB body) takes milliseconds on a sane link
CONNECTIONS_PER_CLIENT = 32
SOFT_CONNECTION_LIMIT = 200  # above it the oldest reading connection makes room for a new one
# waitress stops accepting at its own limit; room above the soft limit for the sockets it counts too.
SERVER_OPTIONS: dict[str, Any] = {
    "connection_limit": SOFT_CONNECTION_LIMIT + 50,
    "channel_timeout": 30,  # idle (nothing received) connections: closed after this
    "cleanup_interval": 5,  # how often waitress looks for them (its default, 30 s, doubles the wait)
}
LOG_WINDOW_SECONDS = 60.0
GUARDED_LOGGERS = ("waitress", "waitress.queue", __name__)

log = logging.getLogger(__name__)


class GuardedChannel(HTTPChannel):
    """waitress's channel, bounding the time one request may take to arrive and a client's connections."""

    # When the request being read now began arriving (None between requests).
    reading_since: float | None = None

    def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:  # noqa: A002
        super().__init__(server, sock, addr, adj, map=map)
        self.client = addr[0] if isinstance(addr, tuple) and addr else str(addr)
        _make_room(server, self)

    def handle_read(self) -> None:
        """Read as waitress does; then close the connection if its request has been arriving too long."""
        starting = self.request is None
        now = time.time()  # the clock of waitress's own ``last_activity``
        super().handle_read()
        if self.request is None:  # nothing partial left: the request is whole (or none began)
            self.reading_since = None
            return
        if starting or self.reading_since is None:
            self.reading_since = now
        elif now - self.reading_since > REQUEST_READ_SECONDS:
            log.warning("closed a connection whose request was still arriving after %.0f s (from %s)",
                        REQUEST_READ_SECONDS, self.client)
            self.handle_close()

    def waiting_since(self) -> float | None:
        """Since when this connection has held a slot without being served (None: it is being served)."""
        if self.requests or self.total_outbufs_len or self.will_close or self.close_when_flushed:
            return None
        return self.reading_since if self.reading_since is not None else self.last_activity


def _make_room(server: Any, newcomer: GuardedChannel) -> None:
    """Close the oldest waiting connection of the newcomer's client, or of all, when over a limit."""
    channels = [c for c in list(server.active_channels.values()) if isinstance(c, GuardedChannel) and c is not newcomer]
    same_client = [c for c in channels if c.client == newcomer.client]
    if len(same_client) >= CONNECTIONS_PER_CLIENT:
        candidates = same_client
    elif len(channels) >= SOFT_CONNECTION_LIMIT:
        candidates = channels
    else:
        return
    waiting = [(since, channel) for channel in candidates if (since := channel.waiting_since()) is not None]
    if waiting:
        oldest = min(waiting, key=lambda pair: pair[0])[1]
        log.warning("connection limit reached; closed the oldest connection not being served (from %s)",
                    oldest.client)
        oldest.handle_close()


class RateLimitedLog(logging.Filter):
    """One record per logger and message per window; the next one says how many were held back."""

    def __init__(self, window_seconds: float = LOG_WINDOW_SECONDS, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.window = window_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], tuple[float, int]] = {}  # (logger, template) → (last let through, held)

    def filter(self, record: logging.LogRecord) -> bool:
        """True to let the record through (with the count held back since the last one), False to hold it."""
        key = (record.name, str(record.msg))
        now = self.clock()
        with self._lock:
            last, held = self._last.get(key, (None, 0))
            if last is not None and now - last < self.window:
                self._last[key] = (last, held + 1)
                return False
            self._last[key] = (now, 0)
        if held:
            record.msg = f"{record.getMessage()} ({held} more like it in the last {self.window:.0f} s not logged)"
            record.args = ()
        return True


def install(server: Any, log_filter: RateLimitedLog | None = None) -> RateLimitedLog:
    """Guard a waitress server made with ``SERVER_OPTIONS``: its channels, and its loggers' volume."""
    server.channel_class = GuardedChannel
    log_filter = log_filter or _shared_filter
    for name in GUARDED_LOGGERS:
        logger = logging.getLogger(name)
        if log_filter not in logger.filters:
            logger.addFilter(log_filter)
    return log_filter


_shared_filter = RateLimitedLog()
