"""Keep-alive connection pools for every HTTP session: looked up once per host, probed only after a pause.

``core.http.build_session`` mounts ``PooledAdapter`` on every session it builds (the platforms'
and the shop's).
"""

from __future__ import annotations

import time
from typing import Any

import requests
import urllib3
import urllib3.connection
from requests.adapters import HTTPAdapter

# A pooled keep-alive connection is probed for a close by the server (a zero-timeout poll) before
# it is reused only when it has been idle this long: the validate-after-inactivity rule of Apache
# HttpClient (2 s there). Every probe is a system call that hands the interpreter lock to another
# thread and waits to get it back: back-to-back requests of a backfill paid it on every request
# (2–3 % of the throughput of bench/backfill.py). A server closes an idle connection after seconds
# (gunicorn 2 s, Apache 5 s, nginx 75 s), and one closed on purpose says so in its last answer
# ("Connection: close"), which urllib3 honours. A connection dropped silently within the second
# fails its next request as a network error: a retry, never a lost or doubled order. (urllib3 1.x
# probes without asking the connection: there every reuse is probed, as before.)
VALIDATE_AFTER_IDLE_SECONDS = 1.0


class _ProbedWhenIdle:
    """Mixin for urllib3's connections: no liveness probe for one put back in the pool moments ago."""

    idle_since: float | None = None  # when the pool got it back (set by the pool, see below)

    @property
    def is_connected(self) -> bool:
        """urllib3's check (is the socket still open and unread?), skipped while recently used."""
        idle_since = self.idle_since
        if (
            self.sock is not None  # type: ignore[attr-defined]
            and idle_since is not None
            and time.monotonic() - idle_since < VALIDATE_AFTER_IDLE_SECONDS
        ):
            return True
        return super().is_connected  # type: ignore[misc]


class _HTTPConnection(_ProbedWhenIdle, urllib3.connection.HTTPConnection):
    """A plain-HTTP connection probed before reuse only after a pause."""


class _HTTPSConnection(_ProbedWhenIdle, urllib3.connection.HTTPSConnection):
    """A TLS connection probed before reuse only after a pause."""


class _StampsPutBack:
    """Mixin for urllib3's pools: a connection put back remembers when (its idle time starts)."""

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.idle_since = time.monotonic()
        super()._put_conn(conn)  # type: ignore[misc]


class _HTTPPool(_StampsPutBack, urllib3.HTTPConnectionPool):
    """urllib3's pool, with connections probed before reuse only after a pause."""

    ConnectionCls = _HTTPConnection


class _HTTPSPool(_StampsPutBack, urllib3.HTTPSConnectionPool):
    """urllib3's TLS pool, with connections probed before reuse only after a pause."""

    ConnectionCls = _HTTPSConnection


class PooledAdapter(HTTPAdapter):
    """requests' adapter, except that it looks a host's connection pool up once, not on every request.

    Finding the pool means parsing the URL and building the pool's key (and, with a CA bundle, a
    look at the file system) for every request; the answer only changes with the scheme, host,
    ``verify`` and ``cert``, or when the pool is closed (``close``; urllib3 1.x also closes a pool
    its manager drops, 2.x leaves it open and usable). (requests before 2.32 finds
    the pool through ``get_connection`` instead, and then looks it up every time, as it always did.)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: dict[tuple[Any, ...], Any] = {}

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """requests' pool manager, making pools whose connections are probed only after a pause."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def get_connection_with_tls_context(
        self, request: requests.PreparedRequest, verify: Any, proxies: Any = None, cert: Any = None
    ) -> Any:
        """The pool requests would choose, remembered per (scheme, host, verify, cert) while it stays open."""
        if proxies or not isinstance(verify, bool | str) or not isinstance(cert, str | tuple | type(None)):
            return super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
        scheme, _, rest = (request.url or "").partition("://")
        host = rest.partition("/")[0].partition("?")[0].partition("#")[0]
        key = (scheme.lower(), host, verify, cert)
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # a closed pool has no connection queue
            pool = super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
            self._pools[key] = pool
        return pool

    def close(self) -> None:
        """Close every pool and forget them."""
        self._pools.clear()
        super().close()
