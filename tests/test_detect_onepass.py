"""One-pass backtests equal window-by-window replay, alert for alert: every shipped rule, every Sigma test rule, and
queries built to exercise each operator transform (joins, unions, lets, distinct, ago(), overlapping and gapped
windows); queries the rewrite does not know fall back and say why."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from huntvault.detect import ArchiveRunner, MemoryAlertStore, Rule, backtest, load_rule_text, load_rules
from huntvault.detect.onepass import Grid, NotRewritable, rewrite, run_one_pass, split_windows
from huntvault.detect.replay import replay
from huntvault.detect.scheduler import CycleReport
from tests.support.detect import FIXTURES, RULES_DIR, EmulatedArchive, build_archive, dt, native_rule

#: The stories of the emulated day run from 04:39 to 11:16 (and antivirus detections at 00:39 and 01:09).
START, END = dt("2026-10-31T04:00:00Z"), dt("2026-10-31T12:00:00Z")


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> EmulatedArchive:
    return build_archive(tmp_path_factory.mktemp("onepass") / "story")


def _sorted_sets(value: Any) -> Any:
    """make_set()/make_list() elements (lists, or JSON-array text) in a fixed order: the engine gives none."""
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if isinstance(value, list):
        return sorted(
            (_sorted_sets(v) for v in value), key=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS)
        )
    if isinstance(value, dict):
        return {k: _sorted_sets(v) for k, v in value.items()}
    return value


def _canonical(record: dict[str, Any]) -> dict[str, Any]:
    """An alert record with the parts that follow the engine's row order (not defined in KQL) sorted."""
    out = dict(record)
    out["entities"] = sorted(record["entities"], key=lambda e: (e["kind"], e["value"]))
    if record["rowCount"] <= len(record["evidence"]):
        rows = [_sorted_sets(e) for e in record["evidence"]]
        out["evidence"] = sorted(rows, key=lambda e: orjson.dumps(e, option=orjson.OPT_SORT_KEYS))
    else:  # more rows than evidence kept: which ones are kept follows the row order
        out["evidence"] = len(record["evidence"])
    return out


def _windows(cycle: CycleReport) -> list[tuple[Any, ...]]:
    return [
        (w.start, w.end, w.rows, w.alerts, sorted(w.alert_ids), w.suppressed, w.already_reported)
        for w in cycle.windows
    ]


def assert_equivalent(
    rule: Rule, archive: Path, start: datetime = START, end: datetime = END
) -> tuple[CycleReport, MemoryAlertStore]:
    """Run `rule` both ways over (start, end] and compare every window and every alert record."""
    runner = ArchiveRunner(archive)
    want, want_store = replay(rule, runner, start, end)
    got = run_one_pass(rule, runner, start, end)
    assert not isinstance(got, str), f"{rule.id} did not run in one pass: {got}"
    cycle, store, queries = got
    assert queries == 1
    assert _windows(cycle) == _windows(want)
    assert sorted(store.alerts) == sorted(want_store.alerts)
    for alert_id, record in want_store.alerts.items():
        assert _canonical(store.alerts[alert_id]) == _canonical(record), alert_id
    return cycle, store


#: Sigma test rules covering each logsource category the fixtures use (process, file, image load, network
#: with CIDR filters, registry) and the huntvault: block (entity grouping, suppression, own schedule).
SIGMA_SET = (
    "proc_creation_rundll32_comsvcs_minidump",
    "proc_creation_shadow_copy_deletion",
    "proc_creation_schtasks_onlogon_highest",
    "file_event_psexesvc_dropped",
    "image_load_comsvcs_by_rundll32",
    "net_connection_powershell_plain_http",
    "registry_set_run_key_temp_folder",
)


def _all_rules() -> list[Rule]:
    shipped, errors = load_rules(RULES_DIR)
    sigma, sigma_errors = load_rules(FIXTURES / "sigma")
    assert errors == sigma_errors == []
    return shipped + [r for r in sigma if Path(r.path).stem in SIGMA_SET]


@pytest.mark.slow
@pytest.mark.parametrize("rule", _all_rules(), ids=lambda r: Path(r.path).stem)
def test_every_shipped_and_sigma_rule_equals_window_by_window(story: EmulatedArchive, rule: Rule) -> None:
    _, store = assert_equivalent(rule, story.path)
    silent = ("registry_set_run_key_temp_folder", "antivirus-detection")
    if Path(rule.path).stem not in silent:  # the rule fires on its story inside the range
        assert store.alerts, rule.id


def _rule(query: str, **kw: str) -> Rule:
    return load_rule_text(native_rule("t-" + str(abs(hash(query)) % 10**8), query, **kw), "t.yaml")


#: Queries exercising each transform: (name, query, rule options). Each must run in one pass and find rows.
CASES: list[tuple[str, str, dict[str, str]]] = [
    (
        "join-both-sides-windowed",
        """DeviceProcessEvents
        | where FileName =~ "powershell.exe"
        | join kind=inner (DeviceNetworkEvents | where RemotePort == 80 | project DeviceName, RemoteIP) on DeviceName
        | summarize Connections = count(), Ips = make_set(RemoteIP) by DeviceName, AccountName""",
        {"entities": "entities:\n  device: DeviceName", "grouping": "grouping: {per: entity}"},
    ),
    (
        "rightouter-join-and-lookup",
        """DeviceNetworkEvents
        | where RemotePort == 80
        | join kind=rightouter (DeviceProcessEvents | where FileName =~ "powershell.exe"
            | summarize n = count() by DeviceName) on DeviceName
        | lookup (DeviceInfo | summarize arg_max(Timestamp, OSPlatform) by DeviceName) on DeviceName
        | project DeviceName1, RemoteIP, n, OSPlatform""",
        {},
    ),
    (
        "leftouter-join-with-a-datatable",
        """let Watch = datatable(FileName:string, Why:string)["powershell.exe", "cradle", "rundll32.exe", "dump"];
        DeviceProcessEvents
        | join kind=leftouter Watch on FileName
        | where isnotempty(Why)
        | project Timestamp, DeviceName, FileName, Why""",
        {"entities": "entities:\n  device: DeviceName", "grouping": "grouping: {per: entity, by: [device]}"},
    ),
    (
        "union-of-lets-distinct-and-ago",
        """let procs = DeviceProcessEvents | where Timestamp > ago(45m) | project DeviceName, What = FileName;
        let files = DeviceFileEvents | project DeviceName, What = FileName, Timestamp | where Timestamp > ago(45m);
        union procs, (files | project-away Timestamp)
        | where What has_any ("powershell", "PSEXESVC", "procdump")
        | distinct DeviceName, What""",
        {},
    ),
    (
        "summarize-bin-and-now-in-extend",
        """DeviceNetworkEvents
        | where ActionType == "ConnectionSuccess"
        | summarize Conns = count(), First = min(Timestamp) by DeviceName, bin(Timestamp, 15m)
        | extend AgeMinutes = (now() - First) / 1m
        | where Conns > 5""",
        {
            "entities": "entities:\n  device: DeviceName",
            "suppression": "suppression: 3h",
            "grouping": "grouping: {per: entity}",
        },
    ),
    (
        "lookback-not-a-multiple-of-every",
        """DeviceNetworkEvents
        | summarize Conns = count(), Failed = countif(ActionType != "ConnectionSuccess") by DeviceName
        | where Conns > 3""",
        {"every": "1h", "lookback": "90m"},
    ),
    (
        "windows-with-gaps",
        """DeviceProcessEvents
        | extend Parts = split(ProcessCommandLine, " ")
        | mv-expand Part = Parts to typeof(string)
        | parse ProcessCommandLine with Exe " " Rest
        | summarize Words = dcount(Part) by DeviceName, Exe""",
        {"every": "1h", "lookback": "20m"},
    ),
    (
        "top-and-sort-take-per-window",
        """DeviceNetworkEvents
        | summarize Conns = count() by DeviceName, RemotePort
        | top 3 by Conns desc, DeviceName asc, RemotePort asc
        | join kind=inner (DeviceProcessEvents | summarize Procs = count() by DeviceName
            | sort by Procs desc, DeviceName asc | take 2) on DeviceName""",
        {"grouping": "grouping: window"},
    ),
    (
        "project-keep-rename-reorder-sort",
        """DeviceEvents
        | where ActionType in ("AntivirusDetection", "OpenProcessApiCall", "PowerShellCommand")
        | project-rename Machine = DeviceName
        | project-keep Machine, ActionType, Timestamp, FileName
        | project-reorder FileName
        | sort by Timestamp asc""",
        {"entities": "entities:\n  device: Machine", "grouping": "grouping: window"},
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,query,options", CASES, ids=[c[0] for c in CASES])
def test_operator_transforms_equal_window_by_window(
    story: EmulatedArchive, name: str, query: str, options: dict[str, str]
) -> None:
    cycle, _ = assert_equivalent(_rule(query, **options), story.path, dt("2026-10-31T08:00:00Z"), END)
    assert sum(w.rows for w in cycle.windows) > 0, "the case found no rows: it would prove nothing"


#: Queries that cannot run in one pass, and the reason the report gives.
FALLBACKS = [
    ("DeviceProcessEvents | count", "the count operator"),
    ("DeviceProcessEvents | summarize n = count()", "summarize without `by`"),
    ("DeviceProcessEvents | sample 5", "the sample operator"),
    ("DeviceProcessEvents | serialize | extend n = row_number()", "the serialize operator"),
    ("DeviceProcessEvents | extend n = row_number()", "row_number()"),
    ("let since = ago(1h); DeviceProcessEvents | where Timestamp > since", "now()/ago() in the scalar let"),
    ("datatable(a:long)[1] | extend b = a", "reads no archive table"),
    ("DeviceProcessEvents | where DeviceName in ((DeviceInfo | project DeviceName))", "a tabular expression"),
    ("DeviceProcessEvents | extend __hv_w = 1", "reserved"),
    ("DeviceProcessEvents | extend Bag = pack_all()", "pack_all() over every column"),
    (
        "DeviceProcessEvents | summarize count() by DeviceName | extend h = hash(*)",
        "hash() over every column",
    ),
    ("DeviceProcessEvents | make-series n = count() on Timestamp step 1h by DeviceName", "make-series"),
    (
        "datatable(DeviceName:string)['a'] | join kind=inner (DeviceProcessEvents) on DeviceName",
        "left side is in every window",
    ),
    ("let f = (x:long) { x + 1 }; DeviceProcessEvents | extend y = f(1)", "the function 'f'"),
]


@pytest.mark.parametrize("query,reason", FALLBACKS, ids=[r for _, r in FALLBACKS])
def test_queries_that_cannot_be_rewritten_say_why(query: str, reason: str) -> None:
    rule = _rule(query)
    with pytest.raises(NotRewritable, match=reason.replace("(", r"\(").replace(")", r"\)")):
        rewrite(rule.query, Grid.of(rule, START, END))


@pytest.mark.slow
def test_a_fallback_replays_window_by_window_and_the_report_says_so(story: EmulatedArchive) -> None:
    rule = _rule("DeviceProcessEvents | where FileName =~ 'whoami.exe' | count")
    runner = ArchiveRunner(story.path)
    start, end = dt("2026-10-31T09:00:00Z"), dt("2026-10-31T12:00:00Z")
    rep = backtest(rule, runner, start, end)
    assert rep.path == "window-by-window" and rep.fallback == "the count operator"
    assert rep.queries == rep.windows == 3 and rep.rows == 3  # count yields a row in every window
    with pytest.raises(Exception, match="cannot be backtested in one pass: the count operator"):
        backtest(rule, runner, start, end, mode="one-pass")
    forced = backtest(_rule("DeviceProcessEvents | where FileName =~ 'whoami.exe'"), runner, start, end)
    assert forced.path == "one-pass" and forced.queries == 1 and forced.fallback == ""


def test_grid_matches_the_scheduler_windows() -> None:
    rule = _rule("DeviceEvents", every="30m", lookback="2h")
    grid = Grid.of(rule, dt("2026-10-31T00:10:00Z"), dt("2026-10-31T02:00:00Z"))
    assert grid.first_end == dt("2026-10-31T00:30:00Z") and grid.count == 4
    assert grid.span == (dt("2026-10-30T22:30:00Z"), dt("2026-10-31T02:00:00Z"))
    assert grid.index(dt("2026-10-31T01:30:00Z")) == 2
    assert Grid.of(rule, dt("2026-10-31T00:10:00Z"), dt("2026-10-31T00:20:00Z")).count == 0


def test_split_windows_drops_the_window_column_and_rows_outside_the_grid() -> None:
    table = pa.table({"a": [1, 2, 3, 4], "__hv_w": [2, 0, 2, 7]})
    parts = split_windows(table, 3)
    assert sorted(parts) == [0, 2]
    assert parts[2].column_names == ["a"] and sorted(parts[2].column("a").to_pylist()) == [1, 3]
    assert (
        split_windows(pa.table({"a": pa.array([], pa.int64()), "__hv_w": pa.array([], pa.int64())}), 3) == {}
    )
