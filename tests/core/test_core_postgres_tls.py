"""libpq's TLS settings of a PostgreSQL store's URL, turned into a ready-made SSL context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import pytest
from sqlalchemy.engine import make_url

from custom_components.careon.core import ActionEngine, StoreUnavailableError
from custom_components.careon.core.postgres_tls import postgres_tls

BASE = "postgresql+asyncpg://careon@db.example:5432/careon"


@pytest.fixture(autouse=True)
def no_libpq_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PGSSL* variable and no ~/.postgresql of the machine running the tests."""
    for name in ("PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _certificate(directory: Path, name: str, passphrase: bytes | None = None) -> tuple[Path, Path]:
    """A self-signed certificate and its key, as PEM files (the key encrypted with PASSPHRASE)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_prefer_is_the_default() -> None:
    """No setting: TLS without checking the certificate, plain text if the server has none;
    the URL loses nothing else."""
    url, tls = postgres_tls(make_url(f"{BASE}?application_name=careon"))
    assert tls.context is not None
    assert tls.plain_if_refused
    assert tls.context.verify_mode == ssl.CERT_NONE
    assert not tls.context.check_hostname
    assert tls.context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert dict(url.query) == {"application_name": "careon"}


@pytest.mark.parametrize(
    ("query", "plain_if_refused"),
    [("sslmode=allow", True), ("ssl=prefer", True), ("sslmode=require", False)],
)
def test_modes_without_verification(query: str, plain_if_refused: bool) -> None:
    url, tls = postgres_tls(make_url(f"{BASE}?{query}"))
    assert tls.context is not None
    assert tls.context.verify_mode == ssl.CERT_NONE
    assert tls.plain_if_refused is plain_if_refused
    assert not url.query


def test_disable_talks_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    _, tls = postgres_tls(make_url(f"{BASE}?sslmode=disable"))
    assert tls.context is None
    monkeypatch.setenv("PGSSLMODE", "disable")  # libpq's variable, when the URL says nothing
    assert postgres_tls(make_url(BASE))[1].context is None


def test_verify_full_checks_the_server(tmp_path: Path) -> None:
    """verify-full: the certificate against the given authority, and the host name."""
    ca, _ = _certificate(tmp_path, "store-ca")
    url, tls = postgres_tls(make_url(f"{BASE}?sslmode=verify-full&sslrootcert={ca}"))
    assert tls.context is not None
    assert tls.context.verify_mode == ssl.CERT_REQUIRED
    assert tls.context.check_hostname
    assert not tls.plain_if_refused
    assert [c["subject"] for c in tls.context.get_ca_certs()] == [((("commonName", "store-ca"),),)]
    assert not url.query


@pytest.mark.parametrize("mode", ["verify-ca", "require"])
def test_the_users_root_certificate(tmp_path: Path, mode: str) -> None:
    """Without sslrootcert, ~/.postgresql/root.crt checks the server's certificate, as in
    libpq: for verify-ca, and for require (which then behaves as verify-ca); no host name
    check."""
    folder = tmp_path / "home" / ".postgresql"
    folder.mkdir(parents=True)
    _certificate(folder, "root")
    _, tls = postgres_tls(make_url(f"{BASE}?sslmode={mode}"))
    assert tls.context is not None
    assert tls.context.verify_mode == ssl.CERT_REQUIRED
    assert not tls.context.check_hostname
    assert [c["subject"] for c in tls.context.get_ca_certs()] == [((("commonName", "root"),),)]


@pytest.mark.parametrize("mode", ["verify-ca", "verify-full"])
def test_verification_without_a_root_certificate_is_refused(mode: str) -> None:
    """No sslrootcert and no ~/.postgresql/root.crt: refused, not the system's authorities."""
    with pytest.raises(StoreUnavailableError, match=f"sslmode={mode} needs a root certificate"):
        postgres_tls(make_url(f"{BASE}?sslmode={mode}"))


def test_the_systems_authorities_with_the_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """sslrootcert=system: the system's authorities, verify-full by default and only then."""
    loaded: list[ssl.Purpose] = []
    monkeypatch.setattr(
        ssl.SSLContext, "load_default_certs", lambda _self, purpose: loaded.append(purpose)
    )
    for query in ("sslrootcert=system", "sslmode=verify-full&sslrootcert=system"):
        _, tls = postgres_tls(make_url(f"{BASE}?{query}"))
        assert tls.context is not None
        assert tls.context.verify_mode == ssl.CERT_REQUIRED
        assert tls.context.check_hostname
        assert not tls.plain_if_refused
    assert loaded == [ssl.Purpose.SERVER_AUTH] * 2
    for mode in ("verify-ca", "require", "prefer"):
        with pytest.raises(StoreUnavailableError, match=f"needs sslmode=verify-full, not {mode}"):
            postgres_tls(make_url(f"{BASE}?sslmode={mode}&sslrootcert=system"))


def test_an_encrypted_client_key(tmp_path: Path) -> None:
    """An encrypted key opens with sslpassword; without it the store is refused cleanly instead
    of OpenSSL asking for the passphrase on a terminal."""
    cert, key = _certificate(tmp_path, "careon-client", passphrase=b"s3cret")
    query = f"sslmode=require&sslcert={cert}&sslkey={key}"
    url, tls = postgres_tls(make_url(f"{BASE}?{query}&sslpassword=s3cret"))
    assert tls.context is not None
    assert not url.query  # the passphrase does not travel on
    with pytest.raises(StoreUnavailableError, match="sslpassword is not given"):
        postgres_tls(make_url(f"{BASE}?{query}"))
    with pytest.raises(StoreUnavailableError, match="the TLS settings cannot be used"):
        postgres_tls(make_url(f"{BASE}?{query}&sslpassword=wrong"))


def test_a_client_certificate_is_loaded(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, "careon-client")
    _, tls = postgres_tls(make_url(f"{BASE}?sslmode=require&sslcert={cert}&sslkey={key}"))
    assert tls.context is not None  # load_cert_chain accepted the pair


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sslmode=sometimes", "sslmode 'sometimes' is not one of disable, allow, prefer"),
        ("sslmode=verify-full&sslrootcert=/nowhere/ca.pem", "the TLS settings cannot be used"),
        ("sslmode=require&sslcert=/nowhere/client.crt", "the TLS settings cannot be used"),
    ],
)
def test_settings_that_cannot_work_are_refused(query: str, message: str) -> None:
    with pytest.raises(StoreUnavailableError, match=message):
        postgres_tls(make_url(f"{BASE}?{query}"))


async def test_prefer_talks_plain_text_to_a_server_without_tls(postgres_url: str) -> None:
    """The test server has no TLS: prefer (the default) and disable open the store, require is
    refused by the server and fails cleanly."""
    for query in ("", "?sslmode=prefer", "?sslmode=disable"):
        engine = await ActionEngine.open(f"{postgres_url}{query}")
        try:
            await engine.ping()
        finally:
            await engine.close()
    with pytest.raises(StoreUnavailableError):
        await ActionEngine.open(f"{postgres_url}?sslmode=require")
