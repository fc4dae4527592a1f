"""The link over TLS to a Mosquitto with the generated TLS listener and a test CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devices.broker import TlsFiles, mosquitto_conf
from devices.config import BrokerUrl, MqttSettings
from devices.link import Backoff, MqttLink
from testkit.brokers import free_port, start_mosquitto
from testkit.harness import unique_id


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_pki(folder):
    """A CA and a server certificate for localhost/127.0.0.1, written as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Digital Spaces test CA"))
        .issuer_name(_name("Digital Spaces test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


@pytest.fixture
def tls_broker(tmp_path):
    ca, cert, key = make_pki(tmp_path)
    plain, secure = free_port(), free_port()
    conf = mosquitto_conf(
        port=plain, tls=TlsFiles(certfile=cert, keyfile=key, port=secure), allow_anonymous=True
    )
    broker = start_mosquitto(tmp_path / "broker", conf, plain)
    yield secure, ca
    broker.stop()


def link_to(port, ca_file, received):
    settings = MqttSettings(
        brokers=(BrokerUrl("localhost", port, tls=True),),
        ca_file=ca_file,
        connect_jitter_s=0,
    )
    link = MqttLink(
        client_id=unique_id("dev"), settings=settings, backoff=Backoff(base_s=0.1, cap_s=0.5)
    )
    link.subscribe("ds/v1/alerts/all", lambda topic, payload: received.set())
    return link


def test_link_connects_over_tls_and_carries_messages(tls_broker):
    port, ca = tls_broker
    received = threading.Event()
    link = link_to(port, ca, received)
    link.start()
    try:
        assert link.connected.wait(15)
        assert link.publish("ds/v1/alerts/all", b"over tls").wait(10)
        assert received.wait(10)
    finally:
        link.stop()


def test_link_refuses_a_broker_whose_certificate_it_cannot_verify(tls_broker, tmp_path):
    port, _ = tls_broker
    other = tmp_path / "other"
    other.mkdir()
    stranger_ca, _, _ = make_pki(other)
    link = link_to(port, stranger_ca, threading.Event())
    link.start()
    try:
        assert not link.connected.wait(3)
    finally:
        link.stop()
