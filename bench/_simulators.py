"""``python -m sync_daemon.simulators``, with Nagle's algorithm off on the servers' sockets.

The simulators' HTTP server writes a response's headers and its body in two ``send()`` calls. With
Nagle's algorithm on (the default), the body waits until the client acknowledges the headers, and the
client delays that ACK by up to 40 ms: every request then takes ~44 ms on loopback instead of ~1 ms,
and a benchmark measures the simulator, not the daemon. ``socketserver`` has a switch for exactly this
(``StreamRequestHandler.disable_nagle_algorithm``); the simulators are not modified.
"""

from __future__ import annotations

import socketserver
import sys

from sync_daemon.simulators.__main__ import main

socketserver.StreamRequestHandler.disable_nagle_algorithm = True

if __name__ == "__main__":
    sys.exit(main())
