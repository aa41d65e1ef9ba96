"""What a connection check reports, and how a connection is described for ``connect`` and the pre-flight.

Shared by the shop (``source/check.py``) and every platform (``platforms/*/check.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync_daemon.core.diagnose import Finding


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a connection check: ok, what was verified or what is wrong, and a hint."""

    name: str
    ok: bool
    message: str
    hint: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Field:
    """One value the merchant pastes for a connection (``connect`` prompts for it)."""

    key: str  # the setting's name in the section
    role: str  # "endpoint", "key", "secret" or "extra" (connect's --endpoint/--key/--secret/--origin)
    label: str  # in messages and prompts: "API secret"
    hidden: bool = True  # read without echo
    kind: str = "credential"  # "url", "credential" (a key or secret) or "text"
    prefix: str = ""  # what every valid value starts with ("fbc_")
    optional: bool = False


@dataclass(frozen=True)
class ConnectionSpec:
    """How a connection is set up: where the merchant finds the values, which they are, what to pre-check."""

    title: str  # "GoTrack"
    dashboard: str  # where the merchant finds the values
    fields: tuple[Field, ...]
    # Problems visible in the section's values before any request (a URL with the wrong path, …).
    preflight: Callable[[Any], list[Finding]] = lambda section: []

    def field(self, role: str) -> Field | None:
        """The field with a role, if this connection has one."""
        return next((item for item in self.fields if item.role == role), None)
