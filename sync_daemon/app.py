"""The composition root: the one place that wires settings, ledger, shop, platforms and engine together.

Every command that touches the ledger, the daemon (``service.runner``) and the demo build their parts
here, so the order of opening and closing is written once: open the ledger (refusing an unwritable
state directory), build the engine on it, and on the way out close the engine before the ledger it
writes to.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from sync_daemon.config import Settings, load_settings
from sync_daemon.core import logs
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.core.files import check_state_dir_writable, missing_ledger
from sync_daemon.core.urls import origin_of
from sync_daemon.engine.sync import Engine
from sync_daemon.engine.writeback import StatusWriter
from sync_daemon.ledger import Ledger, PruneResult, SqliteLedger, open_postgres
from sync_daemon.ledger.encoding import iso_stamp
from sync_daemon.platforms import Platform, ShopContext
from sync_daemon.source.images import ProductImages
from sync_daemon.source.woocommerce import WooCommerceSource


def open_ledger(settings: Settings, *, create: bool = True) -> Ledger:
    """Open the configured ledger: PostgreSQL when ``[ledger] url`` says so, else SQLite in the state directory.

    Without ``create`` a missing SQLite ledger is a ConfigurationError saying where it was looked
    for: a command run beside the daemon must find the daemon's ledger, never start an empty one.
    """
    section = settings.ledger
    if section.shared:
        password = section.password.get_secret_value() if section.password else None
        return open_postgres(
            section.url, shop_id=shop_id(settings), password=password, lease_seconds=section.lease_seconds
        )
    directory = settings.resolved_state_dir()
    problem = check_state_dir_writable(directory) if create else missing_ledger(directory)
    if problem:
        raise ConfigurationError(problem)
    return SqliteLedger.open(directory)


def shop_id(settings: Settings) -> str:
    """The shop's name in a shared ledger: ``[ledger] shop_id``, else its WooCommerce address (host and path)."""
    if settings.ledger.shop_id:
        return settings.ledger.shop_id
    parts = urlsplit(settings.woocommerce.url or "")
    if not parts.hostname:
        raise ConfigurationError("[ledger] shop_id: set it, or woocommerce.url, to name the shop in a shared ledger")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.hostname}{port}{parts.path.rstrip('/')}"


# WooCommerce's own statuses of an order still under way; with ``woocommerce.statuses`` they are
# the statuses in which retention keeps an order (read again as new, it would be sent again).
OPEN_ORDER_STATUSES = ("pending", "on-hold", "processing")
PRUNE_BATCH_ORDERS = 500  # orders per transaction: the daemon's other writes wait at most one batch
RECLAIM_PAGES_PER_STEP = 1024  # pages (4 MiB) given back to the disk per incremental-vacuum step
DAY_SECONDS = 86400.0


def prune_ledger(
    settings: Settings,
    ledger: Ledger,
    *,
    now: float,
    dry_run: bool = False,
    max_batches: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: Callable[[], Any] = lambda: None,
) -> PruneResult | None:
    """Prune the orders past ``[ledger] retention_days`` in small batches, giving the space back.

    Returns what went (with ``dry_run`` what would go, removing nothing), or None when retention is
    off. ``max_batches`` bounds one run (the daemon's, between passes); ``should_stop`` is asked
    before each batch.
    """
    days = settings.ledger.retention_days
    if days <= 0:
        return None
    older_than = now - days * DAY_SECONDS
    open_statuses = sorted({*OPEN_ORDER_STATUSES, *settings.woocommerce.statuses})
    if dry_run:
        return ledger.prune_preview(older_than=older_than, open_statuses=open_statuses)
    total = PruneResult()
    batches = 0
    while not should_stop():
        if max_batches is not None and batches >= max_batches:
            total.more_left = True
            break
        batch = ledger.prune_batch(older_than=older_than, open_statuses=open_statuses, limit=PRUNE_BATCH_ORDERS)
        batches += 1
        total.add(batch)
        ledger.reclaim_space(max_pages=RECLAIM_PAGES_PER_STEP)
        on_progress()
        if batch.orders < PRUNE_BATCH_ORDERS:
            break
    else:
        total.more_left = True
    # What the batches freed beyond their own steps, a short write at a time.
    while not should_stop() and ledger.reclaim_space(max_pages=RECLAIM_PAGES_PER_STEP):
        on_progress()
    ledger.set_meta(last_prune_at=iso_stamp(now))
    return total


def build_platforms(settings: Settings, shop: WooCommerceSource) -> list[Platform]:
    """The enabled platforms, each given its own section and what it may know of the shop."""
    images = ProductImages(shop) if settings.woocommerce.url else None
    context = ShopContext(
        url=settings.woocommerce.url,
        origin=origin_of(settings.woocommerce.url),
        product_image=images.lookup if images else ShopContext().product_image,
    )
    return [settings.platforms[name](settings.section(name), context) for name in settings.enabled_platforms()]


def build_engine(
    settings: Settings,
    ledger: Ledger,
    stop_event: threading.Event,
    on_progress: Any = lambda: None,
    report_progress: Any = lambda progress: None,
) -> Engine:
    """An engine wired to the shop and the enabled platforms' destinations and status sources."""
    shop = WooCommerceSource(settings.woocommerce)
    platforms = build_platforms(settings, shop)
    return Engine(
        settings,
        ledger,
        shop,
        {lane.name: lane for platform in platforms for lane in platform.destinations()},
        status_sources=[source for platform in platforms for source in platform.status_sources()],
        stop_event=stop_event,
        on_progress=on_progress,
        report_progress=report_progress,
    )


def build_status_writer(engine: Engine) -> StatusWriter:
    """The write-back side of an engine: its shop, its ledger and its status sources."""
    return StatusWriter(
        engine.settings.writeback,
        engine.ledger,
        engine.source,
        list(engine.status_sources.values()),
        remap=engine.map_raw,
        clock=engine.clock,
        stop_event=engine.stop_event,
        on_progress=engine.on_progress,
    )


def load_configured(config_file: str | os.PathLike[str] | None) -> Settings:
    """Load and validate the settings and set up logging: the first step of a one-shot command that syncs.

    A command's stderr is read by a person: plain lines, like its own messages, whatever
    ``log_format`` says (that setting is the daemon's, whose log goes to the journal).
    """
    settings = load_settings(config_file)
    logs.configure(settings.log_level, "console")
    return settings


class App:
    """The wired parts for one command: ``with App(settings) as app:`` opens the ledger, closes all on exit.

    The engine is built on first use of ``app.engine``, so a command that only reads the ledger
    (``status``) never builds the shop and platform clients. A command that only reads never creates
    a missing ledger; one that sends (``resync``, ``writeback``, the demo) passes ``create_ledger``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        stop_event: threading.Event | None = None,
        on_progress: Callable[[], Any] = lambda: None,
        create_ledger: bool = False,
    ) -> None:
        self.settings = settings
        self._create_ledger = create_ledger
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self._on_progress = on_progress
        self._ledger: Ledger | None = None
        self._engine: Engine | None = None

    def __enter__(self) -> App:
        self._ledger = open_ledger(self.settings, create=self._create_ledger)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @property
    def ledger(self) -> Ledger:
        """The open ledger (only inside the ``with`` block)."""
        if self._ledger is None:
            raise RuntimeError("the ledger is not open: use App inside a `with` block")
        return self._ledger

    @property
    def engine(self) -> Engine:
        """The engine on this ledger, built on first use."""
        if self._engine is None:
            self._engine = build_engine(self.settings, self.ledger, self.stop_event, self._on_progress)
        return self._engine

    def status_writer(self) -> StatusWriter:
        """A write-back writer on this app's engine."""
        return build_status_writer(self.engine)

    def close(self) -> None:
        """Close the engine first (it may still write its last outcomes), then the ledger."""
        engine, self._engine = self._engine, None
        ledger, self._ledger = self._ledger, None
        try:
            if engine is not None:
                engine.close()
        finally:
            if ledger is not None:
                ledger.close()


def poll_once(settings: Settings, *, passes: int = 1, pause: float = 0.0) -> list[Any]:
    """Run a few passes in the foreground (used by ``demo``); returns their summaries."""
    with App(settings, create_ledger=True) as app:
        engine = app.engine
        engine.startup()
        summaries = []
        for index in range(passes):
            summaries.append(engine.sync_pass())
            if index < passes - 1 and pause:
                app.stop_event.wait(pause)
        return summaries
