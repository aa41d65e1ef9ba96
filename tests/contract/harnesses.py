"""What the platform contract needs to know of each platform: one small harness class per platform.

A harness owns the platform's simulator and says how to configure the platform for it (valid
credentials and wrong ones), which WooCommerce order the platform accepts, how to turn an accepted
payload into one the platform refuses (and with which message of its own), and how many orders
the simulator holds. Everything else lives once, in ``platform.py``.

A fifth platform gets its harness here and its line in ``HARNESSES``; the contract's module fails
for a delivering platform that has none.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sync_daemon.simulators.base import SimulatorServer
from sync_daemon.simulators.gotrack import GoTrackSimulator
from sync_daemon.simulators.orderrepo import OrderRepoSimulator
from sync_daemon.simulators.orders import make_order
from sync_daemon.simulators.shopback import ShopBackSimulator, new_token

SHOP_ORIGIN = "https://shop.example.com"  # the shop's Origin, allowed by the OrderRepo simulator
# Inside the engine's first-poll window (seven days by default), and in the past.
CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


class PlatformHarness:
    """A platform's simulator and its settings, accepted order and refusal, for the contract suite."""

    name: ClassVar[str]  # the platform's name in the registry (its settings section)
    # The platform's own words for the refusal ``refuse`` provokes; the error must carry them.
    refusal_message: ClassVar[str]
    # The paths (regular expressions for fault rules) of its create, read-one and update requests,
    # for a platform with an update API; None for one without.
    create_path: ClassVar[str | None] = None
    read_path: ClassVar[str | None] = None
    update_path: ClassVar[str | None] = None

    def __init__(self) -> None:
        self.simulator = self.make_simulator()

    def __enter__(self) -> PlatformHarness:
        self.simulator.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.simulator.stop()

    @property
    def lane(self) -> str:
        """The destination orders are delivered to (its ledger name)."""
        return self.name

    def make_simulator(self) -> SimulatorServer:
        """The platform's simulator, not started yet."""
        raise NotImplementedError

    def section(self, **overrides: Any) -> dict[str, Any]:
        """The platform's settings section, enabled, with the simulator's valid credentials."""
        raise NotImplementedError

    def wrong_credentials(self, **overrides: Any) -> dict[str, Any]:
        """The same section with well-formed credentials the simulator does not accept."""
        raise NotImplementedError

    def check_refused_section(self) -> dict[str, Any]:
        """A section ``check()`` must find wrong: by default, the wrong credentials."""
        return self.wrong_credentials()

    def reset(self) -> None:
        """Forget every order, request and fault (credentials are kept)."""
        self.simulator.reset()

    def order(self, order_id: int) -> dict[str, Any]:
        """A WooCommerce order (as the REST API returns it) that the platform accepts."""
        return make_order(order_id, created=CREATED)

    def refuse(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A copy of an accepted payload that the platform refuses with ``refusal_message``."""
        raise NotImplementedError

    def orders_held(self) -> int:
        """How many orders (conversions, …) the simulator holds."""
        raise NotImplementedError


class GoTrackHarness(PlatformHarness):
    """GoTrack.bd: Basic auth, JSON errors, idempotent by external_order_id."""

    name = "gotrack"
    refusal_message = "validation_failed: line_items.0.quantity must be greater than 0."

    def make_simulator(self) -> GoTrackSimulator:
        """A GoTrack simulator with fresh credentials."""
        return GoTrackSimulator()

    def section(self, **overrides: Any) -> dict[str, Any]:
        """Endpoint, API key and secret of the simulator."""
        simulator = self.simulator
        return {"enabled": True, "endpoint": simulator.endpoint, "api_key": simulator.api_key,
                "api_secret": simulator.api_secret, **overrides}

    def wrong_credentials(self, **overrides: Any) -> dict[str, Any]:
        """The right key with a secret of the right shape that is not the simulator's."""
        return self.section(api_secret="W" * 40, **overrides)

    def refuse(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A line with quantity 0: the mapping never sends one, GoTrack answers 422."""
        refused = copy.deepcopy(payload)
        refused["line_items"][0]["quantity"] = 0
        return refused

    def orders_held(self) -> int:
        """Orders GoTrack created."""
        return len(self.simulator.orders())


class OrderRepoHarness(PlatformHarness):
    """OrderRepo: X-API-KEY plus Origin, Laravel-style validation errors."""

    name = "orderrepo"
    refusal_message = "Validation error (email: The email field must be a valid email address.)"
    create_path = "^/api/orders/track$"
    read_path = "^/api/external/orders/[^/]+$"
    update_path = "^/api/orders/update$"

    def make_simulator(self) -> OrderRepoSimulator:
        """An OrderRepo simulator that allows the shop's Origin."""
        return OrderRepoSimulator(allowed_origins=(SHOP_ORIGIN,))

    def section(self, **overrides: Any) -> dict[str, Any]:
        """Base URL and API key of the simulator, the shop's Origin and an image for products without one."""
        simulator = self.simulator
        return {"enabled": True, "base_url": simulator.url, "api_key": simulator.api_key, "origin": SHOP_ORIGIN,
                "fallback_image_url": f"{SHOP_ORIGIN}/placeholder.png", **overrides}

    def wrong_credentials(self, **overrides: Any) -> dict[str, Any]:
        """An API key of the right shape that is not the simulator's."""
        return self.section(api_key="W" * 40, **overrides)

    def refuse(self, payload: dict[str, Any]) -> dict[str, Any]:
        """An e-mail that is not one: the mapping leaves such a value out, OrderRepo answers 422."""
        return {**payload, "email": "not-an-email"}

    def orders_held(self) -> int:
        """Orders OrderRepo stored."""
        return len(self.simulator.orders())


class ShopBackHarness(PlatformHarness):
    """ShopBack: a GET postback answered with HTTP 200 and text, also for refusals and a wrong token."""

    name = "shopback"
    refusal_message = "Invalid Trans. ID"
    meta_key = "_shopback_transaction_id"

    def make_simulator(self) -> ShopBackSimulator:
        """A ShopBack simulator for offer 1234 with a fresh token."""
        return ShopBackSimulator(offer_id="1234")

    def section(self, **overrides: Any) -> dict[str, Any]:
        """Postback URL, offer id and security token of the simulator."""
        simulator = self.simulator
        return {"enabled": True, "endpoint": simulator.endpoint, "offer_id": simulator.offer_id,
                "security_token": simulator.security_token, **overrides}

    def wrong_credentials(self, **overrides: Any) -> dict[str, Any]:
        """A well-formed token (32 letters and digits) that is not the simulator's."""
        return self.section(security_token=new_token(), **overrides)

    def check_refused_section(self) -> dict[str, Any]:
        """No token at all: ShopBack has no request that proves a token without recording a conversion.

        A wrong but well-formed token is only refused by a real postback (the auth contract tests
        show it is); ``check()`` can only find credentials wrong that are missing or malformed.
        """
        return self.section(security_token="")

    def order(self, order_id: int) -> dict[str, Any]:
        """An order that came from a ShopBack click, the click registered with the simulator."""
        order = super().order(order_id)
        click = f"CLICK{order_id}"
        self.simulator.register_click(click)
        order["meta_data"].append({"id": order_id * 100 + 9, "key": self.meta_key, "value": click})
        return order

    def refuse(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A well-formed click id ShopBack never issued: answered ``Invalid Trans. ID``."""
        return {**payload, "transaction_id": "NEVERISSUED1"}

    def orders_held(self) -> int:
        """Conversions ShopBack recorded."""
        return len(self.simulator.conversions())


HARNESSES: dict[str, type[PlatformHarness]] = {
    harness.name: harness for harness in (GoTrackHarness, OrderRepoHarness, ShopBackHarness)
}
