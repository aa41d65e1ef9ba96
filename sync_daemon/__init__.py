"""sync-daemon: WooCommerce orders to the platforms a merchant uses, exactly once."""

__version__ = "0.1.0"
