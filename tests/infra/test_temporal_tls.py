"""The client's TLS settings (``KAMENG_TEMPORAL_TLS_*``) against the real dev server, behind a
real TLS terminator requiring client certificates (Debian's Caddy, as a production frontend
would: the dev server itself speaks no TLS). With the CA and a client certificate the
connection works; without a certificate, with one from another CA, or in plain text, it fails."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from infra.settings import Settings
from infra.stack import Child, free_port, listening
from infra.temporal.client import connect

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, key, cert: x509.Certificate) -> tuple[Path, Path]:
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path.with_suffix(".pem"), path.with_suffix(".key")


def _ca(cn: str):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1)).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(ca_key, ca_cert, cn: str, *, server: bool):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("temporal.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return key, builder.sign(ca_key, hashes.SHA256())


@pytest.fixture(scope="module")
async def mtls_frontend(dev_server, tmp_path_factory):
    caddy = shutil.which("caddy")
    assert caddy, "Debian's caddy is installed by make system-deps"
    root = tmp_path_factory.mktemp("tls")
    ca_key, ca_cert = _ca("kameng test CA")
    ca_pem, _ = _write(root / "ca", ca_key, ca_cert)
    server_pem, server_key = _write(root / "server", *_leaf(ca_key, ca_cert, "temporal.test", server=True))
    client = _write(root / "worker", *_leaf(ca_key, ca_cert, "kameng-worker", server=False))
    rogue_key, rogue_cert = _ca("someone else's CA")
    rogue = _write(root / "rogue", *_leaf(rogue_key, rogue_cert, "intruder", server=False))

    port = free_port()
    upstream = dev_server.client.service_client.config.target_host
    (root / "Caddyfile").write_text(
        "{\n\tadmin off\n\tauto_https off\n}\n"
        f"https://:{port} {{\n\tbind 127.0.0.1\n"
        f"\ttls {server_pem} {server_key} {{\n\t\tclient_auth {{\n\t\t\tmode require_and_verify\n\t\t\ttrusted_ca_cert_file {ca_pem}\n\t\t}}\n\t}}\n"
        f"\treverse_proxy h2c://{upstream}\n}}\n"
    )
    proxy = Child(
        "caddy", [caddy, "run", "--config", str(root / "Caddyfile"), "--adapter", "caddyfile"],
        {**os.environ, "HOME": str(root), "XDG_DATA_HOME": str(root), "XDG_CONFIG_HOME": str(root)}, root / "caddy.log",
    )
    proxy.start()
    try:
        import asyncio

        for _ in range(200):
            if listening(port) or not proxy.running():
                break
            await asyncio.sleep(0.05)
        assert proxy.running() and listening(port), proxy.tail()
        yield f"127.0.0.1:{port}", ca_pem, client, rogue
    finally:
        proxy.stop()


async def test_mutual_tls_settings_reach_temporal_and_nothing_else_does(mtls_frontend):
    address, ca, (cert, key), (rogue_cert, rogue_key) = mtls_frontend
    settings = Settings(
        temporal_address=address, temporal_tls_ca=str(ca), temporal_tls_cert=str(cert), temporal_tls_key=str(key),
        temporal_tls_server_name="temporal.test",
    )
    client = await connect(settings)
    assert await client.service_client.check_health()
    assert (await client.count_workflows()).count >= 0

    for refused in (
        Settings(temporal_address=address, temporal_tls_ca=str(ca), temporal_tls_server_name="temporal.test"),  # no client certificate
        Settings(temporal_address=address, temporal_tls_ca=str(ca), temporal_tls_cert=str(rogue_cert),
                 temporal_tls_key=str(rogue_key), temporal_tls_server_name="temporal.test"),  # another CA's
        Settings(temporal_address=address),  # plain text to a TLS port
    ):
        with pytest.raises(Exception):
            other = await connect(refused)
            await other.count_workflows()


def test_a_certificate_without_its_key_is_refused_by_name():
    from infra.temporal.client import tls_config

    with pytest.raises(ValueError, match="KAMENG_TEMPORAL_TLS_KEY"):
        tls_config(Settings(temporal_tls_cert="/etc/hostname"))
    assert tls_config(Settings()) is False
