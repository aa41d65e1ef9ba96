"""ShopBack's text answers, read strictly.

Answers (always HTTP 200, text): ``sucess=true;`` / ``success=true;`` → recorded;
``Duplicate recorded with Trans. ID`` → delivered ("already recorded"); ``Invalid Trans. ID`` and
``Request offer #… does not match session offer #….`` → rejected with the platform's message; an
``err_msg`` about the security token → credentials pause; ``Invalid <field>`` / ``Missing <field>``
(e.g. ``Invalid adv_sub``: a value ShopBack refuses, which no retry changes) → rejected with the
platform's message; anything else → retried
``UNRECOGNISED_MAX_ATTEMPTS`` times, then dead, with the (masked, shortened) body in the ledger.

The security token never appears in a message: URLs are shown without their query string and
every text taken from an answer is passed through the redactor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sync_daemon.core import redaction

if TYPE_CHECKING:
    import requests



UNRECOGNISED_MAX_ATTEMPTS = 3


MAX_ANSWER_LENGTH = 2000  # a postback answer is one short line; a longer body is something else


_ANSWER = re.compile(
    r"(?P<key>suc{1,2}es{1,2})\s*=\s*(?P<value>true|false)\s*(?:;\s*(?P<rest>.*?))?\s*;?\s*", re.I | re.S
)


_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*=[^;]*")


_ERR_MSG = re.compile(r"err_msg\s*=\s*(?P<message>.*?)\s*;?\s*", re.I | re.S)


_DUPLICATE = re.compile(r"duplicate\s+recorded\b", re.I)


_INVALID_ID = re.compile(r"invalid\s+trans(?:action)?\.?\s*id\b", re.I)


_OFFER_MISMATCH = re.compile(r"request\s+offer\s+#?\s*\S*\s+does\s+not\s+match\s+session\s+offer\b", re.I)


_TOKEN = re.compile(r"security\s*token|\btoken\b", re.I)


_INVALID_FIELD = re.compile(r"(?:invalid|missing)\s+(?P<field>[A-Za-z_][A-Za-z0-9_]*)\s*\.?", re.I)



@dataclass(frozen=True)
class Answer:
    """What a postback answer means: kind and the platform's own message (masked)."""

    # recorded, duplicate, invalid_transaction, offer_mismatch, token, invalid_field, refused, unrecognised
    kind: str
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
    if _INVALID_FIELD.fullmatch(message):
        return Answer("invalid_field", message)
    return Answer("refused", message)



def body_text(response: requests.Response) -> str:
    return response.content.decode("utf-8", errors="replace")



def excerpt(response: requests.Response) -> str:
    text = redaction.redact(" ".join(body_text(response).split()))[:300]
    return repr(text) if text else "(empty body)"
