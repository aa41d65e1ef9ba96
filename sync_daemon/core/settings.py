"""The base settings models every section builds on (the root model lives in ``config.py``)."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

ENV_PREFIX = "SYNC_DAEMON_"
SECRET_SHAPE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces: what platforms issue


PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"
_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def check_ca_bundle(value: str) -> str:
    """The path of a readable PEM file of certificates, or ValueError saying what is wrong with it.

    Checked when the configuration loads (``check-config`` lists it), not at the first request:
    a bundle that cannot be used would otherwise show up as a TLS failure hours later.
    """
    value = value.strip()
    if not value:
        return ""
    path = Path(value)
    if not path.is_absolute():
        # Under systemd the working directory is /, so a relative path would point elsewhere.
        raise ValueError(f"{value} is not an absolute path (e.g. /etc/sync-daemon/shop-ca.pem)")
    try:
        text = path.read_bytes().decode("ascii", errors="replace")
    except FileNotFoundError:
        raise ValueError(f"{value} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"{value} is a directory: give the PEM file of the certificate authority") from None
    except OSError as error:
        raise ValueError(f"{value} cannot be read by this user ({error.strerror})") from None
    if PEM_CERTIFICATE not in text:
        raise ValueError(
            f"{value} is not a PEM certificate file (no {PEM_CERTIFICATE} line; a binary DER .cer/.crt converts "
            "with: openssl x509 -inform der -in FILE -out FILE.pem)"
        )
    if _PEM_PRIVATE_KEY.search(text):
        # The daemon only needs to trust a certificate; a key here means the wrong file was picked.
        raise ValueError(f"{value} holds a private key: give only the certificate(s) of the authority")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
    except ssl.SSLError as error:
        raise ValueError(f"{value} holds a damaged certificate ({error.reason or error})") from None
    return str(path)


# A settings field naming a PEM file of certificate authorities to trust for one connection.
CaBundle = Annotated[str, AfterValidator(check_ca_bundle)]


class Section(BaseModel):
    """Strict base: an unknown key is a typo the merchant must hear about."""

    model_config = ConfigDict(extra="forbid")


class PlatformSettings(Section):
    """What every platform section has: a switch. ``problems`` lists what is missing when enabled."""

    enabled: bool = False
    # A PEM file of the authorities that signed the platform's certificate (a private or
    # self-signed CA); empty: the system's trusted authorities.
    ca_bundle: CaBundle = ""

    def problems(self) -> list[str]:
        """Missing or malformed values, when enabled (none by default)."""
        return []


class DestinationSettings(PlatformSettings):
    """What every destination has besides the switch: a timeout and a concurrency bound."""

    timeout_seconds: float = Field(default=15, gt=0, le=300)
    concurrency: int = Field(default=4, ge=1, le=32)
