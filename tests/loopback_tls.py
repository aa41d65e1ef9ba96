"""Throw-away TLS for the simulators' https mode: an authority made by ``trustme`` for one test run.

Nothing here is stored in the repository or the package: the authority and its key exist only in
the run's temp directory. The server sends its whole chain, the authority's own certificate
included, so a client that does not trust it sees a self-signed certificate in the chain (as with
a shop's self-made authority).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class LoopbackTLS:
    """An authority's certificate (what a client trusts) and a certificate it issued for 127.0.0.1."""

    ca_certificate: str  # the authority's certificate alone: what ca_bundle points at
    key_and_certificates: str  # the server's key, its certificate and the authority's: never a bundle

    @classmethod
    def create(cls, directory: Path) -> LoopbackTLS:
        """A new authority and a certificate for 127.0.0.1 and localhost, written into ``directory``."""
        authority = trustme.CA()
        leaf = authority.issue_cert("127.0.0.1", "localhost")
        ca_certificate = directory / "loopback-ca.pem"
        authority.cert_pem.write_to_path(str(ca_certificate))
        key_and_certificates = directory / "loopback-key-and-chain.pem"
        key_and_certificates.write_bytes(leaf.private_key_and_cert_chain_pem.bytes() + authority.cert_pem.bytes())
        return cls(str(ca_certificate), str(key_and_certificates))

    def server_context(self) -> ssl.SSLContext:
        """A server context with the issued certificate, for ``SimulatorServer(tls=...)``."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.key_and_certificates)
        return context
