"""GoTrack.bd's client: one POST per order, its answers turned into the core's errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from requests.auth import HTTPBasicAuth

from sync_daemon.core import http
from sync_daemon.core.errors import AuthError, ConfigurationError, PermanentError, RetryableError
from sync_daemon.core.order import Order
from sync_daemon.platforms.base import MappingResult, PushResult
from sync_daemon.platforms.gotrack.mapping import map_order
from sync_daemon.platforms.gotrack.settings import NAME, PLATFORM, GoTrackSettings


def _error_message(response: Any) -> str:
    body = http.json_body(response)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    return http.body_excerpt(response)



class GoTrackDestination:
    """Pushes orders to GoTrack.bd."""

    name = NAME
    section = NAME
    supports_update = False

    def __init__(self, settings: GoTrackSettings) -> None:
        self.settings = settings
        self.concurrency = settings.concurrency
        self.endpoint = settings.endpoint
        self.gate = http.SendGate()  # closed by a 429 for every worker thread at once
        auth = HTTPBasicAuth(settings.api_key.get_secret_value(), settings.api_secret.get_secret_value())
        self.session = http.build_session(
            headers={"Content-Type": "application/json"}, auth=auth, pool_size=settings.concurrency,
            ca_bundle=settings.ca_bundle,
        )

    def map_order(self, order: Order) -> MappingResult:
        """GoTrack's payload for an order (pure; see ``map_order``)."""
        return map_order(order, self.settings)

    def push(
        self, payload: Mapping[str, Any], *, operation: str = "create", remote_id: str | None = None
    ) -> PushResult:
        """POST the order; a replay of a known external_order_id answers 200 idempotent."""
        response = http.send(
            self.session, "POST", self.endpoint, platform=PLATFORM, timeout=self.settings.timeout_seconds, json=payload,
            gate=self.gate,
        )
        self._raise_for_status(response)
        body = http.json_body(response)
        if not isinstance(body, dict) or body.get("ok") is not True or not isinstance(body.get("order"), dict):
            if http.is_html(response):
                raise RetryableError(f"{PLATFORM}: answered with an HTML page, not JSON (is the endpoint URL right?)")
            raise RetryableError(f"{PLATFORM}: unexpected answer: {http.body_excerpt(response)}")
        remote_id = body["order"].get("id")
        detail = "already existed (idempotent replay)" if body.get("idempotent") else "created"
        return PushResult(remote_id=None if remote_id is None else str(remote_id), detail=detail)

    def _raise_for_status(self, response: Any) -> None:
        status = response.status_code
        if status in (200, 201):
            return
        message = _error_message(response)
        if status == 401:
            raise AuthError(
                f"{PLATFORM} rejected the API key/secret ({message}); credentials rejected — "
                "run `sync-daemon test-connection gotrack`",
                http_status=status,
            )
        if status in (404, 405):
            raise ConfigurationError(
                f"{PLATFORM}: HTTP {status} from {http.safe_url(self.endpoint)}: the endpoint URL looks wrong "
                "(copy it from GoTrack → Settings → API)",
                http_status=status,
            )
        if status in (400, 422):
            raise PermanentError(f"{PLATFORM} refused the order: {message}", http_status=status)
        http.raise_for_status(response, platform=PLATFORM, detail=message)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()
