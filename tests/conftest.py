"""Shared fixtures: real-shaped WooCommerce orders and settings."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def load_order(name: str = "wc_order_tax_coupon_fees.json") -> dict:
    """A fresh copy of a stored WooCommerce order."""
    return copy.deepcopy(json.loads((DATA / name).read_text(encoding="utf-8")))


@pytest.fixture
def wc_order() -> dict:
    """A processing BDT order with VAT, a coupon, shipping, a COD fee and a gift-wrap fee."""
    return load_order()
