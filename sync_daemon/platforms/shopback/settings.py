"""ShopBack's settings section (``[shopback]``)."""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from sync_daemon.core.diagnose import trim
from sync_daemon.core.settings import DestinationSettings
from sync_daemon.core.urls import check_url, is_loopback_url
from sync_daemon.platforms.shopback.fields import check_extra_fields

NAME = "shopback"
PLATFORM = "ShopBack"


class ShopBackSettings(DestinationSettings):
    """ShopBack: a conversion postback (GET, text answers) for orders carrying a click id.

    The endpoint must be https (loopback excepted): the security token travels in the query
    string, where any proxy or network observer on a plain-http path could read it. The contract's
    example URL is http://, but the same host answers over https.
    """

    endpoint: str = "https://shopback.go2cloud.org/aff_lsr"
    offer_id: str = ""
    security_token: SecretStr = SecretStr("")
    transaction_id_meta_key: str = "_shopback_transaction_id"
    amount: Literal["total", "total_excl_shipping", "total_excl_shipping_and_tax"] = "total_excl_shipping_and_tax"
    # adv_sub2…5 / adv_unique1…5 → an order field ("billing.city", "payment_method", "meta:KEY", …).
    extra_fields: dict[str, str] = Field(default_factory=dict)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme == "http" and parts.hostname and not is_loopback_url(value):
            raise ValueError(
                "must use https:// (the security token travels in the query string; "
                f"use https://{parts.netloc}{parts.path})"
            )
        return check_url(value, require_https=True)

    @field_validator("offer_id", mode="before")
    @classmethod
    def _offer_id(cls, value: Any) -> Any:
        # offer_id = 1234 (a TOML integer) is as good as "1234".
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            value = value.strip()
            if value and not re.fullmatch(r"[0-9]+", value):
                raise ValueError(f"{value[:40]!r} is not numeric (the offer id is digits only, e.g. 1234)")
        return value

    @field_validator("security_token")
    @classmethod
    def _security_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if token and not re.fullmatch(r"[A-Za-z0-9]{32}", token):
            core, removed = trim(token)
            if removed and re.fullmatch(r"[A-Za-z0-9]{32}", core):
                raise ValueError(f"has {' and '.join(removed)} (it came along with the paste): remove it")
            # Never the value: only its shape, which is enough to spot a stray space or a truncated paste.
            odd = sum(1 for char in token if not (char.isascii() and char.isalnum()))
            shape = f"{len(token)} characters" + (f", {odd} of them not a letter or digit" if odd else "")
            raise ValueError(f"must be 32 letters and digits (it has {shape})")
        return value

    @field_validator("transaction_id_meta_key")
    @classmethod
    def _meta_key(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name the order meta key that holds the ShopBack click id")
        return value.strip()

    @field_validator("extra_fields")
    @classmethod
    def _extra_fields(cls, value: dict[str, str]) -> dict[str, str]:
        return check_extra_fields(value)

    def format_problems(self) -> list[str]:
        """A missing offer id or token (their format is checked on load), enabled or not."""
        found = []
        if not self.offer_id:
            found.append("shopback.offer_id: required, numeric (from your ShopBack representative)")
        if not self.security_token.get_secret_value():
            found.append("shopback.security_token: required, 32 letters and digits (from your ShopBack representative)")
        return found

    def problems(self) -> list[str]:
        """Missing or malformed offer id and token, when enabled."""
        return self.format_problems() if self.enabled else []
