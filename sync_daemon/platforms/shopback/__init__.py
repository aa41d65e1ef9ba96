"""ShopBack: a conversion postback (``GET …/aff_lsr``) for each order that came from a ShopBack click.

Contract: ``shared/seeds/002_…``. Mapping rules:

- An order takes part only when its meta ``transaction_id_meta_key`` (default
  ``_shopback_transaction_id``) holds a click id. Absent or blank → ``NotApplicable`` (the ledger
  counts it as ``skipped``). A click id that is not 1–64 ASCII letters and digits (surrounding
  spaces are trimmed) is rejected locally: ShopBack would only answer ``Invalid Trans. ID``.
- ``adv_sub`` is the customer-facing order number; ``amount`` is, by ``amount``:
  ``total`` = the order total; ``total_excl_shipping`` = total − shipping − shipping tax;
  ``total_excl_shipping_and_tax`` (default) = total − shipping − all tax (``total_tax`` already
  includes the shipping tax, so this equals total − shipping_gross − total_tax + shipping_tax).
  Fees stay in (a negative "discount" fee lowers it), refunds are not subtracted. Two decimals,
  rounded half-up, no thousands separator; a negative amount rejects the order.
- ``extra_fields`` maps ``adv_sub2…5`` / ``adv_unique1…5`` to order fields (see
  ``parse_field_spec``); an empty value leaves the parameter out.
- The payload stored in the ledger is the query WITHOUT the security token; ``push`` adds it.
  Every value is percent-encoded (UTF-8, a space as ``%20``).

Answers (always HTTP 200, text): ``sucess=true;`` / ``success=true;`` → recorded;
``Duplicate recorded with Trans. ID`` → delivered ("already recorded"); ``Invalid Trans. ID`` and
``Request offer #… does not match session offer #….`` → rejected with the platform's message; an
``err_msg`` about the security token → credentials pause; anything else → retried
``UNRECOGNISED_MAX_ATTEMPTS`` times, then dead, with the (masked, shortened) body in the ledger.

The security token never appears in a message: URLs are shown without their query string and
every text taken from an answer is passed through the redactor.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from sync_daemon.core import http, redaction
from sync_daemon.core.errors import (
    AuthError,
    ConfigurationError,
    NotApplicable,
    PermanentError,
    RetryableError,
    UnmappableOrder,
)
from sync_daemon.core.order import Address, Order
from sync_daemon.platforms.base import CheckResult, MappingResult, PushResult

if TYPE_CHECKING:
    import requests

    from sync_daemon.config import Settings, ShopBackSettings

NAME = "shopback"
PLATFORM = "ShopBack"
CENT = Decimal("0.01")
ZERO = Decimal("0")
TRANSACTION_ID = re.compile(r"[A-Za-z0-9]{1,64}")
TRANSACTION_ID_RULE = "1 to 64 letters and digits"
UNRECOGNISED_MAX_ATTEMPTS = 3
MAX_ANSWER_LENGTH = 2000  # a postback answer is one short line; a longer body is something else
REQUIRED = ("offer_id", "adv_sub", "transaction_id", "amount")
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

# -- field specs (also used by ShopBackSettings to validate extra_fields) ---------------------

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


def _field_text(value: Any) -> str | None:
    """Text for an optional field: '' when empty, None when the value is not text-like."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


# -- mapping ------------------------------------------------------------------------------------


def transaction_id_of(order: Order, meta_key: str) -> str:
    """The order's ShopBack click id; NotApplicable when absent, UnmappableOrder when malformed."""
    raw = order.meta.get(meta_key)
    if raw is None or raw in ([], {}) or (isinstance(raw, str) and not raw.strip()):
        raise NotApplicable(f"no ShopBack transaction_id in meta '{meta_key}'")
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise UnmappableOrder(f"the ShopBack transaction_id in meta '{meta_key}' is a {type(raw).__name__}, not text")
    value = raw.strip()
    if not TRANSACTION_ID.fullmatch(value):
        shown = value if len(value) <= 70 else value[:67] + "..."
        raise UnmappableOrder(
            f"the ShopBack transaction_id {shown!r} in meta '{meta_key}' is not {TRANSACTION_ID_RULE} "
            "(ShopBack would answer 'Invalid Trans. ID'); check how the storefront stores the click id"
        )
    return value


def order_amount(order: Order, basis: str) -> Decimal:
    """The amount to report, before rounding (see the module docstring for each basis)."""
    if basis == "total":
        return order.total
    if basis == "total_excl_shipping":
        return order.total - order.shipping_gross
    if basis == "total_excl_shipping_and_tax":
        # total_tax covers items, fees and shipping, so this removes shipping and all tax once.
        return order.total - order.shipping_total - order.total_tax
    raise ValueError(f"unknown amount basis {basis!r}")


def format_amount(amount: Decimal) -> str:
    """Two decimals, rounded half-up, no thousands separator: "1234.50"."""
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):f}"


def map_order(order: Order, settings: ShopBackSettings) -> MappingResult:
    """ShopBack's query parameters for an order, without the security token (pure, no HTTP)."""
    transaction_id = transaction_id_of(order, settings.transaction_id_meta_key)
    amount = order_amount(order, settings.amount)
    if amount < ZERO:
        raise UnmappableOrder(
            f"the amount to report ({settings.amount}) is negative: {amount} "
            f"(total {order.total}, shipping {order.shipping_total}, tax {order.total_tax})"
        )
    payload: dict[str, str] = {
        "offer_id": settings.offer_id,
        "adv_sub": order.number or str(order.id),
        "transaction_id": transaction_id,
        "amount": format_amount(amount),
    }
    left_out = []
    for key in sorted(settings.extra_fields, key=EXTRA_FIELD_KEYS.index):
        spec = settings.extra_fields[key]
        text = _field_text(parse_field_spec(spec)(order))
        if text is None:
            left_out.append(f"{key} ({spec} is not text)")
        elif text:
            payload[key] = text
    note = f"left out: {', '.join(left_out)}" if left_out else None
    return MappingResult(payload=payload, note=note)


def query_string(params: dict[str, Any]) -> str:
    """Every value percent-encoded as UTF-8 (a space is %20, '&' is %26)."""
    return urlencode({key: str(value) for key, value in params.items()}, quote_via=quote, safe="")


# -- answers ------------------------------------------------------------------------------------

_ANSWER = re.compile(
    r"(?P<key>suc{1,2}es{1,2})\s*=\s*(?P<value>true|false)\s*(?:;\s*(?P<rest>.*?))?\s*;?\s*", re.I | re.S
)
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*=[^;]*")
_ERR_MSG = re.compile(r"err_msg\s*=\s*(?P<message>.*?)\s*;?\s*", re.I | re.S)
_DUPLICATE = re.compile(r"duplicate\s+recorded\b", re.I)
_INVALID_ID = re.compile(r"invalid\s+trans(?:action)?\.?\s*id\b", re.I)
_OFFER_MISMATCH = re.compile(r"request\s+offer\s+#?\s*\S*\s+does\s+not\s+match\s+session\s+offer\b", re.I)
_TOKEN = re.compile(r"security\s*token|\btoken\b", re.I)


@dataclass(frozen=True)
class Answer:
    """What a postback answer means: kind and the platform's own message (masked)."""

    kind: str  # recorded, duplicate, invalid_transaction, offer_mismatch, token, refused, unrecognised
    message: str = ""


def parse_answer(text: str) -> Answer:
    """Read ShopBack's text answer strictly (whole body) and tolerantly (spelling, case, spaces).

    ``sucess=true;`` (documented) and ``success=true;`` are both success; more ``name=value;``
    pairs after it are tolerated unless one is an ``err_msg``. ``success=false; err_msg=…`` is
    classified by its message. Anything else (HTML, "maintenance", an empty body) is unrecognised.
    """
    body = text.lstrip("\ufeff").strip()
    if len(body) > MAX_ANSWER_LENGTH:
        return Answer("unrecognised")
    match = _ANSWER.fullmatch(body)
    if not match:
        return Answer("unrecognised")
    rest = (match.group("rest") or "").strip()
    if match.group("value").lower() == "true":
        pairs = [pair.strip() for pair in rest.split(";") if pair.strip()]
        if all(_FIELD.fullmatch(pair) and not pair.lower().startswith("err_msg") for pair in pairs):
            return Answer("recorded")
        return Answer("unrecognised")
    error = _ERR_MSG.fullmatch(rest)
    if not error or not error.group("message").strip():
        return Answer("unrecognised")
    message = redaction.redact(" ".join(error.group("message").split()))[:300]
    if _DUPLICATE.match(message):
        return Answer("duplicate", message)
    if _INVALID_ID.match(message):
        return Answer("invalid_transaction", message)
    if _OFFER_MISMATCH.match(message):
        return Answer("offer_mismatch", message)
    if _TOKEN.search(message):
        return Answer("token", message)
    return Answer("refused", message)


def _body_text(response: requests.Response) -> str:
    return response.content.decode("utf-8", errors="replace")


def _excerpt(response: requests.Response) -> str:
    text = redaction.redact(" ".join(_body_text(response).split()))[:300]
    return repr(text) if text else "(empty body)"


# -- the connector ------------------------------------------------------------------------------


class ShopBackDestination:
    """Reports each order carrying a ShopBack click id, once, with a GET postback."""

    name = NAME
    section = NAME
    supports_update = False  # a conversion is reported once; ShopBack has no update call

    def __init__(self, settings: ShopBackSettings, root: Settings | None = None) -> None:
        self.settings = settings
        self.endpoint = settings.endpoint
        self._token = settings.security_token.get_secret_value()
        redaction.register(self._token)  # also done by load_settings; here for settings built in code
        self.session = http.build_session(headers={"Accept": "text/plain, */*"}, pool_size=settings.concurrency)

    def map_order(self, order: Order) -> MappingResult:
        """ShopBack's query parameters (pure; see ``map_order``)."""
        return map_order(order, self.settings)

    def push(self, payload: dict[str, Any], *, operation: str = "create", remote_id: str | None = None) -> PushResult:
        """GET the postback with the token added; classify the text answer."""
        missing = [key for key in REQUIRED if not str(payload.get(key) or "").strip()]
        if missing:
            raise PermanentError(f"{PLATFORM}: the stored postback lacks {', '.join(missing)}; resync the order")
        params = {key: value for key, value in payload.items() if key != "security_token"}
        params["security_token"] = self._token
        url = f"{self.endpoint}?{query_string(params)}"
        response = http.send(
            self.session, "GET", url, platform=PLATFORM, timeout=self.settings.timeout_seconds, allow_redirects=False
        )
        self._raise_for_status(response)
        transaction_id = str(payload["transaction_id"])
        answer = parse_answer(_body_text(response))
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
            f"{PLATFORM}: unrecognised answer (HTTP {response.status_code}){hint}: {_excerpt(response)}",
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
        http.raise_for_status(response, platform=PLATFORM, detail=_excerpt(response))

    def check_connection(self) -> CheckResult:
        """Validate the settings and reach the endpoint with a bare GET (no token, no click id).

        No request can prove the offer id and the token without recording a conversion. A GET of
        the endpoint without any parameter carries no secret and cannot record anything; its answer
        shows that the URL is a postback endpoint that speaks ShopBack's text format.
        """
        problems = self.settings.format_problems()
        if problems:
            return CheckResult(NAME, False, "; ".join(problems), "edit the [shopback] section")
        unproven = "offer_id and security_token are well-formed, but only a real conversion proves them"
        try:
            response = http.send(
                self.session,
                "GET",
                self.endpoint,
                platform=PLATFORM,
                timeout=self.settings.timeout_seconds,
                allow_redirects=False,
            )
        except RetryableError as error:
            return CheckResult(NAME, False, str(error), "check shopback.endpoint and outbound network access")
        status = response.status_code
        details = {"endpoint": http.safe_url(self.endpoint), "http_status": status, "answer": _excerpt(response)}
        if 300 <= status < 400:
            location = response.headers.get("Location", "")
            target = http.safe_url(location) if urlsplit(location).scheme else "elsewhere"
            return CheckResult(
                NAME,
                False,
                f"the endpoint redirects (HTTP {status}) to {target}",
                "set shopback.endpoint to it",
                details,
            )
        if status in (404, 405, 410):
            return CheckResult(
                NAME, False, f"the endpoint answered HTTP {status}", "the postback URL ends in /aff_lsr", details
            )
        if status >= 400:
            return CheckResult(NAME, False, f"the endpoint answered HTTP {status}: {_excerpt(response)}", "", details)
        if parse_answer(_body_text(response)).kind == "unrecognised":
            return CheckResult(
                NAME,
                False,
                f"the host answers (HTTP {status}) but not in ShopBack's postback format: {_excerpt(response)}",
                "check shopback.endpoint (the URL from your ShopBack representative)",
                details,
            )
        return CheckResult(
            NAME,
            True,
            f"endpoint reachable and answering in ShopBack's postback format (probe without token or click id, "
            f"nothing recorded); {unproven}",
            details=details,
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()
