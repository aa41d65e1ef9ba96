"""The daemon's one small HTTP listener: webhooks as hints, ``/healthz`` and ``/metrics``.

Served by waitress in the daemon's own process: a maintained, pure-Python production WSGI server
with no dependencies, which binds in its constructor (a port in use is a clear error at start,
before anything else runs), caps request bodies itself (413 before the app reads a byte), and
runs requests on a small fixed thread pool. The request threads only verify, classify and
record hints (``HintBox``); they never write the ledger or call a platform, so every answer
comes back within milliseconds and a flood cannot reach the shop or the platforms.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import structlog
from waitress.server import create_server

from sync_daemon.core.errors import ConfigurationError
from sync_daemon.core.server_settings import ServerSettings
from sync_daemon.platforms.tracktor.webhook import webhook_order_ids
from sync_daemon.service import listener_guard
from sync_daemon.service.health import Health
from sync_daemon.service.hints import EVERYTHING, HintBox
from sync_daemon.service.metrics import CONTENT_TYPE, Metrics
from sync_daemon.source import webhooks

log = structlog.get_logger("sync_daemon.listener")

WOOCOMMERCE_PATH = "/webhooks/woocommerce"
TRACKTOR_PATH = "/webhooks/tracktor"
_STATUS_TEXT = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized", 404: "404 Not Found",
                405: "405 Method Not Allowed", 413: "413 Payload Too Large", 503: "503 Service Unavailable"}
_LOGGED_SOURCES_LIMIT = 1_000
# Signed deliveries answered 200 that cause no read of their own, and why (logged at debug).
_DROPPED = {"duplicate": "a replay: same delivery id and signature as one already taken",
            "dropped": "too many orders waiting; the poll and the sweep find it",
            "ignored": "topic not about orders"}


@dataclass
class Routes:
    """What the app answers with: the current settings, the hint boxes, metrics and health."""

    settings: Callable[[], ServerSettings]  # read per request: a reload changes secrets at once
    hints: HintBox[int]
    metrics: Metrics
    health: Health | None = None
    tracktor_hints: HintBox[str] | None = None  # Tracktor order ids, or EVERYTHING


class ListenerApp:
    """The WSGI application (usable without a socket in tests)."""

    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self._logged_sources: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        status, body, content_type = self.handle(environ)
        start_response(_STATUS_TEXT.get(status, f"{status} Status"),
                       [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def handle(self, environ: dict[str, Any]) -> tuple[int, bytes, str]:
        """(status, body, content type) of one request."""
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "") or "/"
        if path == "/healthz":
            return self._healthz() if method in ("GET", "HEAD") else _json(405, {"error": "use GET"})
        if path == "/metrics":
            if method not in ("GET", "HEAD"):
                return _json(405, {"error": "use GET"})
            return 200, self.routes.metrics.render(), CONTENT_TYPE
        if path == WOOCOMMERCE_PATH:
            return self._woocommerce(environ) if method == "POST" else _json(405, {"error": "use POST"})
        if path == TRACKTOR_PATH or path.startswith(TRACKTOR_PATH + "/"):
            return self._tracktor(environ, path) if method == "POST" else _json(404, {"error": "not found"})
        return _json(404, {"error": "not found"})

    # -- endpoints -----------------------------------------------------------------------

    def _healthz(self) -> tuple[int, bytes, str]:
        if self.routes.health is None:
            return _json(200, {"status": "ok"})
        healthy, details = self.routes.health.check()
        return _json(200 if healthy else 503, details)

    def _woocommerce(self, environ: dict[str, Any]) -> tuple[int, bytes, str]:
        settings = self.routes.settings()
        body, error = _read_body(environ, settings.max_body_bytes)
        if error is not None:
            self.routes.metrics.webhooks.labels("woocommerce", "too_large").inc()
            return error
        headers = _headers(environ)
        delivery = webhooks.read_delivery(body, headers, settings.woocommerce_secret.get_secret_value())
        verdict: str = delivery.verdict
        if delivery.verdict == "hint" and delivery.order_id is not None:
            verdict = self.routes.hints.add(delivery.order_id, delivery.replay_key)
            if verdict == "queued":
                verdict = "hint"
        self.routes.metrics.webhooks.labels("woocommerce", verdict).inc()
        if verdict in _DROPPED:
            log.debug("WooCommerce webhook dropped", reason=_DROPPED[verdict], order=delivery.order_id,
                      topic=delivery.topic, delivery_id=delivery.delivery_id)
        if delivery.verdict in ("bad_signature", "no_secret"):
            self._log_once(environ, "woocommerce", delivery.detail)
            return _json(401, {"error": "signature does not match"})
        if delivery.verdict == "bad_body":
            log.warning("WooCommerce webhook with a valid signature but an unusable body", topic=delivery.topic,
                        detail=delivery.detail)
            return _json(400, {"error": delivery.detail})
        return _json(200, {"result": verdict})

    def _tracktor(self, environ: dict[str, Any], path: str) -> tuple[int, bytes, str]:
        settings = self.routes.settings()
        expected = settings.tracktor_secret.get_secret_value()
        token = path[len(TRACKTOR_PATH) + 1 :] or (parse_qs(environ.get("QUERY_STRING", "")).get("token") or [""])[0]
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            self.routes.metrics.webhooks.labels("tracktor", "bad_token").inc()
            self._log_once(environ, "tracktor", "wrong or missing token")
            return _json(404, {"error": "not found"})
        body, error = _read_body(environ, settings.max_body_bytes)
        if error is not None:
            self.routes.metrics.webhooks.labels("tracktor", "too_large").inc()
            return error
        verdict = "ignored"
        if self.routes.tracktor_hints is not None:
            # Only which orders to read again through the API is taken from the body, never a status.
            # A body naming none (its shape is undocumented) has every tracked order read.
            named = webhook_order_ids(body)
            answers = [self.routes.tracktor_hints.add(order) for order in named or (EVERYTHING,)]
            # Not queued: coalesced (a read of it is already waiting) or dropped (the box is full).
            verdict = ("hint" if named else "unnamed") if "queued" in answers else answers[0]
        self.routes.metrics.webhooks.labels("tracktor", verdict).inc()
        return _json(200, {"result": verdict})

    def _log_once(self, environ: dict[str, Any], source: str, detail: str) -> None:
        """One warning per (remote address, source); a forger retrying does not flood the log."""
        remote = str(environ.get("REMOTE_ADDR", "?"))
        with self._lock:
            if (remote, source) in self._logged_sources or len(self._logged_sources) >= _LOGGED_SOURCES_LIMIT:
                return
            self._logged_sources.add((remote, source))
        log.warning("webhook refused", source=source, remote=remote, reason=detail)


def _json(status: int, data: Any) -> tuple[int, bytes, str]:
    return status, json.dumps(data).encode(), "application/json"


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items()
               if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"]).lower()
    return headers


def _read_body(environ: dict[str, Any], limit: int) -> tuple[bytes, tuple[int, bytes, str] | None]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b"", _json(400, {"error": "bad Content-Length"})
    if length > limit:
        return b"", _json(413, {"error": f"body over {limit} bytes"})
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    return body, None


class Listener:
    """The waitress server on its own thread; bound at construction, stopped with the daemon."""

    def __init__(self, app: ListenerApp, settings: ServerSettings) -> None:
        host, port = settings.address()
        try:
            self.server = create_server(
                app, host=host, port=port, threads=settings.threads, ident="sync-daemon",
                max_request_body_size=settings.max_body_bytes, clear_untrusted_proxy_headers=True,
                expose_tracebacks=False, **listener_guard.SERVER_OPTIONS,
            )
        except OSError as error:
            raise ConfigurationError(
                f"server.listen = {settings.listen}: cannot listen there ({error.strerror or error}); "
                "is another sync-daemon or program using the port? Change [server] listen or stop the other one"
            ) from None
        listener_guard.install(self.server)  # slow clients and anonymous log volume (listener_guard.py)
        self.thread = threading.Thread(target=self.server.run, name="listener", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound (the port is chosen by the system when 0 was asked)."""
        return str(self.server.effective_host), int(self.server.effective_port)

    def start(self) -> None:
        """Serve on the background thread."""
        self.thread.start()
        log.info("listener started", address=f"{self.address[0]}:{self.address[1]}")

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection from the server's own loop, then wait for its worker threads."""
        server = self.server

        def close_all() -> None:
            for channel in list(server._map.values()):  # noqa: SLF001 - waitress keeps its sockets here
                if channel is not server and channel is not server.trigger:
                    channel.handle_close()
            server.close()

        if self.thread.is_alive():
            server.trigger.pull_trigger(close_all)
            self.thread.join(timeout)
        else:
            server.close()
        server.task_dispatcher.shutdown(timeout=timeout)
