"""The example configuration shipped in the package: printed by ``sync-daemon config-example``.

The same file is ``config.example.toml`` in the repository (the package holds a link to it), so
what a merchant copies and what the placeholder check knows are one text.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from sync_daemon.core.diagnose import Finding

EXAMPLE_NAME = "config.example.toml"


def example_text() -> str:
    """The whole example file, comments included."""
    return resources.files("sync_daemon").joinpath(EXAMPLE_NAME).read_text(encoding="utf-8")


@cache
def example_values() -> dict[tuple[str, str], str]:
    """Every text value the example sets, by (section, key): the placeholders a merchant must replace."""
    found: dict[tuple[str, str], str] = {}
    for section, table in tomllib.loads(example_text()).items():
        if isinstance(table, dict):
            found.update({(section, key): value for key, value in table.items() if isinstance(value, str) and value})
    return found


def placeholder_finding(section: str, key: str, value: str, *, default: str, label: str, where: str) -> Finding | None:
    """The example's value left in place (``1234``, ``your32characterShopBackTokenHere`` …), else None.

    A value equal to the built-in default is real (an endpoint the example only repeats), never a placeholder.
    """
    example = example_values().get((section, key))
    if example is None or value.strip() != example or value.strip() == default:
        return None
    place = f" ({where})" if where else ""
    return Finding(f"{section}.{key}", f"still holds the example placeholder{place}", f"paste your real {label}")
