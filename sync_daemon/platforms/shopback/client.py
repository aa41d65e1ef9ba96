"""ShopBack's client: one GET postback per order, the token added only when it is sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sync_daemon.core import http, redaction
from sync_daemon.core.errors import (
    AuthError,
    ConfigurationError,
    PermanentError,
    RetryableError,
)
from sync_daemon.core.order import Order
from sync_daemon.platforms.base import MappingResult, PushResult

if TYPE_CHECKING:
    import requests

from sync_daemon.platforms.shopback.answer import UNRECOGNISED_MAX_ATTEMPTS, body_text, excerpt, parse_answer
from sync_daemon.platforms.shopback.mapping import map_order, query_string
from sync_daemon.platforms.shopback.settings import NAME, PLATFORM, ShopBackSettings

REQUIRED = ("offer_id", "adv_sub", "transaction_id", "amount")



class ShopBackDestination:
    """Reports each order carrying a ShopBack click id, once, with a GET postback."""

    name = NAME
    section = NAME
    supports_update = False  # a conversion is reported once; ShopBack has no update call

    def __init__(self, settings: ShopBackSettings) -> None:
        self.settings = settings
        self.concurrency = settings.concurrency
        self.endpoint = settings.endpoint
        self.gate = http.SendGate()  # closed by a 429 for every worker thread at once
        self._token = settings.security_token.get_secret_value()
        redaction.register(self._token)  # also done by load_settings; here for settings built in code
        self.session = http.build_session(
            headers={"Accept": "text/plain, */*"}, pool_size=settings.concurrency, ca_bundle=settings.ca_bundle
        )

    def map_order(self, order: Order) -> MappingResult:
        """ShopBack's query parameters (pure; see ``map_order``)."""
        return map_order(order, self.settings)

    def push(
        self, payload: Mapping[str, Any], *, operation: str = "create", remote_id: str | None = None
    ) -> PushResult:
        """GET the postback with the token added; classify the text answer."""
        missing = [key for key in REQUIRED if not str(payload.get(key) or "").strip()]
        if missing:
            raise PermanentError(f"{PLATFORM}: the stored postback lacks {', '.join(missing)}; resync the order")
        params = {key: value for key, value in payload.items() if key != "security_token"}
        params["security_token"] = self._token
        url = f"{self.endpoint}?{query_string(params)}"
        response = http.send(
            self.session, "GET", url, platform=PLATFORM, timeout=self.settings.timeout_seconds, allow_redirects=False,
            gate=self.gate,
        )
        self._raise_for_status(response)
        transaction_id = str(payload["transaction_id"])
        answer = parse_answer(body_text(response))
        if answer.kind == "recorded":
            return PushResult(remote_id=transaction_id, detail="recorded")
        if answer.kind == "duplicate":
            return PushResult(remote_id=transaction_id, detail="already recorded (duplicate)")
        if answer.kind == "invalid_transaction":
            raise PermanentError(
                f"{PLATFORM} refused transaction_id {transaction_id!r}: {answer.message} "
                "(wrong format, or not a click id ShopBack issued)"
            )
        if answer.kind == "offer_mismatch":
            raise PermanentError(
                f"{PLATFORM} refused the conversion: {answer.message} "
                f"(this click belongs to another offer; shopback.offer_id is {payload['offer_id']})"
            )
        if answer.kind == "invalid_field":
            raise PermanentError(f"{PLATFORM} refused the conversion: {answer.message} (a value no retry changes)")
        if answer.kind == "token":
            raise AuthError(
                f"{PLATFORM}: {answer.message} — credentials rejected: check shopback.security_token with your "
                "ShopBack representative (test-connection cannot verify it; only a real conversion does)"
            )
        if answer.kind == "refused":
            raise RetryableError(
                f"{PLATFORM}: unrecognised refusal: {answer.message!r}",
                http_status=response.status_code,
                max_attempts=UNRECOGNISED_MAX_ATTEMPTS,
            )
        hint = " (an HTML page: is shopback.endpoint right?)" if http.is_html(response) else ""
        raise RetryableError(
            f"{PLATFORM}: unrecognised answer (HTTP {response.status_code}){hint}: {excerpt(response)}",
            http_status=response.status_code,
            max_attempts=UNRECOGNISED_MAX_ATTEMPTS,
        )

    def _raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            location = response.headers.get("Location", "")
            target = http.safe_url(location) if urlsplit(location).scheme else "(no absolute Location)"
            raise ConfigurationError(
                f"{PLATFORM}: {http.safe_url(self.endpoint)} redirects (HTTP {status}) to {target}; "
                "set shopback.endpoint to the final URL (redirects are not followed: the token is in the query)",
                http_status=status,
            )
        if status in (404, 405, 410):
            raise ConfigurationError(
                f"{PLATFORM}: HTTP {status} from {http.safe_url(self.endpoint)}: the endpoint URL looks wrong "
                "(the postback URL ends in /aff_lsr)",
                http_status=status,
            )
        http.raise_for_status(response, platform=PLATFORM, detail=excerpt(response))

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()
