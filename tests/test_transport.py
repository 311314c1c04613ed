"""Transport (RFC 6749 §3.2): HTTPS, refusing plain HTTP off loopback in qa and production,
and the security headers of every answer."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import TOKEN_PATH, ServerProcess, mobproc, password_grant
from mobproc.config import load_settings
from mobproc.server.transport import plain_http_refusal

pytestmark = pytest.mark.database_agnostic


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mobproc test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_serve_with_a_certificate_speaks_https_only(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    args = ("--tls-cert", str(cert), "--tls-key", str(key))
    trust = ssl.create_default_context(cafile=str(cert))
    with ServerProcess(tmp_path, *args, env={"MOBPROC_ENVIRONMENT": "production", "MOBPROC_ISSUER": "https://oauth.example.com"},
                       verify=trust) as server, \
            server.client() as http:
        assert server.url.startswith("https://")
        response = password_grant(http, server.add_client(), server.add_user())
        assert response.status_code == 200
        assert response.headers["strict-transport-security"] == "max-age=31536000"
        with pytest.raises(httpx.TransportError):
            httpx.post(server.url.replace("https", "http") + TOKEN_PATH, timeout=5)


@pytest.mark.parametrize("environment", ["qa", "production"])
def test_plain_http_off_loopback_is_refused_at_start_in_qa_and_production(environment: str, tmp_path: Path) -> None:
    result = mobproc("serve", "--host", "0.0.0.0", "--environment", environment,  # noqa: S104 - refused before binding
                     "--database", f"sqlite:///{tmp_path}/t.db", env={"MOBPROC_ISSUER": "https://oauth.example.com"})
    assert result.returncode == 2
    assert result.stderr.startswith(f"mobproc: plain HTTP on 0.0.0.0 is refused in {environment}")
    assert "--tls-cert" in result.stderr and "--behind-proxy" in result.stderr and "Traceback" not in result.stderr


def test_which_configurations_may_serve_plain_http() -> None:
    def refused(**settings: object) -> bool:
        return plain_http_refusal(load_settings(**settings)) is not None

    assert refused(environment="production", host="0.0.0.0")  # noqa: S104
    assert refused(environment="qa", host="192.0.2.10")
    assert refused(environment="qa", host="mobproc.example")
    assert not refused(environment="production", host="0.0.0.0", behind_proxy=True)  # noqa: S104
    assert not refused(environment="production", host="0.0.0.0", tls_cert="c.pem", tls_key="k.pem")  # noqa: S104
    assert not refused(environment="production", host="127.0.0.1")
    assert not refused(environment="qa", host="::1")
    assert not refused(environment="qa", host="localhost")
    assert not refused(environment="dev", host="0.0.0.0")  # noqa: S104


def test_a_certificate_that_cannot_be_loaded_stops_start_up_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_text("not a certificate")
    result = mobproc("serve", "--tls-cert", str(tmp_path / "bad.pem"), "--tls-key", str(tmp_path / "bad.pem"),
                     "--database", f"sqlite:///{tmp_path}/t.db")
    assert result.returncode == 2 and result.stderr.startswith("mobproc: cannot load the TLS certificate and key")
    assert len(result.stderr.strip().splitlines()) == 1


def test_every_answer_carries_the_security_headers(make_server) -> None:  # noqa: ANN001
    with make_server(address_failure_burst=1, address_failures_per_minute=1) as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        answers = {
            200: password_grant(http, client, user),
            400: password_grant(http, client, (user[0], "wrong")),
            401: password_grant(http, (client[0], "wrong"), user),
            404: http.get("/nowhere"),
            405: http.get(TOKEN_PATH),
            413: http.post(TOKEN_PATH, content=b"a=" + b"x" * 70_000,
                           headers={"Content-Type": "application/x-www-form-urlencoded"}),
            429: password_grant(http, client, (user[0], "wrong")),
        }
    for status, response in answers.items():
        assert response.status_code == status, response.text
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
        assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in response.headers  # plain HTTP: HSTS would be ignored


def test_a_503_carries_them_too(make_server) -> None:  # noqa: ANN001
    unreachable = "postgresql://mobproc@127.0.0.1:1/none"
    with make_server(database_url=unreachable, migrate=False, sqlite_busy_timeout_ms=1000) as server, \
            server.client() as http:
        response = http.post(TOKEN_PATH, data={"grant_type": "password", "client_id": "a", "client_secret": "b"})
    assert response.status_code == 503
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["cache-control"] == "no-store"

