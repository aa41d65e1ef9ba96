"""The README's first command: `sync-daemon demo` as a subprocess, the whole product in one run."""

import re

from .harness import run_cli


def test_demo_shows_the_four_platforms_write_back_and_the_daemons_meta():
    result = run_cli("demo", timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "GoTrack: 11 orders delivered, 1 refused, 0 waiting; GoTrack holds 11 orders, none twice" in out
    assert "OrderRepo: 12 orders delivered, 0 refused, 0 waiting; OrderRepo holds 12 orders, none twice" in out
    assert "GoTrack: the order has no customer phone number" in out
    assert "left out free item(s): 1 × Free gift: Tote bag" in out
    # ShopBack: a conversion for each order that came from a click, the others left out.
    assert ("ShopBack: 3 conversions reported, 9 orders without a click left out; ShopBack recorded 3 conversions,"
            " none twice") in out
    # Tracktor's shipment statuses read back, then written into the shop's orders and read back from it.
    assert "Tracktor: 2 shipment statuses read back: order 1001 delivered, order 1003 in_transit" in out
    assert 'order 1001: status processing → completed; note "Tracktor: delivered — carrier Pathao, tracking PX1001"' \
        in out
    # The daemon's meta of a delivered order, whatever keys starting with sync_daemon it has.
    meta = out.split("The daemon's meta in order ")[1]
    assert re.search(r"^  _?sync_daemon\w*: \S", meta, re.MULTILINE)
    # Receipts: the platforms' ids in the order's meta, read back from the shop.
    assert re.search(r"^  sync_daemon_gotrack: GoTrack #\d+ · \d{4}-\d\d-\d\d \d\d:\d\d UTC$", meta, re.MULTILINE)
    assert re.search(r"^  sync_daemon_orderrepo: OrderRepo #\S+ · ", meta, re.MULTILINE)
    # The refused order carries a private note saying why and what to do, read back from the shop.
    assert ("order 1011: sync-daemon could not send this order to GoTrack: the order has no customer phone number"
            in out) and "the order is sent again by itself" in out
    # The pass line counts orders as orders and deliveries as deliveries; the injected 503s were retried.
    assert re.search(r"pass 1: 12 orders read from the shop; deliveries: 26 queued, \d+ made, 2 to retry", out)
    for python_word in ("True", "False", "None"):
        assert not re.search(rf"\b{python_word}\b", out)
    assert "Traceback" not in result.stderr
