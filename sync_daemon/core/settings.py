"""The base settings models every section builds on (the root model lives in ``config.py``)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

ENV_PREFIX = "SYNC_DAEMON_"
SECRET_SHAPE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces: what platforms issue


class Section(BaseModel):
    """Strict base: an unknown key is a typo the merchant must hear about."""

    model_config = ConfigDict(extra="forbid")


class PlatformSettings(Section):
    """What every platform section has: a switch. ``problems`` lists what is missing when enabled."""

    enabled: bool = False

    def problems(self) -> list[str]:
        """Missing or malformed values, when enabled (none by default)."""
        return []


class DestinationSettings(PlatformSettings):
    """What every destination has besides the switch: a timeout and a concurrency bound."""

    timeout_seconds: float = Field(default=15, gt=0, le=300)
    concurrency: int = Field(default=4, ge=1, le=32)
