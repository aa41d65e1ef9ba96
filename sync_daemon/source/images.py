"""Product images looked up in the shop once per product, for platforms whose payload needs one."""

from __future__ import annotations

import threading

from sync_daemon.core.errors import PermanentError, RetryableError, SyncError
from sync_daemon.source.woocommerce import WooCommerceSource


class ProductImages:
    """The first image of a product, asked of WooCommerce once and cached (a deleted product: None)."""

    def __init__(self, source: WooCommerceSource) -> None:
        self.source = source
        self._images: dict[int, str | None] = {}
        self._lock = threading.Lock()

    def lookup(self, product_id: int) -> str | None:
        """The product's image URL, or None; a transient failure is a RetryableError and is not cached."""
        with self._lock:
            if product_id in self._images:
                return self._images[product_id]
        try:
            image = self.source.product_image(product_id)
        except PermanentError:
            image = None  # a deleted product has no image: cache that
        except SyncError as error:
            # Transient, so not cached; the mapping decides whether the fallback image will do.
            raise RetryableError(f"could not look up the image of product {product_id}: {error}") from None
        with self._lock:
            self._images[product_id] = image
        return image
