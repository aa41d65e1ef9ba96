"""The main loop sleeps until a signal comes (no polling), and still acts on each one at once."""

from __future__ import annotations

import os
import signal
import threading
import time

from sync_daemon.config import Settings
from sync_daemon.service.runner import Daemon


def test_a_signal_wakes_the_main_loop_at_once(tmp_path, monkeypatch):
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    settings = Settings.model_validate({
        "state_dir": str(tmp_path / "state"),
        "poll_interval_seconds": 3600,
        "woocommerce": {"url": "http://127.0.0.1:9", "consumer_key": "ck_x", "consumer_secret": "cs_x"},
        "gotrack": {"enabled": True, "api_key": "fbc_x", "api_secret": "s"},
    })
    daemon = Daemon(settings, None)
    reloaded: list[float] = []
    monkeypatch.setattr(daemon, "reload", lambda: reloaded.append(time.monotonic()))
    sent: dict[str, float] = {}

    def signals() -> None:
        time.sleep(0.5)  # the loop is asleep in its one-second wait by now
        sent["hup"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.3)
        sent["term"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=signals)
    try:
        thread.start()
        assert daemon.run() == 0
        stopped = time.monotonic()
    finally:
        thread.join()
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert len(reloaded) == 1 and reloaded[0] - sent["hup"] < 0.2
    assert daemon.stop_event.is_set() and stopped - sent["term"] < 1.0
    assert signal.set_wakeup_fd(-1) == -1  # the wake-up pipe went with the loop
