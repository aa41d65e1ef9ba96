"""Texts every ledger backend can store: no NUL character and no lone surrogate.

PostgreSQL refuses a NUL (U+0000) in any text column, and neither backend can encode a lone
surrogate (U+D800–U+DFFF, what a broken JSON escape in an answer decodes to) as UTF-8. Such a text in
one order would fail the whole page's transaction, so the mapping refuses the order first, naming
the field (``text_problem``), and what is stored of it is written with those characters escaped
(``storable``).
"""

from __future__ import annotations

import json
import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False)


def _describe(text: str) -> str:
    character = _UNSTORABLE.search(text)
    if character is None:
        return ""
    if character.group() == "\x00":
        return "a NUL character (U+0000)"
    return f"a lone surrogate (U+{ord(character.group()):04X})"


def text_problem(value: Any, path: str = "") -> str | None:
    """Where a JSON-like value holds a text no ledger can store, in plain words; None when none does."""
    try:
        # The C encoder and codec rule out nearly every order at a fraction of the cost of looking at
        # each text in Python: a NUL comes out as \u0000, and a lone surrogate fails UTF-8 encoding.
        encoded = _ENCODER.encode(value)
        if "\\u0000" not in encoded:
            encoded.encode()
            return None
    except (ValueError, TypeError, RecursionError):
        pass  # a lone surrogate, or not plain JSON data: looked at text by text
    pending: list[tuple[str, Any]] = [(path, value)]
    while pending:  # a loop, not recursion: a hostile answer may nest deeper than the stack allows
        where, current = pending.pop()
        if isinstance(current, str):
            found = _describe(current)
            if found:
                return f"{where or 'a text'} contains {found}"
        elif isinstance(current, dict):
            for key, inner in current.items():
                name = storable(str(key))
                if _describe(str(key)):
                    return f"a key of {where or 'the order'} ({name}) contains {_describe(str(key))}"
                pending.append((f"{where}.{name}" if where else name, inner))
        elif isinstance(current, list):
            pending.extend((f"{where}[{index}]", inner) for index, inner in enumerate(current))
    return None


def storable(text: str) -> str:
    """The text with NUL and lone surrogates written as escapes (``\\x00``, ``\\udc80``): safe to store and show."""
    return _UNSTORABLE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)
