"""Defender API client against the emulator over HTTPS: auth, windows, machines, 429, 5xx, timeouts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from huntvault.config import DefenderApiConfig
from huntvault.emulator.serve import Emulators
from huntvault.errors import ForwardError
from huntvault.forward import DefenderClient, MachineCache
from tests.support.forward import END, emulators


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    with emulators(tmp_path_factory.mktemp("fwd-client"), extra_alerts=80) as e:
        yield e


def client_for(emu: Emulators, sleeps: list[float] | None = None, **overrides: object) -> DefenderClient:
    cfg = DefenderApiConfig(
        base_url=emu.defender_server.url,
        authority=emu.defender_server.url,
        tenant_id=emu.creds.tenant_id,
        client_id=emu.creds.client_id,
        client_secret=emu.creds.client_secret,
        ca_bundle=str(emu.tls.ca),
        retry_backoff_seconds=0.01,
        timeout_seconds=5.0,
    )
    for key, value in overrides.items():
        setattr(cfg, key, value)
    record = sleeps if sleeps is not None else []
    return DefenderClient(cfg, sleep=record.append)


def test_token_is_reused_and_a_wrong_secret_is_refused(emu: Emulators) -> None:
    client = client_for(emu)
    before = emu.defender.issuer.issued
    for _ in range(4):
        client.get("/api/machines", {"$top": "1"})
    assert emu.defender.issuer.issued == before + 1
    assert client.tokens.acquired == 1
    bad = client_for(emu, client_secret="not-the-secret")
    with pytest.raises(ForwardError, match="invalid_client"):
        bad.get("/api/alerts", {"$top": "1"})


def test_a_certificate_credential_gets_a_token(emu: Emulators, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "forwarder")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    path = tmp_path / "app.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + pem
    )
    emu.defender.issuer.certificates["cert-app"] = pem.decode()
    client = client_for(emu, client_id="cert-app", client_secret="", certificate_path=str(path))
    assert "value" in client.get("/api/alerts", {"$top": "1"})
    # a different key for the same client is refused
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + pem
    )
    with pytest.raises(ForwardError, match="invalid_client"):
        client_for(emu, client_id="cert-app", client_secret="", certificate_path=str(path)).get("/api/alerts")


def test_small_pages_split_windows_and_find_every_alert(emu: Emulators) -> None:
    since = END - dt.timedelta(days=3)
    full = client_for(emu).alerts_since(since)
    assert len(full) == len(emu.defender.alerts_now(False)) > 50
    paged_client = client_for(emu, page_size=7)
    paged = paged_client.alerts_since(since)
    assert [(a["id"], a["lastUpdateTime"]) for a in paged] == [(a["id"], a["lastUpdateTime"]) for a in full]
    assert paged_client.calls > len(full) // 7  # it really paged
    assert all(a["evidence"] for a in full)  # $expand=evidence


def test_machines_come_in_batches_and_from_the_cache(emu: Emulators) -> None:
    client = client_for(emu, machine_batch_size=5)
    ids = [d.id for d in emu.tenant.devices] + ["f" * 40]
    cache = MachineCache(client, ttl_seconds=3600)
    got = cache.get_many(ids)
    assert client.calls == 3  # 13 ids, 5 per call
    assert got["f" * 40] is None
    assert all((m := got[d.id]) is not None and m["computerDnsName"] == d.name for d in emu.tenant.devices)
    cache.get_many(ids)
    assert client.calls == 3  # all from the cache, unknown id included
    expired = MachineCache(client, ttl_seconds=0)
    expired.get_many(ids[:2])
    assert client.calls == 4


def test_a_full_machine_list_refresh_replaces_batches_once_per_ttl(emu: Emulators) -> None:
    client = client_for(emu, machine_batch_size=5)
    now = [0.0]
    cache = MachineCache(client, ttl_seconds=600, clock=lambda: now[0], full_refresh_pages=2)
    ids = [d.id for d in emu.tenant.devices]
    assert all(cache.get_many(ids[:3]).values())
    assert client.calls == 1 and cache.full_refreshes == 1  # one list call instead of a batch
    assert all(cache.get_many(ids).values())
    assert client.calls == 1  # the refresh filled the cache with every machine
    cache.get_many(["e" * 40])  # unknown: the list is fresh, so one batched lookup
    assert client.calls == 2
    now[0] = 700.0
    cache.get_many(ids[:1])
    assert client.calls == 3 and cache.full_refreshes == 2


def test_429_honours_retry_after_and_5xx_backs_off(emu: Emulators) -> None:
    sleeps: list[float] = []
    client = client_for(emu, sleeps)
    emu.defender.faults.retry_after = 7
    emu.defender.faults.throttle_next = 3
    assert "value" in client.get("/api/alerts", {"$top": "1"})
    assert sleeps == [7.0, 7.0, 7.0]
    assert client.throttled == 3
    sleeps.clear()
    emu.defender.faults.fail_next = 2
    assert "value" in client.get("/api/alerts", {"$top": "1"})
    assert client.retried == 2 and len(sleeps) == 2 and sleeps[1] > 0
    emu.defender.faults.fail_next = 50
    with pytest.raises(ForwardError, match="after retries"):
        client_for(emu, max_retries=2).get("/api/alerts", {"$top": "1"})
    emu.defender.faults.fail_next = 0


def test_slow_answers_time_out_and_are_retried(emu: Emulators) -> None:
    client = client_for(emu, timeout_seconds=0.3)
    emu.defender.faults.slow_seconds = 1.0
    emu.defender.faults.slow_next = 1
    assert "value" in client.get("/api/alerts", {"$top": "1"})
    assert client.retried == 1


def test_emulator_enforces_its_rate_limit_and_the_budget_stays_under_it(tmp_path: Path) -> None:
    with emulators(tmp_path, extra_alerts=0, per_minute=3) as small:
        now = [0.0]
        small.defender.monotonic = lambda: now[0]
        client = client_for(small, max_throttle_retries=0)
        for _ in range(3):
            client.get("/api/machines", {"$top": "1"})
        with pytest.raises(ForwardError, match="throttled"):
            client.get("/api/machines", {"$top": "1"})
        assert small.defender.stats.throttled == 1
        # a client whose budget matches the server's limit waits instead of drawing a 429
        now[0] = 1000.0
        polite = client_for(small, calls_per_minute=3, max_throttle_retries=0)

        def wait(seconds: float) -> None:
            now[0] += seconds

        polite.budget._clock = lambda: now[0]
        polite.budget.sleep = wait
        for _ in range(7):
            polite.get("/api/machines", {"$top": "1"})
        assert polite.throttled == 0
        assert small.defender.stats.throttled == 1
        assert now[0] >= 1000.0 + 120  # two full minutes of waiting for 7 calls at 3 per minute


def test_a_401_drops_the_token_and_asks_for_a_new_one(emu: Emulators) -> None:
    client = client_for(emu)
    client.get("/api/machines", {"$top": "1"})
    old_key = emu.defender.issuer.key
    emu.defender.issuer.key = b"rotated-signing-key-0123456789ab"  # every issued token is now invalid
    try:
        assert "value" in client.get("/api/machines", {"$top": "1"})
        assert client.tokens.acquired == 2
    finally:
        emu.defender.issuer.key = old_key
