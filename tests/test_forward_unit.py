"""Forwarder building blocks without servers: budget, signature, merges, OData filter, state, chunking."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from huntvault.config import SinkConfig
from huntvault.emulator.log_analytics import expected_signature
from huntvault.emulator.odata_api import ODataFilterError, compile_filter
from huntvault.errors import ConfigError
from huntvault.forward import RateBudget, merge_logicapp, merge_prefixed, shared_key_signature
from huntvault.forward.loganalytics import DataCollectorSink
from huntvault.forward.shape import rename_reserved
from huntvault.forward.sinks import units_by_bytes
from huntvault.forward.state import ForwardState

ALERT = {
    "id": "da637472900382838869_1364969609",
    "machineId": "0123456789abcdef0123456789abcdef01234567",
    "computerDnsName": "wks-01.contoso.com",
    "rbacGroupName": "Workstations",
    "title": "Suspicious PowerShell",
    "lastUpdateTime": "2026-10-31T10:00:00.1234567Z",
    "evidence": [{"entityType": "Process", "fileName": "powershell.exe"}],
}
MACHINE = {
    "id": "0123456789abcdef0123456789abcdef01234567",
    "computerDnsName": "WKS-01.contoso.com",
    "rbacGroupName": "Tier1",
    "osPlatform": "Windows11",
    "ipAddresses": [{"ipAddress": "10.0.0.5"}],
}


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def test_budget_never_exceeds_minute_and_hour_windows() -> None:
    clock = FakeClock()
    budget = RateBudget.per_minute_hour(100, 1500, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(1700):
        budget.acquire()
        stamps.append(clock.t)
    for i, t in enumerate(stamps):
        in_minute = sum(1 for s in stamps[: i + 1] if s > t - 60)
        in_hour = sum(1 for s in stamps[: i + 1] if s > t - 3600)
        assert in_minute <= 100
        assert in_hour <= 1500
    # 1,500 calls fit in the first hour; the 1,501st waits for the first one to leave the hour
    assert stamps[1500] >= stamps[0] + 3600
    assert budget.waited_seconds > 0


def test_shared_key_signature_matches_a_vector_computed_with_openssl() -> None:
    # printf 'POST\n1024\napplication/json\nx-ms-date:Mon, 04 Apr 2016 08:00:00 GMT\n/api/logs' |
    #   openssl dgst -sha256 -mac HMAC -macopt hexkey:<hex of the key bytes> -binary | base64
    key = base64.b64encode(b"huntvault-known-vector-key-0001!").decode()
    assert key == "aHVudHZhdWx0LWtub3duLXZlY3Rvci1rZXktMDAwMSE="
    sig = shared_key_signature(key, "Mon, 04 Apr 2016 08:00:00 GMT", 1024)
    assert sig == "fwNVWGRyOTqorIUGdSCqUog7ijDgPQU8x35rz+CFQgQ="
    assert expected_signature(key, "Mon, 04 Apr 2016 08:00:00 GMT", 1024, "application/json") == sig
    # the length is part of the signed string: a different length gives a different signature
    assert shared_key_signature(key, "Mon, 04 Apr 2016 08:00:00 GMT", 1023) != sig


def test_data_collector_signs_the_utf8_byte_length(monkeypatch: pytest.MonkeyPatch) -> None:
    key = base64.b64encode(b"k" * 32).decode()
    sink = DataCollectorSink(
        SinkConfig(
            name="dc",
            kind="data-collector",
            workspace_id="ws",
            shared_key=key,
            endpoint="https://127.0.0.1:1",
        )
    )
    sent: dict[str, object] = {}

    class Resp:
        status_code = 200

    def post(url: str, data: bytes, headers: dict[str, str], timeout: float) -> Resp:
        sent.update(url=url, data=data, headers=headers)
        return Resp()

    monkeypatch.setattr(sink.session, "post", post)
    sink.send([{"title": "Überwachung – naïve", "lastUpdateTime": "2026-10-31T10:00:00Z"}])
    body = sent["data"]
    assert isinstance(body, bytes)
    headers = sent["headers"]
    assert isinstance(headers, dict)
    assert len(body) > len(body.decode())  # non-ASCII: bytes != characters
    assert headers["Authorization"] == "SharedKey ws:" + expected_signature(
        key, headers["x-ms-date"], len(body), "application/json"
    )
    assert headers["Log-Type"] == "MDATPAlerts"
    assert headers["time-generated-field"] == "lastUpdateTime"
    assert sent["url"] == "https://127.0.0.1:1/api/logs?api-version=2016-04-01"


def test_data_collector_rejects_bad_log_type() -> None:
    key = base64.b64encode(b"k" * 32).decode()
    with pytest.raises(ConfigError, match="log_type"):
        DataCollectorSink(
            SinkConfig(
                name="dc", kind="data-collector", workspace_id="ws", shared_key=key, log_type="MDATP-Alerts"
            )
        )


def test_logicapp_merge_is_last_wins_so_the_machine_id_replaces_the_alert_id() -> None:
    merged = merge_logicapp(ALERT, MACHINE)
    assert merged["id"] == MACHINE["id"]  # the documented pitfall
    assert merged["computerDnsName"] == "WKS-01.contoso.com"
    assert merged["rbacGroupName"] == "Tier1"
    assert merged["title"] == ALERT["title"]
    assert list(merged) == list(dict.fromkeys([*ALERT, *MACHINE]))
    assert merge_logicapp(ALERT, None) == ALERT


def test_prefixed_merge_keeps_every_alert_field_and_prefixes_machine_fields() -> None:
    merged = merge_prefixed(ALERT, MACHINE | {"machineTags": ["vip"]})
    for key, value in ALERT.items():
        assert merged[key] == value
    # the machine's id is the alert's machineId: not repeated as MachineId beside machineId
    assert "MachineId" not in merged and merged["machineId"] == MACHINE["id"]
    assert merged["MachineTags"] == ["vip"] and "MachineMachineTags" not in merged
    assert merged["MachineComputerDnsName"] == "WKS-01.contoso.com"
    assert merged["MachineRbacGroupName"] == "Tier1"
    assert merged["MachineIpAddresses"] == [{"ipAddress": "10.0.0.5"}]
    assert isinstance(merged["evidence"], list)
    assert orjson.loads(orjson.dumps(merged))["evidence"][0]["fileName"] == "powershell.exe"


def test_odata_filter_subset() -> None:
    rec = {"lastUpdateTime": "2026-10-31T10:00:00.1234567Z", "id": "A1", "severity": "High", "n": 5}
    assert compile_filter("lastUpdateTime ge 2026-10-31T10:00:00Z")(rec)
    assert not compile_filter("lastUpdateTime lt 2026-10-31T10:00:00.123456Z")(rec)
    assert compile_filter(
        "lastUpdateTime ge 2026-10-31T09:00:00Z and lastUpdateTime lt 2026-10-31T11:00:00Z"
    )(rec)
    assert compile_filter("id in ('x','a1')")(rec)
    assert not compile_filter("id in ('x', 'y')")(rec)
    assert compile_filter("(severity eq 'Low' or severity eq 'high') and not (n gt 6)")(rec)
    with pytest.raises(ODataFilterError):
        compile_filter("lastUpdateTime >= 2026-10-31")
    with pytest.raises(ODataFilterError):
        compile_filter("id in ('a'")


def test_state_dedupes_unchanged_alerts_and_requeues_updates(tmp_path: object) -> None:
    state = ForwardState(str(tmp_path))
    v1 = ("A", "2026-10-31T10:00:00Z", {"id": "A", "v": 1})
    hw = datetime(2026, 10, 31, 10, tzinfo=UTC)
    assert state.enqueue(["s1", "s2"], [v1], hw, "now") == 2
    assert state.enqueue(["s1", "s2"], [v1], hw, "now") == 0  # already queued
    state.settle(state.pending("s1", 10), "sent", "now")
    assert state.enqueue(["s1", "s2"], [v1], hw, "now") == 0  # s1 delivered, s2 still queued
    v2 = ("A", "2026-10-31T11:00:00.5Z", {"id": "A", "v": 2})
    assert state.enqueue(["s1", "s2"], [v2], datetime(2026, 10, 31, 11, tzinfo=UTC), "now") == 2
    assert [p.record["v"] for p in state.pending("s2", 10)] == [1, 2]
    assert state.pending("s1", 10)[0].record["v"] == 2
    # the cursor never moves back
    state.enqueue(["s1"], [], datetime(2026, 10, 30, tzinfo=UTC), "now")
    assert state.cursor() == datetime(2026, 10, 31, 11, tzinfo=UTC)
    state.close()
    # durable: a new handle sees the same queue
    again = ForwardState(str(tmp_path))
    assert again.pending_count("s2") == 2
    again.close()


def test_units_stay_under_the_byte_limit() -> None:
    records = [{"id": str(i), "blob": "x" * 900} for i in range(3000)]
    units = units_by_bytes(records, 1_000_000, 10_000)
    assert sorted(i for u in units for i in u) == list(range(3000))
    for unit in units:
        assert len(orjson.dumps([records[i] for i in unit])) < 1_000_000
    assert len(units) >= 3


def test_logs_ingestion_reserved_columns_are_renamed() -> None:
    assert rename_reserved({"id": "a", "title": "t", "Type": "x"}) == {"id_": "a", "title": "t", "Type_": "x"}


def test_ledger_prune_forgets_only_versions_older_than_the_reread_window(tmp_path: object) -> None:
    state = ForwardState(str(tmp_path))
    old = ("A", "2026-10-30T00:00:00Z", {"id": "A"})
    new = ("B", "2026-10-31T12:00:00Z", {"id": "B"})
    state.enqueue(["s"], [old, new], datetime(2026, 10, 31, 12, tzinfo=UTC), "now")
    state.settle(state.pending("s", 10), "sent", "now")
    assert state.prune_ledger(datetime(2026, 10, 31, tzinfo=UTC)) == 1
    assert state.ledger_count("s") == 1
    # B is still deduplicated after the prune
    assert state.enqueue(["s"], [new], None, "now") == 0
    state.close()


def test_two_forwarders_cannot_share_one_state_folder(tmp_path: object) -> None:
    from huntvault.config import ForwardConfig
    from huntvault.errors import ForwardError
    from huntvault.forward import Forwarder

    cfg = ForwardConfig(state_dir=str(tmp_path), sinks=[SinkConfig(name="out", kind="stdout")])
    first = Forwarder(cfg)
    with pytest.raises(ForwardError, match="another forwarder"):
        Forwarder(cfg)
    first.close()
    Forwarder(cfg).close()  # released on close


def test_the_documented_forward_example_is_a_valid_configuration(tmp_path: object) -> None:
    from pathlib import Path

    from huntvault import config

    doc = (Path(__file__).resolve().parents[1] / "docs" / "forward.md").read_text(encoding="utf-8")
    block = doc.split("## Complete `[forward]` example")[1].split("```toml")[1].split("```")[0]
    path = Path(str(tmp_path)) / "huntvault.toml"
    path.write_text(block, encoding="utf-8")
    cfg = config.load(path, env={})
    assert [s.kind for s in cfg.forward.sinks] == ["logs-ingestion", "data-collector", "archive", "jsonl"]
    assert cfg.forward.defender.scope == "https://api.securitycenter.microsoft.com/.default"
