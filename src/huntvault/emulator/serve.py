"""Runs the Defender API and Log Analytics emulators over HTTPS (self-signed CA) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import ipaddress
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from huntvault.emulator import defender_api, log_analytics
from huntvault.emulator.defender_api import DefenderEmulator, EmulatorClock
from huntvault.emulator.identity_api import TokenIssuer
from huntvault.emulator.log_analytics import LogAnalyticsEmulator
from huntvault.emulator.tenant import Tenant, build_tenant
from huntvault.errors import EmulatorError

HOST = "127.0.0.1"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA certificate clients must trust (PEM)
    cert: Path  # server certificate for 127.0.0.1 / localhost, signed by the CA
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "huntvault emulator"),
        ]
    )


def make_tls(folder: str | Path) -> TlsFiles:
    """A fresh CA and a server certificate for 127.0.0.1 and localhost (reused if already there)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "emulator-ca.pem", folder / "emulator-cert.pem", folder / "emulator-key.pem")
    if files.ca.exists() and files.cert.exists() and files.key.exists():
        return files
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("huntvault emulator CA"))
        .issuer_name(_name("huntvault emulator CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class _Server(uvicorn.Server):
    """uvicorn's server, dropping the connections its graceful shutdown left open (a client holding a TLS
    connection, or one cut off by an injected outage): otherwise they are still open when the event loop
    closes, which then fails (EBUSY) and leaks their sockets."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        left = list(self.server_state.connections)
        for connection in left:
            connection.transport.abort()
        if left:
            await asyncio.sleep(0.05)  # the aborted transports' close callbacks run before the loop closes


class ServerThread:
    """One uvicorn server in a daemon thread on 127.0.0.1 (HTTPS when TLS files are given)."""

    def __init__(self, app: FastAPI, port: int = 0, tls: TlsFiles | None = None) -> None:
        self.port = port or free_port()
        self.tls = tls
        self.app = app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerThread:
        config = uvicorn.Config(
            self.app,
            host=HOST,
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
            ssl_certfile=str(self.tls.cert) if self.tls else None,
            ssl_keyfile=str(self.tls.key) if self.tls else None,
        )
        self._server = _Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"emulator:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise EmulatorError(f"emulator server on {HOST}:{self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()


@dataclass
class EmulatorCredentials:
    """What a forwarder needs to talk to the emulators (test credentials, not secrets)."""

    tenant_id: str
    client_id: str
    client_secret: str
    workspace_id: str
    shared_key: str
    dcr_immutable_id: str
    stream: str = "Custom-MDATPAlerts_CL"


def credentials_for(tenant: Tenant) -> EmulatorCredentials:
    """Deterministic emulator credentials derived from the tenant (documented, not secret)."""
    ns = uuid.UUID(tenant.tenant_id)
    digest = hashlib.sha256(f"huntvault-emulator:{tenant.seed}".encode()).digest()
    return EmulatorCredentials(
        tenant_id=tenant.tenant_id,
        client_id=str(uuid.uuid5(ns, "forwarder-app")),
        client_secret="emulator-secret-" + digest[:9].hex(),
        workspace_id=str(uuid.uuid5(ns, "workspace")),
        shared_key=base64.b64encode(digest + digest).decode(),
        dcr_immutable_id="dcr-" + digest[:16].hex(),
    )


@dataclass
class Emulators:
    """The running Defender API (with token endpoint) and Log Analytics emulators."""

    tenant: Tenant
    creds: EmulatorCredentials
    tls: TlsFiles
    defender: DefenderEmulator
    la: LogAnalyticsEmulator
    defender_server: ServerThread
    la_server: ServerThread

    def stop(self) -> None:
        self.defender_server.stop()
        self.la_server.stop()

    def forward_toml(self, state_dir: str, jsonl_path: str = "") -> str:
        """A complete `[forward]` section that points at these emulators."""
        return f"""[forward]
state_dir = "{state_dir}"
merge = "prefixed"
poll_seconds = 10.0
overlap_seconds = 300.0
start_from = "{self.tenant.start.strftime("%Y-%m-%dT%H:%M:%SZ")}"

[forward.defender]
base_url = "{self.defender_server.url}"
authority = "{self.defender_server.url}"
tenant_id = "{self.creds.tenant_id}"
client_id = "{self.creds.client_id}"
ca_bundle = "{self.tls.ca}"

[[forward.sinks]]
name = "sentinel"
kind = "logs-ingestion"
endpoint = "{self.la_server.url}"
dcr_immutable_id = "{self.creds.dcr_immutable_id}"
stream = "{self.creds.stream}"
authority = "{self.defender_server.url}"
tenant_id = "{self.creds.tenant_id}"
client_id = "{self.creds.client_id}"
ca_bundle = "{self.tls.ca}"

[[forward.sinks]]
name = "legacy"
kind = "data-collector"
endpoint = "{self.la_server.url}"
workspace_id = "{self.creds.workspace_id}"
ca_bundle = "{self.tls.ca}"

[[forward.sinks]]
name = "file"
kind = "jsonl"
path = "{jsonl_path or state_dir + "/alerts.jsonl"}"
"""

    def env(self) -> dict[str, str]:
        """The secret environment variables a forwarder reads."""
        return {
            "HUNTVAULT_DEFENDER_CLIENT_SECRET": self.creds.client_secret,
            "HUNTVAULT_LA_CLIENT_SECRET": self.creds.client_secret,
            "HUNTVAULT_LA_SHARED_KEY": self.creds.shared_key,
        }


def start_emulators(
    folder: str | Path,
    *,
    seed: int = 1,
    devices: int = 20,
    extra_alerts: int = 200,
    end: dt.datetime | None = None,
    days: float = 2.0,
    clock_speed: float = 1.0,
    now: dt.datetime | None = None,
    port: int = 0,
    la_port: int = 0,
    per_minute: int = 100,
    per_hour: int = 1500,
) -> Emulators:
    """Build the tenant and start both emulators (Defender on `port`, Log Analytics on `la_port`)."""
    end = end or dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    tenant = build_tenant(seed, devices, end, days)
    creds = credentials_for(tenant)
    tls = make_tls(folder)
    issuer = TokenIssuer(tenant.tenant_id, {creds.client_id: creds.client_secret})
    clock = EmulatorClock(now or tenant.end, speed=clock_speed)
    defender = defender_api.build_defender(
        tenant,
        issuer,
        extra_alerts=extra_alerts,
        clock=clock,
        seed=seed,
        per_minute=per_minute,
        per_hour=per_hour,
    )
    la = LogAnalyticsEmulator(
        issuer, {creds.workspace_id: creds.shared_key}, {creds.dcr_immutable_id: (creds.stream,)}
    )
    d_server = ServerThread(defender_api.create_app(defender), port, tls).start()
    try:
        l_server = ServerThread(log_analytics.create_app(la), la_port, tls).start()
    except Exception:
        d_server.stop()
        raise
    return Emulators(tenant, creds, tls, defender, la, d_server, l_server)
