"""Shared pieces of the integration fixtures: test credentials, the secrets registry, ports,
scratch directories and a CA of ours. Import them from ``registry_fixtures``."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USERNAME = "tester"
PASSWORD = "pw-" + secrets.token_hex(8)  # random per run: a leak cannot match by accident
URL_PASSWORD = "urlpw-" + secrets.token_hex(8)
"""A password a user put into a git URL (``http://alice:URL_PASSWORD@host/...``)."""
SERVICE = "test-registry"
ISSUER = "test-token-issuer"


class FixtureError(RuntimeError):
    """A test component could not start: the suite must fail, not skip."""


class _Secrets:
    """Every secret a fixture created or issued; thread-safe (the token server adds to it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = {PASSWORD, URL_PASSWORD}

    def add(self, value: str) -> None:
        with self._lock:
            self._values.add(value)

    def all(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._values)

    def find_in(self, text: str) -> list[str]:
        """The secrets (shown by length only) that ``text`` contains; [] when clean."""
        hits = [s for s in self.all() if s and s in text]
        return [f"<secret of {len(s)} chars>" for s in hits]


SECRETS = _Secrets()


def free_port() -> int:
    """A port free on 127.0.0.1 now (bind 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scratch_dir(prefix: str) -> Path:
    """A fresh temp dir, on /dev/shm when it exists (the registry is ~1.5x faster there)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


# --- TLS -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA of ours and a server certificate it signed (SAN IP:127.0.0.1, DNS:localhost)."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    client_cert_file: Path  # a client certificate (clientAuth) from the same CA, for mutual TLS
    client_key_file: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca(directory: Path) -> CertificateAuthority:
    """Write ``ca.crt``, ``server.crt``, ``server.key`` into ``directory``."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("image-automation test CA"))
        .issuer_name(_name("image-automation test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = (
        directory / "ca.crt",
        directory / "server.crt",
        directory / "server.key",
    )
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = (
        x509.CertificateBuilder()
        .subject_name(_name("image-automation test client"))
        .issuer_name(ca_cert.subject)
        .public_key(client_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    client_cert_file, client_key_file = directory / "tls.crt", directory / "tls.key"
    client_cert_file.write_bytes(client.public_bytes(serialization.Encoding.PEM))
    client_key_file.write_bytes(
        client_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return CertificateAuthority(ca_file, cert_file, key_file, client_cert_file, client_key_file)
