"""GoTrack's settings section (``[gotrack]``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import SecretStr, field_validator

from sync_daemon.core.settings import DestinationSettings
from sync_daemon.core.urls import check_url

NAME = "gotrack"
PLATFORM = "GoTrack"


class GoTrackSettings(DestinationSettings):
    """GoTrack.bd: orders pushed with HTTP Basic auth, idempotent by external_order_id."""

    endpoint: str = "https://app.gotrack.bd/api/v1/orders"
    api_key: SecretStr = SecretStr("")
    api_secret: SecretStr = SecretStr("")
    phone_format: Literal["local", "e164", "as_typed"] = "local"
    cod_fee_pattern: str = r"(?i)\bcod\b|cash on delivery"
    zero_price_items: Literal["skip", "reject"] = "skip"
    external_source: str = "woocommerce"

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return check_url(value, require_https=True)

    @field_validator("cod_fee_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        return value

    def problems(self) -> list[str]:
        """Missing or malformed credentials, when enabled."""
        if not self.enabled:
            return []
        found = []
        key = self.api_key.get_secret_value()
        if not key:
            found.append("gotrack.api_key: required when gotrack is enabled (GoTrack → Settings → API)")
        elif not key.startswith("fbc_"):
            found.append("gotrack.api_key: a GoTrack API key starts with 'fbc_'")
        if not self.api_secret.get_secret_value():
            found.append("gotrack.api_secret: required when gotrack is enabled")
        return found
