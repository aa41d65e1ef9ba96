"""A ShopBack conversion postback simulator (``GET /aff_lsr``, text answers, always HTTP 200).

Checks, in order, each answered with HTTP 200 ``text/plain``:

1. ``security_token`` missing or wrong → ``success=false; err_msg=Invalid security token.``
2. ``transaction_id`` missing, not 1–64 ASCII letters and digits, or not a click this ShopBack
   issued → ``success=false; err_msg=Invalid Trans. ID``
3. ``offer_id`` is not the offer the click belongs to →
   ``success=false; err_msg=Request offer #<requested> does not match session offer #<session>.``
4. the transaction id already has a conversion → ``success=false; err_msg=Duplicate recorded with Trans. ID``
5. ``adv_sub`` missing → ``success=false; err_msg=Missing adv_sub``; not "alphanumeric" in the
   strict reading (1–64 ASCII letters, digits and underscores, as the contract's ``order_123``)
   → ``success=false; err_msg=Invalid adv_sub``; ``amount`` not a plain non-negative number with
   at most two decimals → ``success=false; err_msg=Invalid amount``; an optional ``adv_sub2…5`` /
   ``adv_unique1…5`` with a control character or over 255 characters → ``Invalid <name>``
6. otherwise the conversion is recorded and the answer is ``sucess=true;`` — misspelled, as the
   contract documents it (``correct_spelling=True`` answers ``success=true;``).

Choices where the contract is silent:

- The contract has no row for a wrong token; rule 1's text is our choice (HasOffers-style).
  Rules 5's texts are ours too: the contract documents no answer for them, nor the characters it
  allows (docs/shopback.md gives the strict reading, which the daemon's mapping checks too).
- Clicks are registered (``register_click``, ``POST /__admin__/clicks``) with the offer they
  belong to; an unknown click id is ``Invalid Trans. ID``, as for a click ShopBack never issued.
  ``accept_unknown_clicks=True`` treats any well-formed id as a click of this simulator's offer.
- Every request carrying a transaction id is counted per id, whatever its outcome, so tests can
  assert that a conversion was posted exactly once. Recorded conversions keep every parameter
  except the token (decoded), plus the raw query with the token masked.
- ``set_garbage("html" | "maintenance" | "empty" | any other text)`` makes ``/aff_lsr`` answer
  that with HTTP 200 (nothing recorded) until ``set_garbage(None)``; injected faults (base) apply too.
- Other methods on ``/aff_lsr`` → 405, other paths → 404, both as short text. ``reset()`` forgets
  clicks, conversions, counts and the garbage switch; offer, token and spelling are kept.
"""

from __future__ import annotations

import copy
import hmac
import re
import secrets
import string
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

from .base import Request, Response, SimulatorServer, admin_error, admin_json

ENDPOINT = "/aff_lsr"
TRANSACTION_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_AMOUNT = re.compile(r"\d+(\.\d{1,2})?")
ADV_SUB = re.compile(r"[A-Za-z0-9_]{1,64}")
OPTIONAL_FIELDS = (*(f"adv_sub{n}" for n in range(2, 6)), *(f"adv_unique{n}" for n in range(1, 6)))
OPTIONAL_MAX_LENGTH = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ALNUM = string.ascii_letters + string.digits

SUCCESS_DOCUMENTED = "sucess=true;"
SUCCESS_CORRECT = "success=true;"
INVALID_TOKEN = "success=false; err_msg=Invalid security token."
INVALID_TRANSACTION = "success=false; err_msg=Invalid Trans. ID"
DUPLICATE = "success=false; err_msg=Duplicate recorded with Trans. ID"
OFFER_MISMATCH = "success=false; err_msg=Request offer #{requested} does not match session offer #{session}."
MISSING_ADV_SUB = "success=false; err_msg=Missing adv_sub"
INVALID_FIELD = "success=false; err_msg=Invalid {field}"
INVALID_AMOUNT = "success=false; err_msg=Invalid amount"

MAINTENANCE_TEXT = "maintenance"
GARBAGE_HTML = """<!DOCTYPE html>
<html><head><title>Scheduled maintenance</title></head>
<body><h1>We'll be back soon</h1><p>The tracking platform is undergoing scheduled maintenance.</p></body></html>
"""


def text(body: str, status: int = 200) -> Response:
    """A text/plain answer."""
    return Response(status=status, text=body, content_type="text/plain; charset=UTF-8")


def new_token() -> str:
    """A fresh 32-character alphanumeric security token."""
    return "".join(secrets.choice(_ALNUM) for _ in range(32))


class ShopBackSimulator(SimulatorServer):
    """ShopBack's order postback: clicks, conversions, the documented text answers."""

    name = "shopback"

    def __init__(
        self,
        offer_id: str = "1234",
        security_token: str | None = None,
        *,
        correct_spelling: bool = False,
        accept_unknown_clicks: bool = False,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.offer_id = str(offer_id)
        self.security_token = security_token or new_token()
        self.correct_spelling = correct_spelling
        self.accept_unknown_clicks = accept_unknown_clicks
        self.reset_state()
        self.route("GET", ENDPOINT, self._postback)
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            self.route(method, ENDPOINT, lambda r: self.method_not_allowed(r, ["GET"]))
        self.route("GET", "/conversions", lambda r: Response.json(200, self.admin_conversions()), admin=True)
        self.route("GET", "/clicks", lambda r: Response.json(200, {"clicks": self.clicks()}), admin=True)
        self.route("POST", "/clicks", self._admin_register_clicks, admin=True)
        self.route("GET", "/settings", lambda r: Response.json(200, self.update_settings()), admin=True)
        self.route("PUT", "/settings", self._admin_settings, admin=True)
        self.route("POST", "/rotate", lambda r: Response.json(200, self.rotate_token()), admin=True)

    # -- settings and state -------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The postback URL (after start)."""
        return self.url + ENDPOINT

    @property
    def credentials(self) -> dict[str, str]:
        """offer_id, security_token and endpoint."""
        return {
            "offer_id": self.offer_id,
            "security_token": self.security_token,
            "endpoint": self.endpoint if self._httpd else "",
        }

    def rotate_token(self) -> dict[str, str]:
        """A new security token; the old one stops working at once. Returns the credentials."""
        with self.lock:
            self.security_token = new_token()
        return self.credentials

    def reset_state(self) -> None:
        """Forget clicks, conversions, request counts and the garbage switch."""
        with self.lock:
            self._clicks: dict[str, str] = {}
            self._conversions: list[dict[str, Any]] = []
            self._by_transaction: dict[str, dict[str, Any]] = {}
            self._requests: Counter[str] = Counter()
            self.garbage: str | None = None

    def register_click(self, transaction_id: str, offer_id: str | int | None = None) -> None:
        """A click ShopBack issued for ``offer_id`` (default: this simulator's offer)."""
        with self.lock:
            self._clicks[str(transaction_id)] = str(offer_id if offer_id is not None else self.offer_id)

    def register_clicks(self, transaction_ids: list[str], offer_id: str | int | None = None) -> None:
        """Several clicks of one offer."""
        for transaction_id in transaction_ids:
            self.register_click(transaction_id, offer_id)

    def clicks(self) -> dict[str, str]:
        """transaction_id → the offer its session belongs to."""
        with self.lock:
            return dict(self._clicks)

    def set_garbage(self, kind: str | None) -> None:
        """Answer ``/aff_lsr`` with "html", "maintenance", "empty" or the given text; None to stop."""
        with self.lock:
            self.garbage = kind

    def update_settings(
        self,
        *,
        correct_spelling: bool | None = None,
        accept_unknown_clicks: bool | None = None,
        garbage: str | None | bool = False,
    ) -> dict[str, Any]:
        """Change switches (``garbage=False`` leaves it alone); returns the current ones."""
        with self.lock:
            if correct_spelling is not None:
                self.correct_spelling = bool(correct_spelling)
            if accept_unknown_clicks is not None:
                self.accept_unknown_clicks = bool(accept_unknown_clicks)
            if garbage is not False:
                self.garbage = garbage or None
            return {
                "offer_id": self.offer_id,
                "correct_spelling": self.correct_spelling,
                "accept_unknown_clicks": self.accept_unknown_clicks,
                "garbage": self.garbage,
            }

    def conversions(self) -> list[dict[str, Any]]:
        """Recorded conversions, oldest first: params (no token), query (token masked), requests, recorded_at."""
        with self.lock:
            out = copy.deepcopy(self._conversions)
            for conversion in out:
                conversion["requests"] = self._requests[conversion["transaction_id"]]
            return out

    def conversion(self, transaction_id: str) -> dict[str, Any] | None:
        """The recorded conversion of one transaction id, or None."""
        for conversion in self.conversions():
            if conversion["transaction_id"] == transaction_id:
                return conversion
        return None

    def requests_by_transaction_id(self) -> dict[str, int]:
        """Postback requests per transaction id, whatever their outcome."""
        with self.lock:
            return dict(self._requests)

    def admin_conversions(self) -> dict[str, Any]:
        """What GET /__admin__/conversions returns."""
        return {"conversions": self.conversions(), "requests_by_transaction_id": self.requests_by_transaction_id()}

    # -- envelope hooks -------------------------------------------------------------------------

    def error_response(self, status: int, message: str, code: str | None = None) -> Response:
        """Errors (also injected faults) as short text, like the platform's web server."""
        return text(f"{status} {message}", status)

    def not_found(self, request: Request) -> Response:
        """Unknown path."""
        return text("404 Not Found", 404)

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        """Wrong method on the postback path."""
        response = text("405 Method Not Allowed", 405)
        response.headers["Allow"] = ", ".join(allowed)
        return response

    # -- the postback ---------------------------------------------------------------------------

    def _postback(self, request: Request) -> Response:
        query = request.query
        transaction_id = query.get("transaction_id", "")
        if transaction_id:
            self._requests[transaction_id] += 1
        if self.garbage is not None:
            return self._garbage_answer()
        if not hmac.compare_digest(query.get("security_token", "").encode(), self.security_token.encode()):
            return text(INVALID_TOKEN)
        if not TRANSACTION_ID.fullmatch(transaction_id):
            return text(INVALID_TRANSACTION)
        session_offer = self._clicks.get(transaction_id)
        if session_offer is None:
            if not self.accept_unknown_clicks:
                return text(INVALID_TRANSACTION)
            session_offer = self.offer_id
        requested = query.get("offer_id", "")
        if requested != session_offer:
            return text(OFFER_MISMATCH.format(requested=requested, session=session_offer))
        if transaction_id in self._by_transaction:
            return text(DUPLICATE)
        if not query.get("adv_sub", "").strip():
            return text(MISSING_ADV_SUB)
        if not ADV_SUB.fullmatch(query["adv_sub"]):
            return text(INVALID_FIELD.format(field="adv_sub"))
        if not _AMOUNT.fullmatch(query.get("amount", "")):
            return text(INVALID_AMOUNT)
        for name in OPTIONAL_FIELDS:
            value = query.get(name, "")
            if len(value) > OPTIONAL_MAX_LENGTH or _CONTROL.search(value):
                return text(INVALID_FIELD.format(field=name))
        params = {key: value for key, value in request.query_list if key != "security_token"}
        conversion = {
            "transaction_id": transaction_id,
            "offer_id": requested,
            "adv_sub": params.get("adv_sub"),
            "amount": params.get("amount"),
            "params": params,
            "query": _masked_query(request.raw_query),
            "recorded_at": time.time(),
        }
        self._conversions.append(conversion)
        self._by_transaction[transaction_id] = conversion
        return text(SUCCESS_CORRECT if self.correct_spelling else SUCCESS_DOCUMENTED)

    def _garbage_answer(self) -> Response:
        kind = self.garbage
        if kind == "html":
            return Response.html(200, GARBAGE_HTML)
        if kind == "maintenance":
            return text(MAINTENANCE_TEXT)
        if kind == "empty":
            return text("")
        return text(kind or "")

    # -- admin ----------------------------------------------------------------------------------

    def _admin_register_clicks(self, request: Request) -> Response:
        try:
            data = admin_json(request, (dict, list))
            entries = data.get("clicks", [data]) if isinstance(data, dict) else data
            if not isinstance(entries, list):
                raise ValueError("clicks must be a list")
            for entry in entries:
                if isinstance(entry, str):
                    entry = {"transaction_id": entry}
                if not isinstance(entry, dict) or not isinstance(entry.get("transaction_id"), str):
                    raise ValueError("each click needs a transaction_id string")
                self.register_click(entry["transaction_id"], entry.get("offer_id"))
        except ValueError as exc:
            return admin_error(str(exc))
        return Response.json(200, {"clicks": self.clicks()})

    def _admin_settings(self, request: Request) -> Response:
        try:
            data = admin_json(request, dict)
            unknown = set(data) - {"correct_spelling", "accept_unknown_clicks", "garbage"}
            if unknown:
                raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
            if "garbage" in data and data["garbage"] is not None and not isinstance(data["garbage"], str):
                raise ValueError("garbage must be a string or null")
            current = self.update_settings(
                correct_spelling=data.get("correct_spelling"),
                accept_unknown_clicks=data.get("accept_unknown_clicks"),
                garbage=data.get("garbage", False),
            )
        except ValueError as exc:
            return admin_error(str(exc))
        return Response.json(200, current)


def _masked_query(raw_query: str) -> str:
    """The raw query string as received, with the token's value replaced."""
    return re.sub(r"(^|&)(security_token=)[^&]*", r"\1\2***", raw_query)


def postback_url(endpoint: str, params: dict[str, str]) -> str:
    """A postback URL for hand-made requests in tests (values percent-encoded)."""
    return endpoint + "?" + "&".join(f"{quote(k, safe='')}={quote(str(v), safe='')}" for k, v in params.items())
