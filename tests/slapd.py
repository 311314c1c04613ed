"""A real OpenLDAP server for the tests: Debian's slapd on loopback ports, with a throwaway
configuration and directory, TLS from a test CA, and the ppolicy overlay.

The directory (``dc=example,dc=com``):

- ``ou=people``: the accounts, ``uid`` and ``userPassword`` ({SSHA}), ``o`` (the tenant),
  ``employeeType`` (TRUE for a multitenant one); ``ou=others,ou=people`` holds a second
  entry of one name (``twin``), so a search of the whole subtree finds two;
- ``cn=mobproc,ou=services``: the service account mobproc searches as;
- ``ou=policies``: password policies: ``default`` (no lockout), ``strict`` (three failures
  lock the entry for good), ``expiring`` (a password is valid for a second, no grace logins).

slapd logs every operation (``-d stats``) to ``log_path``, so a test can count the binds that
reached it. It listens for ``ldap://`` and ``ldaps://`` on 127.0.0.1 and, with the same
certificate (whose names are ``localhost`` and 127.0.0.1), on 127.0.0.2: the name a client
checks there does not match.

    with Slapd(tmp_path) as directory:
        directory.add_person("alice", "pw")
        directory.stop(); directory.start()     # the directory going down and coming back
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SUFFIX = "dc=example,dc=com"
PEOPLE = f"ou=people,{SUFFIX}"
SERVICE_DN = f"cn=mobproc,ou=services,{SUFFIX}"
ROOT_DN = f"cn=admin,{SUFFIX}"
POLICIES = f"ou=policies,{SUFFIX}"
GOOD_HOST, WRONG_HOST = "127.0.0.1", "127.0.0.2"


def ssha(password: str) -> str:
    """RFC 2307's {SSHA}: what slapd checks a simple bind against."""
    salt = secrets.token_bytes(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def argon2id(password: str) -> str:
    """{ARGON2} (slapd's argon2 module): argon2id at mobproc's own default cost (OWASP's: 19 MiB,
    two passes, one lane), for a directory that hashes as mobproc does (the benchmark's second
    directory)."""
    from argon2 import PasswordHasher

    return "{ARGON2}" + PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(password)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_ca(directory: Path, name: str) -> tuple[Path, x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path, certificate, key


def _server_certificate(directory: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(GOOD_HOST)),
        ]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _ldif(dn: str, **attributes: str | list[str]) -> str:
    lines = [f"dn: {dn}"]
    for name, values in attributes.items():
        for value in values if isinstance(values, list) else [values]:
            if value.isascii() and value.isprintable() and not value.startswith((" ", ":", "<")):
                lines.append(f"{name}: {value}")
            else:  # RFC 2849: anything else base64
                lines.append(f"{name}:: {base64.b64encode(value.encode()).decode()}")
    return "\n".join(lines) + "\n\n"


class Slapd:
    def __init__(self, workdir: Path, *, log_level: str = "stats", wrapper: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self.log_level = log_level
        self.wrapper = wrapper  # e.g. ("taskset", "-c", "1"): the benchmark pins slapd to a core
        self.port, self.tls_port = _free_port(), _free_port()
        self.service_password = "svc-" + secrets.token_urlsafe(16)
        self.root_password = "root-" + secrets.token_urlsafe(16)
        self.ca_file, ca, ca_key = make_ca(workdir, "test-ca")
        self.other_ca_file = make_ca(workdir, "other-ca")[0]
        self.cert_file, self.key_file = _server_certificate(workdir, ca, ca_key)
        self.log_path = workdir / "slapd.log"
        self.config = workdir / "slapd.conf"
        self.process: subprocess.Popen | None = None
        self._entries: list[str] = []
        self._write_config()

    # --- URLs
    def url(self, *, tls: bool = False, host: str = GOOD_HOST) -> str:
        return f"ldaps://{host}:{self.tls_port}" if tls else f"ldap://{host}:{self.port}"

    # --- the directory's contents (added before start, with slapadd)
    def seed(self) -> None:
        """The tree and the policies; the test adds people with :meth:`add_person`."""
        self._entries += [
            _ldif(SUFFIX, objectClass=["top", "dcObject", "organization"], dc="example", o="Example"),
            _ldif(PEOPLE, objectClass="organizationalUnit", ou="people"),
            _ldif(f"ou=others,{PEOPLE}", objectClass="organizationalUnit", ou="others"),
            _ldif(f"ou=services,{SUFFIX}", objectClass="organizationalUnit", ou="services"),
            _ldif(SERVICE_DN, objectClass=["organizationalRole", "simpleSecurityObject"], cn="mobproc",
                  userPassword=ssha(self.service_password)),
            _ldif(POLICIES, objectClass="organizationalUnit", ou="policies"),
            _ldif(f"cn=default,{POLICIES}", objectClass=["device", "pwdPolicy"], cn="default",
                  pwdAttribute="userPassword", pwdLockout="FALSE", pwdMaxFailure="0"),
            _ldif(f"cn=strict,{POLICIES}", objectClass=["device", "pwdPolicy"], cn="strict",
                  pwdAttribute="userPassword", pwdLockout="TRUE", pwdMaxFailure="3", pwdLockoutDuration="0"),
            _ldif(f"cn=expiring,{POLICIES}", objectClass=["device", "pwdPolicy"], cn="expiring",
                  pwdAttribute="userPassword", pwdMaxAge="1", pwdGraceAuthNLimit="0"),
        ]

    def add_person(self, uid: str, password: str, *, tenant: str | None = "XYZ", multitenant: bool = False,
                   under: str = PEOPLE, policy: str | None = None, locked: bool = False,
                   changed: str | None = None, mail: str | None = None, scheme=ssha) -> str:  # noqa: ANN001
        dn = f"uid={_escape_dn_value(uid)},{under}"
        attributes: dict[str, str | list[str]] = {
            "objectClass": ["inetOrgPerson"], "uid": uid, "cn": uid, "sn": uid, "userPassword": scheme(password),
        }
        if tenant is not None:
            attributes["o"] = tenant
        attributes["employeeType"] = "TRUE" if multitenant else "FALSE"
        if mail:
            attributes["mail"] = mail
        if policy:
            attributes["pwdPolicySubentry"] = f"cn={policy},{POLICIES}"
        if locked:
            attributes["pwdAccountLockedTime"] = "000001010000Z"  # RFC draft-behera: locked for good
        if changed:
            attributes["pwdChangedTime"] = changed
        self._entries.append(_ldif(dn, **attributes))
        return dn

    def load(self) -> None:
        (self.workdir / "db").mkdir(exist_ok=True)
        ldif = self.workdir / "data.ldif"
        ldif.write_text("".join(self._entries))
        subprocess.run([SLAPADD, "-q", "-f", str(self.config), "-l", str(ldif)], check=True,
                       capture_output=True, timeout=60)

    # --- running
    def start(self, timeout: float = 15) -> None:
        listeners = " ".join(
            f"{scheme}://{host}:{port}/" for host in (GOOD_HOST, WRONG_HOST)
            for scheme, port in (("ldap", self.port), ("ldaps", self.tls_port))
        )
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*self.wrapper, SLAPD, "-f", str(self.config), "-h", listeners, "-d", self.log_level],
            stdout=log, stderr=log, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection((GOOD_HOST, self.port), timeout=1).close()
                socket.create_connection((GOOD_HOST, self.tls_port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"slapd did not start: {self.log_path.read_text()[-3000:]}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # if a test froze it
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def freeze(self) -> None:
        """Stop answering, with connections still accepted (the kernel's backlog): a directory
        slow past any timeout."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def __enter__(self) -> Slapd:
        if not self._entries:
            self.seed()
        self.load()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what it logged
    def binds(self, dn: str) -> int:
        """Bind operations for ``dn`` in slapd's log (``conn=… op=… BIND dn="…" method=128``)."""
        pattern = re.compile(r' BIND dn="' + re.escape(dn) + r'" method=128', re.IGNORECASE)
        return sum(1 for line in self.log_path.read_text(errors="replace").splitlines() if pattern.search(line))

    def ldapmodify(self, ldif: str) -> None:
        """A change made while slapd runs, as its administrator (the ldap-utils tool)."""
        subprocess.run(["ldapmodify", "-x", "-H", self.url(), "-D", ROOT_DN, "-w", self.root_password],
                       input=ldif, text=True, check=True, capture_output=True, timeout=30,
                       env={**os.environ, "LDAPNOINIT": "1"})

    def _write_config(self) -> None:
        db = self.workdir / "db"
        self.config.write_text(f"""\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
moduleload argon2
pidfile {self.workdir}/slapd.pid
argsfile {self.workdir}/slapd.args
TLSCACertificateFile {self.ca_file}
TLSCertificateFile {self.cert_file}
TLSCertificateKeyFile {self.key_file}
sizelimit 500

database mdb
maxsize 268435456
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ssha(self.root_password)}
directory {db}
dbnosync
index uid eq

overlay ppolicy
ppolicy_default "cn=default,{POLICIES}"
ppolicy_use_lockout

access to attrs=userPassword
    by anonymous auth
    by * none
access to *
    by dn.exact="{SERVICE_DN}" read
    by * none
""")


def _escape_dn_value(value: str) -> str:
    """RFC 4514 §2.4, enough for the names the tests use."""
    escaped = re.sub(r'([,+"\\<>;=])', r"\\\1", value)
    if escaped.startswith(("#", " ")):
        escaped = "\\" + escaped
    return escaped
