"""TLS for a PostgreSQL store, prepared once and off the event loop.

Given ``ssl="prefer"`` (its default) asyncpg builds a new SSL context for every connection and
reads certificate files while doing so (``load_cert_chain`` on ``~/.postgresql/postgresql.crt``
even when there is none), in the event loop. Here the context is built once, when the engine
is created in a worker thread, from libpq's settings in the URL (``sslmode`` or ``ssl``,
``sslrootcert``, ``sslcert``, ``sslkey``) or ``PGSSLMODE``, and handed to asyncpg ready-made.

The modes follow libpq: ``disable`` no TLS; ``allow`` and ``prefer`` TLS without checking the
server's certificate, and plain text when the server has no TLS; ``require`` TLS, the
certificate checked (as ``verify-ca``) when a root certificate file exists (``sslrootcert``,
else ``~/.postgresql/root.crt``); ``verify-ca`` and ``verify-full`` the certificate checked
against that file, which must exist, or against the system's authorities with
``sslrootcert=system`` (``verify-full`` only, its default mode, as libpq), and for
``verify-full`` the host name too. A client certificate is sent when ``sslcert`` names one or
``~/.postgresql/postgresql.crt`` exists; an encrypted key is opened with ``sslpassword`` and
never by asking on a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import ssl

from sqlalchemy.engine import URL

from .errors import StoreUnavailableError

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# URL query keys that are libpq's TLS settings (asyncpg would not take most of them)
TLS_QUERY_KEYS = ("ssl", "sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword")
# sslrootcert's value for the system's certificate authorities (libpq 16)
SYSTEM_ROOTS = "system"


@dataclass(frozen=True, slots=True)
class PostgresTLS:
    """How to talk to the server: the context (None: plain text), and whether a server
    without TLS is talked to in plain text (``allow``, ``prefer``)."""

    context: ssl.SSLContext | None
    plain_if_refused: bool


def _dot_postgresql(name: str) -> Path | None:
    """A file of libpq's per-user folder, if it exists."""
    try:
        path = Path.home() / ".postgresql" / name
    except RuntimeError:  # no home folder
        return None
    return path if path.is_file() else None


def _query_value(url: URL, key: str) -> str | None:
    value = url.query.get(key)
    if isinstance(value, tuple):  # the key given more than once: the last one counts
        value = value[-1] if value else None
    return value or None


def postgres_tls(url: URL) -> tuple[URL, PostgresTLS]:
    """The URL without its TLS settings, and the TLS to use (blocking: it reads files)."""
    root = _query_value(url, "sslrootcert") or os.environ.get("PGSSLROOTCERT")
    mode = (
        _query_value(url, "sslmode")
        or _query_value(url, "ssl")
        or os.environ.get("PGSSLMODE")
        or ("verify-full" if root == SYSTEM_ROOTS else "prefer")
    ).lower()
    if mode not in SSL_MODES:
        raise StoreUnavailableError(f"sslmode {mode!r} is not one of {', '.join(SSL_MODES)}")
    clean = url.difference_update_query(TLS_QUERY_KEYS)
    if mode == "disable":
        return clean, PostgresTLS(None, plain_if_refused=False)
    if root == SYSTEM_ROOTS and mode != "verify-full":
        # The system's authorities vouch for any host they ever certified: only a host name
        # check makes them mean something (libpq refuses the same).
        raise StoreUnavailableError(f"sslrootcert=system needs sslmode=verify-full, not {mode}")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    root_file = Path(root) if root else _dot_postgresql("root.crt")
    try:
        if root == SYSTEM_ROOTS:
            context.verify_mode = ssl.CERT_REQUIRED
            context.check_hostname = True
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        elif mode in ("verify-ca", "verify-full") or (
            mode == "require" and root_file is not None and root_file.is_file()
        ):
            if root_file is None:
                raise StoreUnavailableError(
                    f"sslmode={mode} needs a root certificate: give sslrootcert (a file, or"
                    " 'system' with verify-full) or put it in ~/.postgresql/root.crt"
                )
            context.verify_mode = ssl.CERT_REQUIRED
            context.check_hostname = mode == "verify-full"
            context.load_verify_locations(cafile=root_file)
        cert = _query_value(url, "sslcert") or os.environ.get("PGSSLCERT")
        cert_file = Path(cert) if cert else _dot_postgresql("postgresql.crt")
        if cert_file is not None:
            key = _query_value(url, "sslkey") or os.environ.get("PGSSLKEY")
            key_file = Path(key) if key else _dot_postgresql("postgresql.key")
            password = _query_value(url, "sslpassword")
            context.load_cert_chain(
                cert_file, keyfile=key_file, password=lambda: _key_password(password)
            )
    except (OSError, ssl.SSLError) as err:
        raise StoreUnavailableError(f"the TLS settings cannot be used: {err}") from err
    return clean, PostgresTLS(context, plain_if_refused=mode in ("allow", "prefer"))


def _key_password(password: str | None) -> str:
    """The client key's passphrase: sslpassword, or a clean failure instead of OpenSSL asking
    on a terminal that a Home Assistant server does not have."""
    if password is None:
        raise ssl.SSLError("the client key is encrypted and sslpassword is not given")
    return password
