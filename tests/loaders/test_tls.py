"""TLS to MariaDB: the loader's modes against a private mariadbd that requires secure transport.

The module starts its own server (own datadir, socket and free port, TLS with a CA
and a server certificate for 127.0.0.1 made here, ``--require-secure-transport=ON``,
as the stack's RDS parameter group sets it) and removes it afterwards. The shared
server on 3306 is not touched.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from contract.config import parse_config
from loaders.db import DatabaseTlsError, connect, tls_policy
from loaders.settings import LoaderSettings, SettingsError
from reliability.mariadb import PrivateMariaDB

START_SECONDS = 60
DATABASE = "ddbload"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _write_pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


@dataclass
class TlsServer:
    port: int
    ca: Path  # the CA that signed the server certificate
    other_ca: Path  # a CA that did not

    def url(self, host: str = "127.0.0.1") -> str:
        # No database in the URL: the loader takes the config's (DATABASE, the default).
        return f"mysql://root@{host}:{self.port}"

    def settings(self, tls: str | None, ca_bundle: Path | None, host: str = "127.0.0.1"):
        return LoaderSettings(
            config=parse_config({}),
            mariadb_url=self.url(host),
            db_tls=tls,
            db_ca_bundle=str(ca_bundle) if ca_bundle else None,
        )


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    root = tmp_path_factory.mktemp("tls-mariadb")
    try:
        ca_key, ca = _ca("ddbload test CA")
        key, cert = _server_cert(ca_key, ca)
        _, other = _ca("some other CA")
        certs = {
            "ca": _write_pem(root / "ca.pem", ca),
            "cert": _write_pem(root / "server.pem", cert),
            "key": _write_key(root / "server-key.pem", key),
        }
        other_ca = _write_pem(root / "other-ca.pem", other)
        server = PrivateMariaDB(
            root,
            options=(
                "--innodb-buffer-pool-size=32M", "--performance-schema=OFF",
                f"--ssl-cert={certs['cert']}", f"--ssl-key={certs['key']}",
                f"--ssl-ca={certs['ca']}", "--require-secure-transport=ON",
            ),
            # The server refuses plain text, so even its readiness probe speaks TLS.
            client={"ssl_ca": str(certs["ca"])},
        )  # fmt: skip
        server.install()
        try:
            server.start(timeout=START_SECONDS)
        except RuntimeError:
            tail = server.log_path.read_text(errors="replace")[-2000:]
            pytest.fail(f"the private TLS MariaDB did not start:\n{tail}")
        try:
            with server.connect() as admin, admin.cursor() as cur:
                cur.execute(f"CREATE DATABASE {DATABASE}")
            yield TlsServer(port=server.port, ca=certs["ca"], other_ca=other_ca)
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def cipher(conn) -> str:
    with conn.cursor() as cur:
        cur.execute("SHOW STATUS LIKE 'Ssl_cipher'")
        return cur.fetchone()[1]


def test_verify_with_the_right_ca_connects_encrypted_and_loads(tls_server):
    # GIVEN the CA that signed the server certificate
    settings = tls_server.settings("verify", tls_server.ca)
    # WHEN the loader connects as a deployed run would
    conn = connect(settings)
    try:
        # THEN the session is encrypted and LOAD DATA LOCAL works through it
        assert cipher(conn)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (a INT PRIMARY KEY, b TEXT)")
            with conn.infile(b"1\tone\n2\ttwo\n") as name:
                cur.execute(f"LOAD DATA LOCAL INFILE '{name}' INTO TABLE t")
            cur.execute("SELECT a, b FROM t ORDER BY a")
            assert cur.fetchall() == ((1, "one"), (2, "two"))
            cur.execute("DROP TABLE t")
    finally:
        conn.close()


def test_verify_with_a_wrong_ca_fails_with_one_sentence(tls_server):
    # GIVEN a CA bundle that did not sign the server certificate
    settings = tls_server.settings("verify", tls_server.other_ca)
    # WHEN connecting THEN one sentence says the bundle does not verify the server
    with pytest.raises(DatabaseTlsError) as caught:
        connect(settings)
    message = str(caught.value)
    assert "does not verify" in message and str(tls_server.other_ca) in message
    assert "DDBLOAD_DB_CA_BUNDLE" in message
    assert "\n" not in message and message.endswith(".") and message.count(". ") == 0


def test_verify_checks_the_host_name(tls_server):
    # GIVEN the right CA, but a host name the certificate (IP 127.0.0.1 only) does not name
    settings = tls_server.settings("verify", tls_server.ca, host="localhost")
    # WHEN connecting THEN the certificate is refused for that name
    with pytest.raises(DatabaseTlsError, match="does not verify"):
        connect(settings)


def test_off_is_refused_by_the_server_and_required_connects(tls_server, caplog):
    # GIVEN a server with require_secure_transport=ON
    # WHEN the loader connects without TLS THEN the server refuses it (MariaDB says 1045)
    with pytest.raises(pymysql.err.OperationalError) as refused:
        connect(tls_server.settings("off", None))
    assert refused.value.args[0] == 1045
    # WHEN the same credentials connect encrypted but unverified
    caplog.set_level(logging.WARNING, logger="loaders.db")
    conn = connect(tls_server.settings("required", None))
    try:
        # THEN the session is encrypted and a warning says the certificate was not checked
        assert cipher(conn)
    finally:
        conn.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("NOT verified" in w and f":{tls_server.port}" in w for w in warnings)


def test_unset_mode_on_loopback_stays_plain_and_is_refused(tls_server):
    # GIVEN no TLS setting and a loopback host (what local mode uses)
    # WHEN connecting THEN the default is plain text, which this server refuses
    with pytest.raises(pymysql.err.OperationalError) as refused:
        connect(tls_server.settings(None, None))
    assert refused.value.args[0] == 1045


# The policy without a server: what each combination of setting, bundle and host means.


@pytest.mark.parametrize(
    "host, mode, configured, shipped, expected",
    [
        ("127.0.0.1", None, False, False, "off"),
        ("localhost", None, False, True, "off"),
        ("::1", None, False, False, "off"),
        ("db.example.internal", None, False, False, "required"),
        ("10.0.0.5", None, False, False, "required"),
        ("db.example.internal", None, False, True, "verify"),
        ("db.example.internal", None, True, False, "verify"),
        ("127.0.0.1", None, True, False, "verify"),
        ("127.0.0.1", "verify", False, True, "verify"),
        ("db.example.internal", "required", True, True, "required"),
        ("db.example.internal", "off", False, True, "off"),
    ],
)
def test_policy_defaults(tmp_path, host, mode, configured, shipped, expected):
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("placeholder")
    shipped_path = bundle if shipped else tmp_path / "absent.pem"
    policy = tls_policy(host, mode, str(bundle) if configured else None, shipped=shipped_path)
    assert policy.mode == expected
    assert (policy.ca_bundle == str(bundle)) == (expected == "verify")


def test_verify_without_a_bundle_names_the_setting(tmp_path):
    with pytest.raises(DatabaseTlsError, match="DDBLOAD_DB_TLS=verify needs DDBLOAD_DB_CA_BUNDLE"):
        tls_policy("db.example.internal", "verify", None, shipped=tmp_path / "absent.pem")
    with pytest.raises(DatabaseTlsError, match="not a file"):
        tls_policy("db.example.internal", None, str(tmp_path / "missing.pem"))


def test_bad_mode_in_the_environment_is_one_sentence():
    env = {
        "DDBLOAD_CONFIG": parse_config({}).to_json(),
        "DDBLOAD_BUCKET": "b",
        "MARIADB_URL": "mysql://root@127.0.0.1/x",
        "DDBLOAD_DB_TLS": "maybe",
    }
    with pytest.raises(SettingsError, match="DDBLOAD_DB_TLS is 'maybe'; use one of verify"):
        LoaderSettings.from_env(env)
    settings = LoaderSettings.from_env(
        {**env, "DDBLOAD_DB_TLS": "Verify", "DDBLOAD_DB_CA_BUNDLE": "/x.pem"}
    )
    assert (settings.db_tls, settings.db_ca_bundle) == ("verify", "/x.pem")
