"""The ``extra_fields`` grammar: which order field feeds ``adv_sub2…5`` / ``adv_unique1…5``.

Used by the settings (to validate) and by the mapping (to read the order).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sync_daemon.core.order import Address, Order

if TYPE_CHECKING:
    pass



EXTRA_FIELD_KEYS = (
    "adv_sub2",
    "adv_sub3",
    "adv_sub4",
    "adv_sub5",
    "adv_unique1",
    "adv_unique2",
    "adv_unique3",
    "adv_unique4",
    "adv_unique5",
)


ORDER_FIELDS = ("number", "id", "status", "currency", "payment_method", "payment_method_title", "coupon_codes")


ADDRESS_FIELDS = tuple(Address.__dataclass_fields__)


FieldReader = Callable[[Order], Any]



def parse_field_spec(spec: str) -> FieldReader:
    """A reader for one ``extra_fields`` value; raise ValueError naming what is allowed."""
    spec = spec.strip()
    if spec in ORDER_FIELDS:
        if spec == "coupon_codes":
            return lambda order: ",".join(code for code in order.coupon_codes if code)
        return lambda order: getattr(order, spec)
    where, dot, field = spec.partition(".")
    if dot and where in ("billing", "shipping"):
        if field not in ADDRESS_FIELDS:
            raise ValueError(f"{spec!r}: {where} has no field {field!r} (one of {', '.join(ADDRESS_FIELDS)})")
        return lambda order: getattr(getattr(order, where), field)
    if spec.startswith("meta:"):
        key = spec[len("meta:") :]
        if not key.strip():
            raise ValueError(f"{spec!r}: give the meta key after 'meta:' (e.g. meta:_utm_source)")
        return lambda order: order.meta.get(key)
    raise ValueError(
        f"{spec!r} is not an order field: use one of {', '.join(ORDER_FIELDS)}, "
        "billing.<field>, shipping.<field> or meta:<key>"
    )



def check_extra_fields(value: dict[str, str]) -> dict[str, str]:
    """Validate ``extra_fields`` (keys and specs); raise ValueError with every problem."""
    problems = []
    for key, spec in value.items():
        if key not in EXTRA_FIELD_KEYS:
            problems.append(f"{key!r} is not a ShopBack optional field (one of {', '.join(EXTRA_FIELD_KEYS)})")
            continue
        try:
            parse_field_spec(spec)
        except ValueError as error:
            problems.append(f"{key}: {error}")
    if problems:
        raise ValueError("; ".join(problems))
    return {key: spec.strip() for key, spec in value.items()}



OPTIONAL_MAX_LENGTH = 255
OPTIONAL_RULE = f"has a control character or over {OPTIONAL_MAX_LENGTH} characters"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def optional_text_allowed(text: str) -> bool:
    """Whether an optional field's text may be sent: no control character, at most 255 characters."""
    return len(text) <= OPTIONAL_MAX_LENGTH and not _CONTROL.search(text)


def field_text(value: Any) -> str | None:
    """Text for an optional field: '' when empty, None when the value is not text-like."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
