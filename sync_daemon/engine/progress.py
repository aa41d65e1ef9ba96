"""How far a sync pass has come, and the one way it is put in words (systemd, the log, ``status``, the bar)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PassProgress:
    """Orders read of the total WooCommerce announced (``X-WP-Total``), deliveries made so far."""

    read: int
    total: int | None  # None: the shop did not say
    delivered: int
    backfill: bool  # the first sync (no cursor yet), not an ordinary poll

    @property
    def kind(self) -> str:
        """``backfill`` for the first sync, else ``reading changes``."""
        return "backfill" if self.backfill else "reading changes"

    def describe(self) -> str:
        """``backfill: 1 200 of 4 040 read, 2 100 delivered``."""
        of_total = f" of {group_digits(self.total)}" if self.total is not None else ""
        return f"{self.kind}: {group_digits(self.read)}{of_total} read, {group_digits(self.delivered)} delivered"

    def as_dict(self) -> dict[str, Any]:
        """Plain data, as stored for ``status``."""
        return asdict(self)


def group_digits(number: int) -> str:
    """``4 040``: thousands set apart by a space, as a merchant reads a count."""
    return f"{number:,}".replace(",", " ")
