"""Tracktor's connection check: reading the status options proves key and uuid, changing nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync_daemon.core.errors import AuthError, ConfigurationError, SyncError
from sync_daemon.platforms.base import CheckResult

if TYPE_CHECKING:

    pass
from sync_daemon.platforms.tracktor.client import TracktorClient
from sync_daemon.platforms.tracktor.parse import SHIPMENT_STATUSES
from sync_daemon.platforms.tracktor.settings import NAME


def check_connection(client: TracktorClient) -> CheckResult:
    """Reading the status options proves the key and the uuid without changing anything."""
    if client.problems:
        return CheckResult(NAME, False, "; ".join(client.problems), "edit the [tracktor] section")
    try:
        options = client.status_options()
    except AuthError as error:
        return CheckResult(NAME, False, str(error), "copy the API key and the uuid again from Tracktor's settings")
    except ConfigurationError as error:
        return CheckResult(NAME, False, str(error), "check tracktor.uuid and tracktor.base_url")
    except SyncError as error:
        return CheckResult(NAME, False, str(error), "check tracktor.base_url and the network")
    slugs = [option["slug"] for option in options]
    custom = [slug for slug in slugs if slug not in SHIPMENT_STATUSES]
    message = f"key and uuid accepted; {len(slugs)} status options"
    if custom:
        message += f" (custom: {', '.join(custom)})"
    return CheckResult(NAME, True, message, details={"status_options": slugs})
