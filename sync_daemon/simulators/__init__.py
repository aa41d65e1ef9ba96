"""Real HTTP simulators of WooCommerce, GoTrack.bd and OrderRepo for tests, demos and benchmarks."""

from .gotrack import GoTrackSimulator
from .orderrepo import OrderRepoSimulator
from .shopback import ShopBackSimulator
from .tracktor import TracktorSimulator
from .woocommerce import WooCommerceSimulator

__all__ = [
    "GoTrackSimulator",
    "OrderRepoSimulator",
    "ShopBackSimulator",
    "TracktorSimulator",
    "WooCommerceSimulator",
]
