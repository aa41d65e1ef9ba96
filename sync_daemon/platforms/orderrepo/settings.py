"""OrderRepo's settings section (``[orderrepo]``)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from sync_daemon.core.settings import DestinationSettings
from sync_daemon.core.urls import HttpsBaseUrl, check_url, origin_of

NAME = "orderrepo"
PLATFORM = "OrderRepo"
ORDERREPO_DATA_FIELDS = ("order_number", "delivery_address", "payment_method", "customer_note", "shipping_method")
ORDER_MOMENTS = ("created", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")


class OrderRepoSettings(DestinationSettings):
    """OrderRepo: orders created and updated with X-API-KEY + Origin, statuses read back."""

    base_url: HttpsBaseUrl = "https://orderrepo.com"
    api_key: SecretStr = SecretStr("")
    # The domain registered in the OrderRepo project; empty means the shop's own origin.
    origin: str = ""
    id_prefix: str = ""
    fallback_image_url: str = ""
    data_fields: list[Literal[ORDERREPO_DATA_FIELDS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(ORDERREPO_DATA_FIELDS)
    )
    status_pull_interval_seconds: float = Field(default=300, ge=1)
    # Order lifecycle moment → OrderRepo event key (created, processing, completed, cancelled, refunded).
    events: dict[str, str] = Field(default_factory=dict)

    @field_validator("origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        if not value.strip():
            return ""
        checked = check_url(value, require_https=False)
        if urlsplit(checked).path not in ("", "/"):
            raise ValueError("an Origin is scheme://host[:port] only, without a path")
        return origin_of(checked)

    @field_validator("fallback_image_url")
    @classmethod
    def _image(cls, value: str) -> str:
        return check_url(value, require_https=False) if value.strip() else ""

    @field_validator("events")
    @classmethod
    def _events(cls, value: dict[str, str]) -> dict[str, str]:
        for moment, key in value.items():
            if moment not in ORDER_MOMENTS:
                raise ValueError(f"{moment!r} is not an order moment ({', '.join(ORDER_MOMENTS)})")
            if not key.strip():
                raise ValueError(f"the event key for {moment!r} is empty")
        return value

    def problems(self) -> list[str]:
        """Missing credentials, when enabled."""
        if self.enabled and not self.api_key.get_secret_value():
            return ["orderrepo.api_key: required when orderrepo is enabled (OrderRepo project → API keys)"]
        return []
