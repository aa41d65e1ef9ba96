"""Bangladeshi mobile numbers, normalised so one customer is always sent the same way.

Customers type ``017…``, ``+88018…``, ``88019…``, ``01512-…`` or ``016 1234 5678``; GoTrack
matches customers by phone, so every form becomes the 11-digit local ``01XXXXXXXXX`` by default
(or E.164 ``+8801XXXXXXXXX``). Operators 013–019 are the valid prefixes.
"""

from __future__ import annotations

import re

from sync_daemon.core.errors import UnmappableOrder

_SEPARATORS = re.compile(r"[\s\-().\u200e\u200f\u202a-\u202e]")
_LOCAL_MOBILE = re.compile(r"^01[3-9]\d{8}$")
_BENGALI_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")


def normalise_bd_mobile(raw: str, phone_format: str = "local") -> str:
    """The phone in the chosen format; raise UnmappableOrder when it is not a plausible BD mobile."""
    typed = (raw or "").strip()
    if not typed:
        raise UnmappableOrder("the order has no customer phone number (billing or shipping)")
    digits = _SEPARATORS.sub("", typed.translate(_BENGALI_DIGITS))
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if not digits.isdigit():
        raise UnmappableOrder(f"phone {typed[:30]!r} contains characters that are not digits")
    if digits.startswith("880"):
        digits = digits[3:]
        if not digits.startswith("0"):
            digits = "0" + digits
    elif len(digits) == 10 and digits.startswith("1"):
        digits = "0" + digits
    if not _LOCAL_MOBILE.match(digits):
        raise UnmappableOrder(
            f"phone {typed[:30]!r} is not a Bangladeshi mobile number (expected 01XXXXXXXXX, 11 digits)"
        )
    if phone_format == "e164":
        return "+88" + digits
    if phone_format == "as_typed":
        return typed
    return digits
