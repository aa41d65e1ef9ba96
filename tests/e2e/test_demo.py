"""The README's first command: `sync-daemon demo` as a subprocess."""

from .harness import run_cli


def test_demo_prints_what_landed_and_what_was_rejected():
    result = run_cli("demo", timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "gotrack: 11 delivered, 1 rejected, 0 pending; the platform holds 11 orders, none twice: True" in out
    assert "orderrepo: 12 delivered, 0 rejected, 0 pending; the platform holds 12 orders, none twice: True" in out
    assert "gotrack: the order has no customer phone number" in out
    assert "left out free item(s): 1 × Free gift: Tote bag" in out
    assert "retrying 2" in out  # the injected 503s were retried, then landed
    assert "Traceback" not in result.stderr
