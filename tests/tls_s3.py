"""HTTPS for S3 in tests: the session's moto_server (tests/conftest.py) behind a TLS
terminator with a private CA, because pgBackRest only speaks HTTPS to S3 and checks
the certificate's DNS names. Used by the backup tests (tests/ops) and the disaster
recovery test (tests/e2e); import the `tls_s3` fixture into a conftest to use it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY, MotoServer

TLS_HOST_NAME = "localhost"


# pgBackRest 2.45: werkzeug answers every request with "Connection: close" and then
# closes the socket without a TLS close_notify; pgBackRest reads such a response's body
# until EOF, and OpenSSL 3 reports the missing close_notify as an error ("TLS error
# [1:167772454] unexpected eof while reading"), retried for 60 s before the command
# fails. So TLS is terminated by a small proxy here (asyncio closes its TLS sessions
# properly) in front of the session's plain-HTTP moto_server.


class TlsTerminator:
    """Accepts TLS on `host`:<free port> and pipes the plain bytes to
    127.0.0.1:`upstream_port`, both ways, in a thread of its own."""

    def __init__(self, host: str, upstream_port: int, cert_file: Path, key_file: Path) -> None:
        self.host = host
        self.upstream_port = upstream_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_file, key_file)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="tls-terminator", daemon=True)
        self.connections: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> None:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._connection, self.host, 0, ssl=self.context), self.loop).result(10)
        self.port = int(self.server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        if self.thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(10)
        if not self.loop.is_running():
            self.loop.close()

    async def _shutdown(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.connections):
            task.cancel()
        await asyncio.gather(*self.connections, return_exceptions=True)

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            self.connections.discard(task)
            return
        try:
            # Either side ending ends the connection: the response is complete when
            # moto closes (it always answers "Connection: close").
            pipes = [asyncio.ensure_future(self._pipe(client_reader, upstream_writer)),
                     asyncio.ensure_future(self._pipe(upstream_reader, client_writer))]
            _, pending = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            for pipe in pending:
                pipe.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        finally:
            for writer in (client_writer, upstream_writer):
                writer.close()  # TLS: sends close_notify
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), 5)
            self.connections.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()


@dataclass
class TlsS3:
    """An S3 endpoint over HTTPS (certificate signed by a private CA)."""

    port: int
    ca_file: Path   # readable by the server's OS user (pgBackRest runs as postgres)

    @property
    def endpoint(self) -> str:
        # A name, not 127.0.0.1: pgBackRest 2.45 matches the host only against the
        # certificate's DNS names (and its CN when it has no subjectAltName at all),
        # never against IP address entries, so "127.0.0.1" fails with "unable to find
        # hostname '127.0.0.1' in certificate common name or subject alternative names".
        return f"{TLS_HOST_NAME}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.endpoint}"

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY, verify=str(self.ca_file),
            config=Config(s3={"addressing_style": "path"}))


def write_test_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A self-signed CA and a server certificate it signed for localhost and
    127.0.0.1; returns (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Studio test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False, key_agreement=False,
                                            key_cert_sign=True, crl_sign=True, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TLS_HOST_NAME)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(TLS_HOST_NAME),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_path.write_bytes(ca_cert.public_bytes(pem))
    cert_path.write_bytes(cert.public_bytes(pem))
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ca_path.chmod(0o644)
    cert_path.chmod(0o644)
    key_path.chmod(0o600)  # read by this process only
    return ca_path, cert_path, key_path


@pytest.fixture(scope="module")
def tls_s3(moto_server: MotoServer) -> Iterator[TlsS3]:
    """HTTPS in front of the session's moto_server, for one module; stopped at the
    end, also on failure."""
    # Not under pytest's tmp_path: the postgres OS user must be able to read the CA.
    directory = Path(tempfile.mkdtemp(prefix="studio-test-tls-"))
    terminator: TlsTerminator | None = None
    try:
        directory.chmod(0o755)
        ca_path, cert_path, key_path = write_test_pki(directory)
        # Listen where the name resolves first: that address is the one pgBackRest tries.
        address = socket.getaddrinfo(TLS_HOST_NAME, None, type=socket.SOCK_STREAM)[0][4][0]
        upstream_port = urlsplit(moto_server.url).port
        assert upstream_port is not None
        terminator = TlsTerminator(address, upstream_port, cert_path, key_path)
        terminator.start()
        server = TlsS3(terminator.port, ca_path)
        # The chain and the name check out for an ordinary client too.
        response = httpx.get(server.url + "/moto-api/", timeout=10, trust_env=False,
                             verify=ssl.create_default_context(cafile=str(ca_path)))
        assert response.status_code == 200, response.text[:500]
        yield server
    finally:
        if terminator is not None:
            terminator.stop()
        shutil.rmtree(directory, ignore_errors=True)
