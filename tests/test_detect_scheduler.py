"""Scheduler, grouping, suppression, alert ids, state, locks and crash safety, with an injected runner and clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from huntvault.detect import (
    DetectState,
    MemoryAlertStore,
    Rule,
    Scheduler,
    decide,
    fixed_watermark,
    load_rule_text,
)
from tests.support.detect import dt, native_rule

SCHEMA = pa.schema(
    [
        ("Timestamp", pa.timestamp("us", tz="UTC")),
        ("DeviceName", pa.string()),
        ("AccountName", pa.string()),
        ("RemoteIP", pa.string()),
        ("Detail", pa.string()),
    ]
)
T0 = dt("2026-10-31T00:00:00Z")
ENTITIES = "entities:\n  device: DeviceName\n  user: AccountName\n  ip: RemoteIP"


class SimulatedCrash(BaseException):
    """Stands for the process dying: nothing in the scheduler catches it."""


class FakeRunner:
    """What the window filter does, over an in-memory table: rows with start <= Timestamp < end."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.calls: list[tuple[datetime, datetime]] = []

    def add(
        self,
        minutes: float,
        device: str = "wks-1",
        user: str = "alice",
        ip: str = "192.0.2.1",
        detail: str = "x",
    ) -> None:
        self.rows.append(
            {
                "Timestamp": T0 + timedelta(minutes=minutes),
                "DeviceName": device,
                "AccountName": user,
                "RemoteIP": ip,
                "Detail": detail,
            }
        )

    def __call__(
        self, query: str, now: datetime, window: tuple[datetime, datetime] | None = None
    ) -> pa.Table:
        assert window is not None and now == window[1]
        self.calls.append(window)
        start, end = window
        return pa.Table.from_pylist([r for r in self.rows if start <= r["Timestamp"] < end], schema=SCHEMA)


def rule(
    grouping: str = "",
    suppression: str = "",
    every: str = "1h",
    lookback: str = "2h",
    rid: str = "r1",
    extra: str = "",
) -> Rule:
    return load_rule_text(
        native_rule(
            rid,
            "DeviceEvents | project Timestamp, DeviceName, AccountName, RemoteIP",
            every=every,
            lookback=lookback,
            entities=ENTITIES,
            grouping=grouping,
            suppression=suppression,
            extra=extra,
        ),
        f"{rid}.yaml",
    )


def sched(
    rules: list[Rule],
    state: DetectState,
    runner: FakeRunner,
    store: MemoryAlertStore,
    *,
    until: str,
    start: str = "2026-10-31T00:00:00Z",
    **kw: Any,
) -> Scheduler:
    return Scheduler(
        rules,
        state,
        runner,
        store,
        watermark=fixed_watermark(dt(until)),
        clock=lambda: dt(until),
        start=dt(start),
        **kw,
    )


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _row(minutes: float, device: str = "wks-1", user: str = "alice", ip: str = "192.0.2.1") -> dict[str, Any]:
    return {
        "Timestamp": T0 + timedelta(minutes=minutes),
        "DeviceName": device,
        "AccountName": user,
        "RemoteIP": ip,
        "Detail": "x",
    }


def _nothing_known(keys: Any) -> set[str]:
    return set()


def _never(key: str) -> None:
    return None


# -- grouping, ids, trigger -----------------------------------------------------------------------


def test_grouping_per_row_entity_and_window() -> None:
    rows = table([_row(1), _row(2), _row(3, device="wks-2"), _row(4, user="bob")])
    start, end = T0, T0 + timedelta(hours=1)
    per_row = decide(rule("grouping: row"), start, end, rows, _nothing_known, _never)
    assert len(per_row.alerts) == 4 and all(a.record()["rowCount"] == 1 for a in per_row.alerts)
    per_entity = decide(
        rule("grouping:\n  per: entity\n  by: [device]"), start, end, rows, _nothing_known, _never
    )
    assert sorted(len(a.hits) for a in per_entity.alerts) == [1, 3]
    assert {a.entities["device"][0] for a in per_entity.alerts} == {"wks-1", "wks-2"}
    by_all = decide(rule("grouping: entity"), start, end, rows, _nothing_known, _never)  # device+user+ip
    assert sorted(len(a.hits) for a in by_all.alerts) == [1, 1, 2]
    one = decide(rule("grouping: window"), start, end, rows, _nothing_known, _never)
    assert len(one.alerts) == 1 and one.alerts[0].record()["rowCount"] == 4
    assert one.alerts[0].entities["user"] == ["alice", "bob"]
    rec = one.alerts[0].record()
    assert (
        rec["firstEventTime"] == "2026-10-31T00:01:00.000000Z"
        and rec["lastEventTime"] == "2026-10-31T00:04:00.000000Z"
    )
    assert rec["windowEnd"] == rec["lastUpdateTime"] == "2026-10-31T01:00:00.000000Z"


def test_alert_ids_are_deterministic() -> None:
    rows = table([_row(1), _row(3, device="wks-2")])
    r = rule("grouping:\n  per: entity\n  by: [device]")
    a = [x.id for x in decide(r, T0, T0 + timedelta(hours=1), rows, _nothing_known, _never).alerts]
    b = [x.id for x in decide(r, T0, T0 + timedelta(hours=1), rows, _nothing_known, _never).alerts]
    c = [x.id for x in decide(r, T0, T0 + timedelta(hours=2), rows, _nothing_known, _never).alerts]
    assert a == b and len(set(a)) == 2
    assert set(a).isdisjoint(c)  # per-entity ids include the window
    r_row = rule("grouping: row")
    x = [al.id for al in decide(r_row, T0, T0 + timedelta(hours=1), rows, _nothing_known, _never).alerts]
    y = [al.id for al in decide(r_row, T0, T0 + timedelta(hours=2), rows, _nothing_known, _never).alerts]
    assert x == y  # per-row ids depend on the row only: overlapping windows find the same alert


def test_trigger_threshold() -> None:
    r = rule("grouping: window", extra="trigger:\n  operator: gt\n  threshold: 2")
    assert (
        decide(r, T0, T0 + timedelta(hours=1), table([_row(1), _row(2)]), _nothing_known, _never).alerts == []
    )
    assert (
        len(
            decide(
                r, T0, T0 + timedelta(hours=1), table([_row(1), _row(2), _row(3)]), _nothing_known, _never
            ).alerts
        )
        == 1
    )


# -- suppression ----------------------------------------------------------------------------------


def test_suppression_within_and_across_windows(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.add(10)  # alice on wks-1: alert
    runner.add(20)  # same entity, same window: suppressed
    runner.add(30, device="wks-2")  # other entity: alert
    runner.add(200)  # alice on wks-1, 3h later: still inside 4h
    runner.add(320)  # 5h20 later: the 01:00 alert's suppression (until 05:00) is over
    r = rule("grouping: row", suppression="suppression: 4h", lookback="1h")
    store = MemoryAlertStore()
    state = DetectState(tmp_path / "state")
    rep = sched([r], state, runner, store, until="2026-10-31T08:00:00Z").run_once()
    assert rep.alerts == 3
    firsts = sorted(
        (rec["entities"][0]["value"], rec["firstEventTime"][11:16]) for rec in store.alerts.values()
    )
    assert firsts == [("wks-1", "00:10"), ("wks-1", "05:20"), ("wks-2", "00:30")]
    assert sum(w.suppressed for w in rep.windows) == 2


def test_sentinel_suppression_quiets_the_whole_rule(tmp_path: Path) -> None:
    text = """
id: s1
name: Sentinel style
severity: Low
queryFrequency: 1h
queryPeriod: 1h
suppressionEnabled: true
suppressionDuration: 3h
eventGroupingSettings: {aggregationKind: AlertPerResult}
entityMappings:
  - entityType: Host
    fieldMappings: [{identifier: HostName, columnName: DeviceName}]
query: DeviceEvents | project Timestamp, DeviceName
"""
    r = load_rule_text(text, "s1.yaml")
    runner = FakeRunner()
    for minute, dev in ((10, "a"), (70, "b"), (130, "c"), (200, "d")):
        runner.add(minute, device=dev)
    store = MemoryAlertStore()
    sched([r], DetectState(None), runner, store, until="2026-10-31T05:00:00Z").run_once()
    assert sorted(rec["computerDnsName"] for rec in store.alerts.values()) == ["a", "d"]


# -- windows, watermark, durable state ------------------------------------------------------------


def test_windows_follow_schedule_and_wait_for_ingestion(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.add(30)
    state = DetectState(tmp_path / "s")
    store = MemoryAlertStore()
    mark: list[datetime | None] = [None]
    s = Scheduler(
        [rule("grouping: row")],
        state,
        runner,
        store,
        watermark=lambda: mark[0],
        clock=lambda: dt("2026-10-31T06:00:00Z"),
        start=T0,
    )
    rep = s.run_once()
    assert rep.windows == [] and "no ingestion watermark" in rep.waiting["r1"]
    mark[0] = dt("2026-10-31T02:30:00Z")  # ingestion has covered up to 02:30
    rep = s.run_once()
    assert [(w.start, w.end) for w in rep.windows] == [
        (dt("2026-10-30T23:00:00Z"), dt("2026-10-31T01:00:00Z")),
        (T0, dt("2026-10-31T02:00:00Z")),
    ]
    assert "02:30" in s.run_once().waiting["r1"]
    assert state.last_end("r1") == dt("2026-10-31T02:00:00Z")
    state.close()
    # a new scheduler (a restart) continues after the last completed window
    state2 = DetectState(tmp_path / "s")
    mark[0] = dt("2026-10-31T04:00:00Z")
    s2 = Scheduler(
        [rule("grouping: row")],
        state2,
        runner,
        store,
        watermark=lambda: mark[0],
        clock=lambda: dt("2026-10-31T06:00:00Z"),
        start=T0,
    )
    assert [w.end for w in s2.run_once().windows] == [dt("2026-10-31T03:00:00Z"), dt("2026-10-31T04:00:00Z")]
    assert len(store.alerts) == 1  # the row at 00:30 is in two overlapping windows, alerted once


def test_new_rule_without_start_begins_at_the_latest_whole_window(tmp_path: Path) -> None:
    runner = FakeRunner()
    s = Scheduler(
        [rule(every="15m", lookback="15m")],
        DetectState(None),
        runner,
        MemoryAlertStore(),
        watermark=fixed_watermark(dt("2026-10-31T10:40:00Z")),
        clock=lambda: dt("2026-10-31T11:00:00Z"),
    )
    assert [w.end for w in s.run_once().windows] == [dt("2026-10-31T10:30:00Z")]


def test_late_data_inside_the_lookback_is_caught(tmp_path: Path) -> None:
    runner = FakeRunner()
    state = DetectState(tmp_path / "s")
    store = MemoryAlertStore()
    now = [dt("2026-10-31T02:00:00Z")]
    s = Scheduler(
        [rule("grouping: row", lookback="2h")],
        state,
        runner,
        store,
        watermark=lambda: now[0],
        clock=lambda: now[0],
        start=T0,
    )
    s.run_once()  # windows ending 01:00 and 02:00 ran: nothing
    assert store.alerts == {}
    runner.add(90)  # an event of 01:30 is archived only now, late
    runner.add(30)  # and one of 00:30, which no later window looks back to
    now[0] = dt("2026-10-31T03:00:00Z")
    s.run_once()  # window [01:00, 03:00) sees the 01:30 row
    assert [rec["firstEventTime"][11:16] for rec in store.alerts.values()] == ["01:30"]


def test_max_windows_per_cycle_and_catch_up(tmp_path: Path) -> None:
    runner = FakeRunner()
    s = sched(
        [rule()], DetectState(None), runner, MemoryAlertStore(), until="2026-10-31T10:00:00Z", max_windows=4
    )
    assert len(s.run_once().windows) == 4
    assert len(s.run_once().windows) == 4
    assert len(s.run_once().windows) == 2
    assert [c[1].hour for c in runner.calls] == list(range(1, 11))


def test_a_locked_rule_is_skipped(tmp_path: Path) -> None:
    runner = FakeRunner()
    state = DetectState(tmp_path / "s")
    other = DetectState(tmp_path / "s")  # a second scheduler (another process would hold the same flock)
    s = sched([rule()], state, runner, MemoryAlertStore(), until="2026-10-31T03:00:00Z")
    with other.rule_lock("r1") as held:
        assert held
        rep = s.run_once()
        assert rep.busy == ["r1"] and rep.windows == [] and runner.calls == []
    assert len(s.run_once().windows) == 3


def test_a_failing_rule_does_not_advance(tmp_path: Path) -> None:
    from huntvault.errors import KqlSemanticError

    def broken(query: str, now: datetime, window: Any = None) -> pa.Table:
        raise KqlSemanticError("unknown column 'X'", 2, 5, query)

    state = DetectState(None)
    s = Scheduler(
        [rule()],
        state,
        broken,
        MemoryAlertStore(),
        watermark=fixed_watermark(dt("2026-10-31T03:00:00Z")),
        clock=lambda: dt("2026-10-31T03:00:00Z"),
        start=T0,
    )
    rep = s.run_once()
    assert (
        "unknown column" in rep.errors["r1"] and "line 1" in rep.errors["r1"]
    )  # moved back onto the rule's query
    assert state.last_end("r1") is None


# -- crash safety -----------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["after-query", "after-record", "after-store"])
def test_a_crash_mid_run_neither_loses_nor_duplicates(tmp_path: Path, point: str) -> None:
    runner = FakeRunner()
    for minute in (10, 70, 75, 130, 200):
        runner.add(minute, device=f"wks-{minute % 3}")
    r = rule("grouping: row")
    expected_store = MemoryAlertStore()
    sched([r], DetectState(None), runner, expected_store, until="2026-10-31T04:00:00Z").run_once()
    expected = set(expected_store.alerts)
    assert len(expected) == 5

    crashed = {"done": False}

    def crash(p: str, rl: Rule, end: datetime) -> None:
        if p == point and end == dt("2026-10-31T02:00:00Z") and not crashed["done"]:
            crashed["done"] = True
            raise SimulatedCrash(p)

    store = MemoryAlertStore()
    state = DetectState(tmp_path / "s")
    with pytest.raises(SimulatedCrash):
        sched([r], state, runner, store, until="2026-10-31T04:00:00Z", crash_at=crash).run_once()
    state.close()
    state = DetectState(tmp_path / "s")  # restart
    rep = sched([r], state, runner, store, until="2026-10-31T04:00:00Z").run_once()
    assert set(store.alerts) == expected
    assert state.raised_count("r1") == 5
    assert state.pending() == []
    if point == "after-record":
        assert (
            rep.redelivered == 1
        )  # the computed window's alerts were delivered from the outbox, not re-queried
    ends = [w["end_time"][11:16] for w in state.windows("r1")]
    assert ends == ["01:00", "02:00", "03:00", "04:00"]


def test_reported_rows_are_forgotten_once_no_lookback_reaches_them(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.add(30)
    state = DetectState(tmp_path / "s")
    store = MemoryAlertStore()
    s = sched([rule("grouping: row")], state, runner, store, until="2026-10-31T02:00:00Z")
    s.run_once()
    assert state.db.execute("SELECT count(*) FROM reported_rows").fetchone()[0] == 1
    s2 = sched([rule("grouping: row")], state, runner, store, until="2026-10-31T06:00:00Z")
    s2.run_once()
    assert state.db.execute("SELECT count(*) FROM reported_rows").fetchone()[0] == 0
    assert len(store.alerts) == 1 and state.raised_count("r1") == 1


def test_rules_are_reloaded_each_cycle_and_a_broken_folder_keeps_the_old_set(tmp_path: Path) -> None:
    from huntvault.detect import load_rules

    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "r1.yaml").write_text(native_rule("r1", "DeviceEvents | take 1"))

    def load() -> list[Rule]:
        rules, errors = load_rules(folder)
        if errors:
            raise errors[0]
        return rules

    runner = FakeRunner()
    now = [dt("2026-10-31T01:00:00Z")]
    s = Scheduler(
        load(),
        DetectState(None),
        runner,
        MemoryAlertStore(),
        watermark=lambda: now[0],
        clock=lambda: now[0],
        start=T0,
        reload=load,
    )
    assert [w.rule_id for w in s.run_once().windows] == ["r1"]
    (folder / "r2.yaml").write_text(native_rule("r2", "DeviceEvents | take 1"))
    now[0] = dt("2026-10-31T02:00:00Z")
    assert sorted(w.rule_id for w in s.run_once().windows) == ["r1", "r2", "r2"]
    (folder / "r3.yaml").write_text("id: r3\nseverity: [\n")
    now[0] = dt("2026-10-31T03:00:00Z")
    rep = s.run_once()
    assert "r3.yaml" in rep.errors["(rules)"]
    assert sorted(w.rule_id for w in rep.windows) == ["r1", "r2"]


def test_row_identity_ignores_the_order_of_set_elements() -> None:
    schema = pa.schema(
        [("DeviceName", pa.string()), ("Commands", pa.string()), ("Tags", pa.list_(pa.string()))]
    )
    r = rule("grouping: row")
    first = pa.Table.from_pylist(
        [{"DeviceName": "a", "Commands": '["x","y","z"]', "Tags": ["b", "a"]}], schema=schema
    )
    second = pa.Table.from_pylist(
        [{"DeviceName": "a", "Commands": '["z","x","y"]', "Tags": ["a", "b"]}], schema=schema
    )
    from huntvault.detect import hits_of

    assert hits_of(r, first)[0].key == hits_of(r, second)[0].key
    third = pa.Table.from_pylist(
        [{"DeviceName": "a", "Commands": '["x","y"]', "Tags": ["a", "b"]}], schema=schema
    )
    assert hits_of(r, third)[0].key != hits_of(r, first)[0].key
