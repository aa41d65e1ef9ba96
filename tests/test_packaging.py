"""What the wheel holds: the code, never a private key or a certificate (issue 31: the simulators'
TLS certificates are made at run time by the tests, tests/loopback_tls.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A PEM key block itself (header and base64), not code that looks for one (core/settings.py).
PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\s+[A-Za-z0-9+/=]{40}")


def test_the_wheel_holds_no_private_key_and_no_pem_file(tmp_path):
    # Built from a copy: setuptools builds in the source tree, and a stale build/ there could add or hide files.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "__pycache__", "state", ".pytest_cache", ".ruff_cache"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp_path / "dist")],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("sync_daemon-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert any(name.startswith("sync_daemon/simulators/") for name in names)  # the simulators are in it
        assert [name for name in names if name.endswith((".pem", ".key", ".crt"))] == []
        holding_keys = [name for name in names if PEM_PRIVATE_KEY.search(archive.read(name))]
    assert holding_keys == []
