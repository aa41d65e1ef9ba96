"""WordPress's ``_fields`` parameter (``rest_filter_response_fields``, WP 4.9.8+), for the WooCommerce simulator.

``?_fields=id,billing.phone,meta_data`` (a comma or whitespace separated list, or ``_fields[]=…``)
keeps only the named keys of a REST answer, of each item when the answer is a list. A dotted name
keeps one key inside an object (WP 5.3+); a parent named whole wins over its dotted children. Error
answers and an empty list of names leave the answer whole. ``_links`` is a key like any other here
(WordPress keeps a single object's links regardless; the daemon never reads them).
"""

from __future__ import annotations

import re
from typing import Any

from .base import Request, Response

Spec = dict[str, Any]  # name → True (keep whole) or a nested Spec


def requested_fields(request: Request) -> list[str]:
    """The names asked for (``wp_parse_list``), in order; empty when ``_fields`` is absent or blank."""
    names: list[str] = []
    for key, value in request.query_list:
        if key in ("_fields", "_fields[]"):
            names.extend(part for part in re.split(r"[\s,]+", value) if part)
    return names


def field_spec(names: list[str]) -> Spec:
    """The nested spec of dotted names, as WordPress builds ``$fields_as_keyed``."""
    spec: Spec = {}
    for name in names:
        parts = name.split(".")
        level = spec
        for part in parts[:-1]:
            if level.get(part) is True:  # the parent is kept whole already
                break
            level = level.setdefault(part, {})
        else:
            level[parts[-1]] = True
    return spec


def _intersect(data: Any, spec: Spec) -> Any:
    """``_rest_array_intersect_key_recursive``: the keys of ``data`` that the spec names."""
    if isinstance(data, list):  # a PHP list's keys are 0, 1, …: names match none of them
        return [item for index, item in enumerate(data) if str(index) in spec]
    if not isinstance(data, dict):
        return data
    kept = {}
    for key, value in data.items():
        if key not in spec:
            continue
        kept[key] = value if spec[key] is True else _intersect(value, spec[key])
    return kept


def filter_response(request: Request, response: Response) -> Response:
    """The answer trimmed to the request's ``_fields``; errors and answers without a JSON body stay whole."""
    if response.body is None or response.status >= 400:
        return response
    names = requested_fields(request)
    if not names:
        return response
    spec = field_spec(names)
    if isinstance(response.body, list):
        response.body = [_intersect(item, spec) if isinstance(item, dict) else item for item in response.body]
    else:
        response.body = _intersect(response.body, spec)
    return response
