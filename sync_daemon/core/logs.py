"""structlog set-up: JSON lines for journald, readable lines on a terminal, secrets masked.

Logs go to stderr so that ``status --json`` and other command output on stdout stay clean;
under systemd both streams land in the journal.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from sync_daemon.core.redaction import redact

_NOISY_LIBRARIES = ("urllib3", "requests", "apscheduler", "woocommerce")
_MAY_HOLD_TEXT = (str, dict, list, tuple)


def _redact_values(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_values(item) for item in value]
    return value


def redact_event(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask every registered secret in every value of the event.

    Only text and containers can hold one: numbers, booleans and None (most of a pass summary)
    are left as they are, without a call each.
    """
    for key, value in event_dict.items():
        if isinstance(value, _MAY_HOLD_TEXT):
            event_dict[key] = _redact_values(value)
    return event_dict


class _DropDeliberateSkips(logging.Filter):
    """APScheduler warns at every tick a pass outlasts; never running two polls at once is the design."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def configure(level: str = "info", log_format: str = "auto", stream: Any = None) -> None:
    """Configure structlog and the standard library's logging for the whole process."""
    stream = stream or sys.stderr
    use_json = log_format == "json" or (log_format == "auto" and not stream.isatty())
    renderer = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    stamp = [structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)]
    numeric_level = getattr(logging, level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *stamp,
            structlog.processors.format_exc_info,
            redact_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # Library records (APScheduler, urllib3) take the same road: one format in the journal, and
    # the same masking of secrets, since their messages can carry whole URLs.
    handler = logging.StreamHandler(stream)
    handler.addFilter(_DropDeliberateSkips())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *stamp],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_event,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    # Library loggers print whole URLs (OAuth signatures, tokens) at debug level: keep them quiet.
    for name in _NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
