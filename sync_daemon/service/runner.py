"""The only long-lived loop: the scheduler, signals and service notifications.

APScheduler runs the poll job on one worker thread (so passes never overlap, and the first
one starts immediately). The main thread waits for signals: SIGTERM/SIGINT stop the daemon
(the pass in progress stops taking new work, in-flight requests get a few seconds, the ledger
is committed and closed), SIGHUP reloads the configuration between passes.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from sync_daemon.app import build_engine, build_status_writer, open_ledger, poll_once, prune_ledger
from sync_daemon.config import Settings, config_path, load_settings
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.core.files import check_config_permissions, lock_state_directory
from sync_daemon.engine.dispatch import STOP_GRACE_SECONDS
from sync_daemon.engine.receipts import ReceiptWriter
from sync_daemon.service import systemd as service
from sync_daemon.service.intake import Intake, run_soon
from sync_daemon.service.progress import Display, ProgressReporter

log = structlog.get_logger("sync_daemon.runner")
POLL_JOB = "poll"
WRITEBACK_JOB = "writeback"
RECEIPTS_JOB = "receipts"
PRUNE_JOB = "prune"
FIRST_PRUNE_DELAY_SECONDS = 300
PRUNE_BATCHES_PER_RUN = 40  # 20 000 orders per run at most, so a long backlog never holds a pass for long
LEAD_JOB = "lead"
# The lead job's own thread: heartbeats go on while a long pass holds the main job thread.
LEAD_EXECUTOR = "lead"


def status_job(source: str) -> str:
    """The scheduler id of one status source's pull job."""
    return f"status-pull-{source}"


def changed_settings(old: Settings, new: Settings) -> list[str]:
    """Names of settings that differ (secrets by name only, never by value)."""
    changed = []
    for section in ("woocommerce", "delivery", "ledger", "server", *new.platforms, "writeback"):
        if old.fingerprint(section) != new.fingerprint(section):
            changed.append(section)
    for key in ("poll_interval_seconds", "state_dir", "log_level", "log_format"):
        if getattr(old, key) != getattr(new, key):
            changed.append(key)
    return changed


def needs_restart(old: Settings, new: Settings) -> list[str]:
    """Settings a reload cannot apply: the ledger this daemon has open (where it is, which shop, its password)."""
    names = ["state_dir"] if new.resolved_state_dir() != old.resolved_state_dir() else []
    if (old.ledger.url, old.ledger.shop_id) != (new.ledger.url, new.ledger.shop_id):
        names.append("ledger.url/shop_id")
    if old.ledger.password != new.ledger.password:  # SecretStr compares values; only the name is logged
        names.append("ledger.password")
    return names


def prune_between_passes(engine: Any, ledger: Any, stop_event: threading.Event, progress: Any) -> None:
    """One bounded pruning run under the engine's (possibly reloaded) settings, logged when it removed anything."""
    settings = engine.settings
    result = prune_ledger(
        settings,
        ledger,
        now=engine.clock(),
        max_batches=PRUNE_BATCHES_PER_RUN,
        should_stop=stop_event.is_set,
        on_progress=progress,
    )
    if result is not None and result.orders:
        log.info(
            "ledger pruned",
            retention_days=settings.ledger.retention_days,
            ledger_bytes=ledger.file_bytes(),
            **result.as_dict(),
        )


def status_line(summary: Any, counts: dict[str, dict[str, int]]) -> str:
    """systemd's status line after a pass: when, how many delivered, how many failing, WooCommerce's error."""
    failing = sum(states.get("retrying", 0) + states.get("dead", 0) for states in counts.values())
    text = f"last poll {datetime.now().strftime('%H:%M:%S')}, {summary.delivered} delivered, {failing} failing"
    if summary.source_error:
        text += f", WooCommerce: {summary.source_error[:80]}"
    return text


def apply_jobs(scheduler: Any, jobs: list[tuple[str, Any, float, bool]]) -> None:
    """Add, reschedule or remove the scheduler's jobs to match ``jobs`` ((id, function, interval, wanted))."""
    for job_id, function, seconds, wanted in jobs:
        job = scheduler.get_job(job_id)
        if not wanted:
            if job is not None:
                job.remove()
        elif job is None:
            first = {"next_run_time": datetime.now().astimezone()} if job_id == POLL_JOB else {}
            if job_id == PRUNE_JOB:  # soon after start too: a daemon restarted often still prunes
                delay = timedelta(seconds=min(seconds, FIRST_PRUNE_DELAY_SECONDS))
                first = {"next_run_time": datetime.now().astimezone() + delay}
            scheduler.add_job(function, "interval", seconds=seconds, id=job_id, **first)
        elif job.trigger.interval.total_seconds() != seconds:
            scheduler.reschedule_job(job_id, trigger="interval", seconds=seconds)


class Daemon:
    """``sync-daemon run``: polls on a schedule until told to stop."""

    def __init__(
        self, settings: Settings, config_file: str | os.PathLike[str] | None, display: Display | None = None
    ) -> None:
        self.settings = settings
        self.config_file = config_file
        self.stop_event = threading.Event()
        self._stop_signal: int | None = None
        self._reload_requested = False
        self._wakeup: int | None = None  # read end of the signal wake-up pipe, while run() waits on it
        self._status_jobs: set[str] = set()  # sources with a scheduled pull, so a reload can remove one
        self._install_signals()  # before opening anything, so an early SIGTERM is a clean stop too
        self.notifier = service.ServiceNotifier()
        self.watchdog = service.ProgressWatchdog()
        # One daemon per SQLite ledger, decided before anything is read, sent or bound; the kernel drops
        # the lock with the process however it ends. status, resync, writeback and prune (but --vacuum)
        # do not take it. A second daemon thus hears "another sync-daemon is running", not a port clash
        # of its listener. A PostgreSQL ledger is shared instead: rows are leased, one daemon leads.
        self.shared = settings.ledger.shared
        self.lock = None if self.shared else lock_state_directory(settings.resolved_state_dir())
        # Who polls WooCommerce, writes back, sweeps and prunes: the one daemon of a SQLite ledger; on
        # a shared one, the holder of the shop's lock (``_lead``), the others deliver only.
        self.leading = not self.shared
        try:
            self.intake = Intake(settings)  # binds the listener's port: in use → exit 2 before the ledger opens
            self.ledger = open_ledger(settings)
            self.intake.attach(self.ledger)
        except BaseException:
            if self.lock is not None:
                self.lock.release()
            raise
        self.progress = ProgressReporter(self.ledger, self.notifier, display=display)
        self.engine = build_engine(settings, self.ledger, self.stop_event, self.watchdog.progress,
                                   self.progress.report)
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1), LEAD_EXECUTOR: ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    @property
    def silence(self) -> float:
        """How long without progress before the watchdog stops pinging systemd."""
        return max(self.settings.poll_interval_seconds * 3, 120.0)

    def _poll(self) -> None:
        self.watchdog.progress()
        finished = self.intake.poll_timer()
        engine = self.engine
        with engine.busy:  # shutdown waits for this whole block, ledger reads included
            if self.stop_event.is_set():
                return
            try:
                summary = engine.sync_pass(read_source=self.leading)
                # Only systemd's status line needs the counts (12 queries): not read without it.
                counts = self.ledger.summary()["counts"] if self.notifier.enabled else {}
            except Exception:  # noqa: BLE001 - the schedule must survive a bug in one pass
                log.exception("pass crashed; the next poll will try again")
                finished(None)
                return
            finally:
                self.watchdog.progress()
                self.progress.finish()
        finished(summary)
        self.notifier.status(status_line(summary, counts))

    def _pull_statuses(self, name: str) -> None:
        # The engine (and its sources) may have been rebuilt by a reload since the job was added.
        self._guarded(f"{name} status pull", lambda engine: engine.pull_statuses(name))

    def _pull_tracking_now(self, only: Sequence[str] | None = None) -> None:
        # A tracking webhook: read the orders it named (all that are due when it named none) now instead
        # of waiting for the slow backstop; write-back then takes them on its own schedule, as ever.
        for name, source in list(self.engine.status_sources.items()):
            if source.kind == "tracking":
                self._guarded(f"{name} tracking read", lambda engine, name=name: engine.pull_statuses(name, only))

    def _write_back(self) -> None:
        if self.engine.settings.writeback.enabled:  # the job goes on reload; a run already queued stops here
            self._guarded("write-back", lambda engine: build_status_writer(engine).apply())

    def _write_receipts(self) -> None:
        # Always scheduled: with receipts or notes turned off the job marks their queue done unwritten.
        self._guarded("writing receipts and notes", lambda engine: ReceiptWriter.of(engine).run())

    def _prune(self) -> None:
        pruning = partial(prune_between_passes, ledger=self.ledger, stop_event=self.stop_event,
                          progress=self.watchdog.progress)
        self._guarded("pruning the ledger", pruning)

    def _guarded(self, what: str, job: Any) -> None:
        """Run a leader's job between passes; a bug in it is logged and the schedule goes on."""
        engine = self.engine
        with engine.busy:
            if self.stop_event.is_set() or not self.leading:
                return  # reading WooCommerce and writing into it is the leader's (a shared ledger)
            try:
                job(engine)
            except Exception:  # noqa: BLE001 - the schedule must survive a bug in one job
                log.exception(f"{what} crashed; the next one will try again")
            finally:
                self.watchdog.progress()

    def _lead(self) -> None:
        """Take or keep the lead of a shared ledger, say this daemon is alive, and deliver when not leading."""
        was = self.leading
        now = time.time()
        try:
            self.leading = self.ledger.try_lead()
            interval = self.settings.ledger.leader_check_seconds
            self.ledger.daemon_heartbeat(now=now, leads=self.leading, interval=interval)
            # A row left 'sending' (its daemon was killed, or the database went away before the outcome
            # was written) stays leased; once the lease has run out, whichever daemon beats first sends
            # it again. A start is not the only chance: the killed one may have come back before its
            # lease ended, or never, and a daemon that merely lost the database never restarts.
            recovered = self.ledger.recover_interrupted(now=now)
        except Exception as error:  # noqa: BLE001 - the database may be down; the next beat tries again
            self.leading = False
            log.warning("the shared ledger cannot be reached; not leading until it can", error=str(error)[:200])
            return
        if recovered:
            log.warning("sending again deliveries left 'sending' past their lease", count=recovered)
        if self.leading and not was:
            log.info("took the lead: this daemon now polls WooCommerce and writes back")
        elif was and not self.leading:
            log.warning("lost the lead: another daemon polls WooCommerce now; this one delivers only")
        if self.leading != was or not self.leading:
            # A new leader polls at once; a follower delivers what the leader recorded, at every beat.
            self._run_poll_now()

    def _run_poll_now(self) -> None:
        job = self.scheduler.get_job(POLL_JOB)
        if job is not None:
            job.modify(next_run_time=datetime.now().astimezone())

    def _install_signals(self) -> None:
        # Handlers run on the main thread between two bytecodes, possibly while it holds the lock
        # of an Event or of the log stream: they only set plain attributes; the main loop acts.
        def stop(signum: int, _frame: Any) -> None:
            self._stop_signal = signum

        def reload(_signum: int, _frame: Any) -> None:
            self._reload_requested = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    def _wait(self, seconds: float) -> bool:
        """Block until a signal arrives or ``seconds`` pass; True when told to stop.

        Python's C-level handler writes a byte to the wake-up pipe (``signal.set_wakeup_fd``) before
        the handlers above run, so the ``select`` returns at once for a signal that comes after the
        check, and the main thread sleeps through quiet seconds instead of waking ten times each.
        """
        quiet = self._stop_signal is None and not self._reload_requested
        if quiet and seconds > 0 and self._wakeup is not None and select.select([self._wakeup], [], [], seconds)[0]:
            with suppress(OSError):
                os.read(self._wakeup, 512)  # the handlers' flags say what came; the bytes only wake
        if self._stop_signal is not None and not self.stop_event.is_set():
            log.info("stop requested", signal=signal.Signals(self._stop_signal).name)
            self.stop_event.set()
        return self.stop_event.is_set()

    def run(self) -> int:
        """Start the schedule, serve until a stop signal, shut down cleanly; returns the exit code."""
        self.engine.startup()
        if self.shared:
            self.ledger.daemon_started(now=time.time())
            self.leading = self.ledger.try_lead()
        self._schedule(self.settings)
        if self.shared:
            self.scheduler.add_job(self._lead, "interval", seconds=self.settings.ledger.leader_check_seconds,
                                   id=LEAD_JOB, executor=LEAD_EXECUTOR)
        self.scheduler.start()
        self.intake.start(run_soon(self.scheduler), self._guarded, self._pull_tracking_now)
        log.info(
            "sync-daemon started",
            destinations=list(self.engine.destinations),
            poll_interval_seconds=self.settings.poll_interval_seconds,
            ledger=self.ledger.location,
            leads=self.leading,
        )
        self.notifier.ready()
        self._wakeup, wakeup_write = os.pipe()
        for end in (self._wakeup, wakeup_write):
            os.set_blocking(end, False)
        previous_wakeup = signal.set_wakeup_fd(wakeup_write, warn_on_full_buffer=False)
        # Signals wake the loop at once; the clock only for systemd's watchdog, pinged about once a second.
        tick = 1.0 if self.notifier.enabled else 3600.0
        try:
            while not self._wait(tick):
                self.watchdog.maybe_ping(self.notifier, self.silence)
                if self._reload_requested:
                    self._reload_requested = False
                    self.reload()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            os.close(wakeup_write)
            os.close(self._wakeup)
            self._wakeup = None
        return self.shutdown()

    def _jobs(self, settings: Settings) -> list[tuple[str, Any, float, bool]]:
        """(id, function, interval, wanted) of every scheduled job under these settings."""
        sources = self.engine.status_sources  # built from these settings
        jobs: list[tuple[str, Any, float, bool]] = [(POLL_JOB, self._poll, settings.poll_interval_seconds, True)]
        for name in sources.keys() | self._status_jobs:
            source = sources.get(name)
            interval = source.interval_seconds if source else 0.0
            jobs.append((status_job(name), partial(self._pull_statuses, name), interval, source is not None))
        self._status_jobs = set(sources)
        writeback = settings.writeback.enabled and bool(sources)
        jobs.append((WRITEBACK_JOB, self._write_back, settings.writeback.interval_seconds, writeback))
        delivers = bool(self.engine.destinations)  # receipts and rejection notes come from deliveries
        jobs.append((RECEIPTS_JOB, self._write_receipts, settings.poll_interval_seconds, delivers))
        jobs.append(self.intake.job(settings))  # the reconcile sweep
        retention = settings.ledger.retention_days > 0
        jobs.append((PRUNE_JOB, self._prune, settings.ledger.prune_interval_seconds, retention))
        return jobs

    def _schedule(self, settings: Settings) -> None:
        """Add, reschedule or remove jobs to match the settings (at start and on every reload)."""
        apply_jobs(self.scheduler, self._jobs(settings))

    def reload(self) -> None:
        """Re-read config and credentials; keep the old ones when the new config is invalid."""
        self.notifier.reloading()
        try:
            new = load_settings(self.config_file)
        except ConfigurationError as error:
            log.error(
                "reload rejected: the new configuration is invalid; still running the old one", problems=str(error)
            )
            self.notifier.ready()
            return
        changed = changed_settings(self.settings, new)
        try:
            # First, so that a new address already in use rejects the reload with the old listener serving.
            listener = self.intake.reload(new)
        except ConfigurationError as error:
            log.error("reload rejected: still running the old configuration", problems=str(error))
            self.notifier.ready()
            return
        old_engine = self.engine
        # Swap engines between passes, so nothing in flight is dropped; keep the watchdog fed
        # while a long pass finishes.
        while not old_engine.busy.acquire(timeout=1.0):
            self.watchdog.maybe_ping(self.notifier, self.silence)
            if self._wait(0):
                return
        try:
            self.engine = build_engine(new, self.ledger, self.stop_event, self.watchdog.progress, self.progress.report)
            self.engine.startup()
        finally:
            old_engine.busy.release()
        old_engine.close()
        self._schedule(new)
        if (new.log_level, new.log_format) != (self.settings.log_level, self.settings.log_format):
            from sync_daemon.core import logs

            logs.configure(new.log_level, new.log_format)
        restart = needs_restart(self.settings, new)
        if restart:
            log.warning("changed settings that take effect only with a restart (systemctl restart sync-daemon)",
                        settings=restart, kept=self.ledger.location)
        self.settings = new
        extra = {"listener": listener} if listener else {}  # "listener moved to 127.0.0.1:8788", …
        log.info("configuration reloaded", changed=changed or ["nothing"], **extra)
        self.notifier.ready()

    def shutdown(self) -> int:
        """Stop the schedule, let the pass in progress wind down, commit and close the ledger."""
        self.notifier.stopping()
        self.intake.stop()
        self.scheduler.shutdown(wait=False)
        finished = self.engine.busy.acquire(timeout=STOP_GRACE_SECONDS + 2)
        try:
            self.engine.close()
            if self.shared:
                with suppress(Exception):  # a database that is down: the row ages out on its own
                    self.ledger.daemon_stopped()
            self.ledger.close()
            if self.lock is not None:
                self.lock.release()
        finally:
            if finished:
                # A job that fired meanwhile is waiting for this lock; it sees the stop and returns
                # (holding the lock forever would keep its thread, and so the process, alive).
                self.engine.busy.release()
        log.info("sync-daemon stopped", clean=finished)
        if not finished:
            # A request is still hanging in the poll thread; its row stays 'sending' and is sent
            # again at the next start, so it is safe to leave without waiting for its timeout.
            os._exit(0)
        return 0


def run(config_file: str | os.PathLike[str] | None, display: Display | None = None, log_stream: Any = None) -> int:
    """Load settings, warn about loose permissions, and run the daemon (``display``: a terminal's progress bar)."""
    settings = load_settings(config_file)
    from sync_daemon.core import logs

    logs.configure(settings.log_level, settings.log_format, stream=log_stream)
    path = config_path(config_file)
    if path is not None:
        warning = check_config_permissions(Path(path))
        if warning:
            log.warning(warning)
    return Daemon(settings, config_file, display).run()


__all__ = ["Daemon", "changed_settings", "open_ledger", "poll_once", "run"]
