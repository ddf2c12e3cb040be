"""The streaming-export writer: the tenant's rows in Defender's envelope, blob layout and quirks, into sinks.

Pipeline, hour by hour of event time (so memory stays at about one hour of rows):

1. rows for the hour: every device's background activity (`noise.DeviceActivity`), tenant-wide
   Email/Identity/Cloud rows (`cloud.TenantActivity`), the planted stories' rows, the alerts' AlertInfo /
   AlertEvidence / AlertEvents rows, and the schema-drift table's rows;
2. each row gets its envelope: `_TimeReceivedBySvc` (seconds to minutes after the event, a few rows
   hours later: late appends), `time` (the export clock, after that), tenantId, operationName, category,
   Tenant; it is serialised once with orjson (CRLF line);
3. lines are bucketed by export tick (`tick_minutes` of the export clock) and blob (container + event
   hour); when the generator has passed a tick, the tick is flushed: one append per blob, in blob order.
   An at-least-once duplicate is the same line appended again one to three ticks later.

The same seed, end and parameters give the same bytes in every sink.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from huntvault.emulator.clock import TICKS_PER_HOUR, TICKS_PER_SECOND, Formatter, from_ticks, to_ticks
from huntvault.emulator.cloud import TenantActivity
from huntvault.emulator.manifest import Manifest, TableCount
from huntvault.emulator.model import Alert, Device, iso
from huntvault.emulator.noise import DeviceActivity, Event, Row, blank_cached
from huntvault.emulator.sinks import SINKS, Sink
from huntvault.emulator.tenant import Tenant, build_tenant
from huntvault.errors import EmulatorError
from huntvault.schema import CATEGORY_PREFIX, container_name, get_table

END_A = b',"Tenant":"DefaultTenant"}\r\n'
#: The schema-drift column appears on this table from the middle of the window on.
DRIFT_TABLE = "DeviceProcessEvents"


@dataclass(frozen=True)
class ExportOptions:
    """Every knob of the writer (all recorded in the manifest's `params`)."""

    days: float = 1.0
    devices: int = 5
    seed: int = 1
    end: str = ""  # ISO; "" = the start of the current UTC hour
    events_per_device_day: int = 2000
    events_per_user_day: int = 12
    dup_rate: float = 0.002  # share of lines delivered twice
    late_rate: float = 0.02  # share of lines received hours after their event (late appends)
    no_z_rate: float = 0.1  # share of `_TimeReceivedBySvc` values without the trailing Z
    unknown_column: str = "EmulatorDriftField"  # "" disables the drift column
    unknown_table: str = "EmulatorDriftEvents"  # "" disables the unknown table
    malformed: int = 0  # broken lines to inject (for quarantine tests; never counted as events)
    tick_minutes: int = 15  # export clock granularity: one append per blob per tick


def default_end(now: datetime | None = None) -> datetime:
    """The start of the current UTC hour."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def parse_end(text: str) -> datetime:
    if not text:
        return default_end()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EmulatorError(f"--end: not an ISO 8601 time: {text!r}") from None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def blob_path(tenant_id: str, hour_index: int) -> str:
    """`tenantId=<guid>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json` for the hour `hour_index` (hours since epoch)."""
    t = time.gmtime(hour_index * 3600)
    return f"tenantId={tenant_id}/y={t.tm_year:04d}/m={t.tm_mon:02d}/d={t.tm_mday:02d}/h={t.tm_hour:02d}/m=00/PT1H.json"


# -------------------------------------------------------------------------------------------------
# alert rows


def _evidence_rows(alert: Alert, device: Device | None, fmt: Formatter, ticks: int) -> list[Row]:
    rows: list[Row] = []
    cats = orjson.dumps([alert.category]).decode()
    techniques = orjson.dumps(list(alert.attack_techniques)).decode() if alert.attack_techniques else ""
    for ev in alert.evidence:
        row = dict(blank_cached("AlertEvidence"))
        folder = ev.file_path
        row.update(
            {
                "Timestamp": fmt(ticks),
                "AlertId": alert.id,
                "Title": alert.title,
                "Categories": cats,
                "AttackTechniques": techniques,
                "ServiceSource": alert.service_source,
                "DetectionSource": alert.hunting_detection_source,
                "EntityType": ev.entity_type,
                "EvidenceRole": ev.evidence_role,
                "Severity": alert.severity,
                "DeviceId": device.id if device else None,
                "DeviceName": device.name if device else None,
                "MachineGroup": device.machine_group if device else None,
            }
        )
        if ev.entity_type in ("File", "Process"):
            row.update(
                {
                    "FileName": ev.file_name,
                    "FolderPath": f"{folder}\\{ev.file_name}" if folder else None,
                    "SHA1": ev.sha1,
                    "SHA256": ev.sha256,
                    "FileSize": ev.file_size,
                    "ThreatFamily": ev.threat_family,
                    "ProcessCommandLine": ev.process_command_line,
                }
            )
            if ev.entity_type == "Process":
                row["AdditionalFields"] = orjson.dumps(
                    {
                        "ProcessId": ev.process_id,
                        "CreationTimeUtc": iso(ev.process_creation_time),
                        "ParentProcessId": ev.parent_process_id,
                        "ParentFileName": ev.parent_process_file_name,
                        "Account": {"Name": ev.account_name, "Domain": ev.domain_name, "Sid": ev.user_sid},
                    }
                ).decode()
        elif ev.entity_type == "User":
            row.update(
                {
                    "AccountName": ev.account_name,
                    "AccountDomain": ev.domain_name,
                    "AccountSid": ev.user_sid,
                    "AccountObjectId": ev.aad_user_id,
                    "AccountUpn": ev.user_principal_name,
                }
            )
        elif ev.entity_type == "Ip":
            row.update({"RemoteIP": ev.ip_address, "LocalIP": device.private_ip if device else None})
        elif ev.entity_type == "Url":
            row["RemoteUrl"] = ev.url
        rows.append(row)
    return rows


def alert_rows(tenant: Tenant, fmt: Formatter) -> list[Event]:
    """AlertInfo (at creation, again at the first status change), AlertEvidence and legacy AlertEvents."""
    out: list[Event] = []
    devices = {d.id: d for d in tenant.devices}
    for i, a in enumerate(tenant.alerts):
        d = devices.get(a.machine_id)
        created = to_ticks(a.creation_time)
        techniques = orjson.dumps(list(a.attack_techniques)).decode() if a.attack_techniques else ""
        group = d.machine_group if d else None
        stamps = [created] + ([to_ticks(a.timeline[1].time)] if len(a.timeline) > 1 else [])
        for t in stamps:
            info = dict(blank_cached("AlertInfo"))
            info.update(
                {
                    "Timestamp": fmt(t),
                    "AlertId": a.id,
                    "Title": a.title,
                    "Category": a.category,
                    "Severity": a.severity,
                    "ServiceSource": a.service_source,
                    "DetectionSource": a.hunting_detection_source,
                    "AttackTechniques": techniques,
                    "MachineGroup": group,
                }
            )
            out.append(("AlertInfo", t, info))
        for row in _evidence_rows(a, d, fmt, created):
            out.append(("AlertEvidence", created, row))
        legacy = dict(blank_cached("AlertEvents"))
        file_ev = next((e for e in a.evidence if e.entity_type in ("File", "Process")), None)
        ip_ev = next((e for e in a.evidence if e.entity_type == "Ip"), None)
        url_ev = next((e for e in a.evidence if e.entity_type == "Url"), None)
        legacy.update(
            {
                "AlertId": a.id,
                "EventTime": fmt(created),
                "MachineId": a.machine_id,
                "ComputerName": a.computer_dns_name,
                "Severity": a.severity,
                "Category": a.category,
                "Title": a.title,
                "FileName": file_ev.file_name if file_ev else None,
                "SHA1": file_ev.sha1 if file_ev else None,
                "RemoteUrl": url_ev.url if url_ev else None,
                "RemoteIP": ip_ev.ip_address if ip_ev else None,
                "ReportId": 7_000_000 + i,
                "Table": "AlertEvidence",
                "MachineGroup": group,
            }
        )
        out.append(("AlertEvents", created, legacy))
    return out


def story_rows(tenant: Tenant, fmt: Formatter) -> list[Event]:
    """The planted stories' rows with every column of their table."""
    groups = {d.id: d.machine_group for d in tenant.devices}
    out: list[Event] = []
    for story in tenant.stories:
        for ev in story.events:
            row = dict(blank_cached(ev.table))
            row.update(ev.props)
            ticks = to_ticks(ev.props["Timestamp"])
            row["Timestamp"] = fmt(ticks)
            if "DeviceId" in row and "MachineGroup" in row:
                row["MachineGroup"] = groups.get(row["DeviceId"])
            if row.get("AppGuardContainerId", 0) is None:
                row["AppGuardContainerId"] = ""
            out.append((ev.table, ticks, row))
    return out


# -------------------------------------------------------------------------------------------------
# the writer


class Exporter:
    """Generates the tenant's export and feeds it to sinks; `run()` writes the window, `follow()` goes on."""

    def __init__(self, options: ExportOptions, sinks: list[Sink], manifest_dir: Path | None) -> None:
        if options.devices < 1:
            raise EmulatorError("--devices must be at least 1")
        if options.days <= 0:
            raise EmulatorError("--days must be > 0")
        if not 0 <= options.dup_rate < 1 or not 0 <= options.late_rate < 1:
            raise EmulatorError("--dup-rate and --late-rate must be in [0, 1)")
        if options.tick_minutes < 1 or 60 % options.tick_minutes:
            raise EmulatorError("tick_minutes must divide 60")
        if options.unknown_table and get_table(options.unknown_table) is not None:
            raise EmulatorError(f"unknown table {options.unknown_table!r} is a known table")
        self.opt = options
        self.sinks = sinks
        self.manifest_dir = manifest_dir
        end = parse_end(options.end)
        self.tenant = build_tenant(options.seed, options.devices, end, options.days)
        self.fmt = Formatter()
        self.start_ticks = to_ticks(self.tenant.start)
        self.end_ticks = to_ticks(self.tenant.end)
        self.tick_len = options.tick_minutes * 60 * TICKS_PER_SECOND
        self.tid = self.tenant.tenant_id
        report_rng = random.Random(f"huntvault:{options.seed}:reports")
        self.devices = [
            DeviceActivity(
                options.seed,
                d,
                options.events_per_device_day,
                self.fmt,
                report_rng.randint(10_000, 90_000) * 1_000_000,
            )
            for d in self.tenant.devices
        ]
        self.cloud = TenantActivity(options.seed, self.tenant, self.fmt, options.events_per_user_day)
        self.drift_from = self.start_ticks + (self.end_ticks - self.start_ticks) // 2
        self.planted: dict[int, list[Event]] = defaultdict(list)
        for ev in story_rows(self.tenant, self.fmt) + alert_rows(self.tenant, self.fmt):
            self.planted[ev[1] // TICKS_PER_HOUR].append(ev)
        self.pending: dict[int, dict[tuple[str, str], list[bytes]]] = defaultdict(lambda: defaultdict(list))
        self.manifest = Manifest(
            tenant_id=self.tid,
            params={**asdict(options), "end": iso(self.tenant.end, 0)},
            start=iso(self.tenant.start, 0) or "",
            end=iso(self.tenant.end, 0) or "",
            stories=[s.summary() for s in self.tenant.stories],
            alerts=[
                {
                    "id": a.id,
                    "title": a.title,
                    "severity": a.severity,
                    "story": a.story,
                    "incident_id": a.incident_id,
                    "device_id": a.machine_id,
                    "device_name": a.computer_dns_name,
                    "created": iso(a.creation_time),
                    # False when the window ends before the alert was raised (its rows are not in the export)
                    "in_export": self.tenant.start <= a.creation_time < self.tenant.end,
                }
                for a in self.tenant.alerts
            ],
            drift={
                "unknown_column": {
                    "table": DRIFT_TABLE,
                    "name": options.unknown_column,
                    "from": iso(from_ticks(self.drift_from)),
                }
                if options.unknown_column
                else None,
                "unknown_table": options.unknown_table or None,
            },
        )
        self.counts = self.manifest.tables
        self._malformed_hours = self._pick_malformed_hours()

    # -- rows ------------------------------------------------------------------------------------
    def hour_rows(self, hour: int) -> list[Event]:
        rows: list[Event] = []
        for dev in self.devices:
            rows.extend(dev.hour(hour))
        rows.extend(self.cloud.hour(hour))
        rows.extend(self.planted.get(hour, ()))
        if self.opt.unknown_table:
            rows.extend(self._drift_rows(hour))
        return rows

    def _drift_rows(self, hour: int) -> list[Event]:
        rng = random.Random(f"huntvault:{self.opt.seed}:drift:{hour}")
        out: list[Event] = []
        for i in range(max(1, len(self.tenant.devices) // 10)):
            d = self.tenant.devices[int(rng.random() * len(self.tenant.devices))]
            t = hour * TICKS_PER_HOUR + rng.randrange(TICKS_PER_HOUR)
            out.append(
                (
                    self.opt.unknown_table,
                    t,
                    {
                        "Timestamp": self.fmt(t),
                        "DeviceId": d.id,
                        "DeviceName": d.name,
                        "ActionType": "PreviewEvent",
                        "ReportId": hour * 100 + i,
                        "PreviewDetails": orjson.dumps({"Stage": "preview", "N": i}).decode(),
                        "MachineGroup": d.machine_group,
                    },
                )
            )
        return out

    def _count(self, table: str) -> TableCount:
        tc = self.counts.get(table)
        if tc is None:
            tc = self.counts[table] = TableCount(container_name(table), get_table(table) is not None)
        return tc

    # -- envelope and bucketing -------------------------------------------------------------------
    def envelope_hour(self, hour: int, rows: list[Event], lo: int, hi: int) -> None:
        """Wrap the rows whose event time is in [lo, hi) and bucket their lines by export tick."""
        opt = self.opt
        rng = random.Random(f"huntvault:{opt.seed}:envelope:{hour}")
        rnd = rng.random
        fmt = self.fmt
        tid = self.tid
        dumps = orjson.dumps
        pending = self.pending
        tick_len = self.tick_len
        late_rate, dup_rate, no_z = opt.late_rate, opt.dup_rate, opt.no_z_rate
        drift_col, drift_from = opt.unknown_column, self.drift_from
        blob = blob_path(tid, hour)
        hours, minsec = fmt.hours, fmt.minsec
        hour_end = (hour + 1) * TICKS_PER_HOUR
        cats: dict[str, tuple[str, TableCount, bytes, bytes]] = {}
        tid_b = tid.encode()
        join = b"".join
        lo, hi = max(lo, hour * TICKS_PER_HOUR), min(hi, hour_end)  # a blob holds its hour's events only
        rows = [ev for ev in rows if lo <= ev[1] < hi]
        for table, n in Counter(ev[0] for ev in rows).items():
            tc = self._count(table)
            tc.events += n
            tc.blobs.add(blob)
        late_limit = hour_end + tick_len
        local: dict[tuple[int, str], list[bytes]] = {}
        for table, ticks, row in rows:
            meta = cats.get(table)
            if meta is None:
                cat_b = orjson.dumps(CATEGORY_PREFIX + table)
                meta = cats[table] = (
                    container_name(table),
                    self._count(table),
                    b'","tenantId":"'
                    + tid_b
                    + b'","operationName":"Publish","category":'
                    + cat_b
                    + b',"_TimeReceivedBySvc":"',
                    b'","category":' + cat_b + b',"operationName":"Publish","properties":',
                )
            container, tc, mid_a, mid_b = meta
            if table == DRIFT_TABLE and drift_col and ticks >= drift_from:
                row[drift_col] = (ticks // 1000) % 1_000_003
            r = rnd()
            if r < late_rate:
                received = ticks + int((3600 + r / late_rate * 12 * 3600) * TICKS_PER_SECOND)
            else:
                received = ticks + int((60 + rnd() * 1500) * TICKS_PER_SECOND)  # 1-26 min
            exported = received + int(
                (88 + rnd() * 300) * TICKS_PER_SECOND
            )  # `time`: 2.5-32 min after the event
            sec, frac = divmod(received, TICKS_PER_SECOND)
            hr, rem = divmod(sec, 3600)
            p = hours.get(hr) or fmt.prefix(sec)[:14]
            rcv = f"{p}{minsec[rem]}.{frac:07d}Z" if rnd() >= no_z else f"{p}{minsec[rem]}.{frac:07d}"
            sec, frac = divmod(exported, TICKS_PER_SECOND)
            hr, rem = divmod(sec, 3600)
            p = hours.get(hr) or fmt.prefix(sec)[:14]
            exp = f"{p}{minsec[rem]}.{frac:07d}Z"
            # the envelope is assembled from pre-encoded pieces; only `properties` goes through orjson
            if r < 0.5:
                line = join(
                    (b'{"time":"', exp.encode(), mid_a, rcv.encode(), b'","properties":', dumps(row), END_A)
                )
            else:
                line = join(
                    (
                        b'{"Tenant":"DefaultTenant","_TimeReceivedBySvc":"',
                        rcv.encode(),
                        mid_b,
                        dumps(row),
                        b',"tenantId":"',
                        tid_b,
                        b'","time":"',
                        exp.encode(),
                        b'"}\r\n',
                    )
                )
            key = (exported // tick_len, container)
            bucket = local.get(key)
            if bucket is None:
                bucket = local[key] = []
            bucket.append(line)
            if exported >= late_limit:
                tc.late += 1
            if dup_rate and rnd() < dup_rate:
                local.setdefault((key[0] + 1 + int(rnd() * 3), container), []).append(line)
                tc.duplicates += 1
        for (tick, container), lines in local.items():
            pending[tick][(container, blob)].extend(lines)

    # -- flushing ---------------------------------------------------------------------------------
    def flush_until(self, tick_limit: int | None) -> None:
        """Append every pending tick below `tick_limit` (None = all) to the sinks, oldest tick first."""
        for tick in sorted(self.pending):
            if tick_limit is not None and tick >= tick_limit:
                break
            buckets = self.pending.pop(tick)
            for (container, blob), lines in sorted(buckets.items()):
                for sink in self.sinks:
                    sink.append(container, blob, lines)
                key = f"{container}/{blob}"
                self.manifest.blob_sizes[key] = self.manifest.blob_sizes.get(key, 0) + sum(map(len, lines))
            self._maybe_malformed(tick)

    def _pick_malformed_hours(self) -> dict[int, int]:
        if self.opt.malformed <= 0:
            return {}
        first = self.start_ticks // self.tick_len
        last = max(first + 1, self.end_ticks // self.tick_len)
        rng = random.Random(f"huntvault:{self.opt.seed}:malformed")
        picks: dict[int, int] = defaultdict(int)
        for _ in range(self.opt.malformed):
            picks[rng.randrange(first, last)] += 1
        return dict(picks)

    _BROKEN: tuple[Callable[[bytes], bytes], ...] = (
        lambda good: good[: len(good) // 2] + b"\r\n",  # truncated mid-record
        lambda good: b"this is not json\r\n",
        lambda good: (
            b'{"time":"2026-01-01T00:00:00Z","category":"AdvancedHunting-DeviceProcessEvents",'
            b'"properties":{"Timestamp":"not a time"}}\r\n'
        ),
    )

    def _maybe_malformed(self, tick: int) -> None:
        n = self._malformed_hours.pop(tick, 0)
        if not n:
            return
        hour = tick * self.tick_len // TICKS_PER_HOUR
        container = container_name(DRIFT_TABLE)
        blob = blob_path(self.tid, hour)
        key = f"{container}/{blob}"
        for i in range(n):
            kind = (len(self.manifest.malformed) + i) % len(self._BROKEN)
            good = b'{"time":"' + self.fmt.seven(tick * self.tick_len).encode() + b'","category":"x"}'
            line = self._BROKEN[kind](good)
            offset = self.manifest.blob_sizes.get(key, 0)
            carried = [sink.append_malformed(container, blob, line) for sink in self.sinks]
            if not any(carried):
                continue
            self.manifest.blob_sizes[key] = offset + len(line)
            self.manifest.malformed.append(
                {
                    "container": container,
                    "blob": blob,
                    "offset": offset,
                    "length": len(line),
                    "kind": ("truncated", "not-json", "bad-timestamp")[kind],
                }
            )

    # -- the whole window ---------------------------------------------------------------------------
    def run(self, progress: Callable[[int, int | None], None] | None = None) -> Manifest:
        """Write the whole window; `progress(hours done, hours)` after each emulated hour."""
        first_hour = self.start_ticks // TICKS_PER_HOUR
        last_hour = (self.end_ticks - 1) // TICKS_PER_HOUR
        for hour in range(first_hour, last_hour + 1):
            rows = self.hour_rows(hour)
            self.envelope_hour(hour, rows, self.start_ticks, self.end_ticks)
            self.flush_until(((hour + 1) * TICKS_PER_HOUR) // self.tick_len)
            if progress is not None:
                progress(hour - first_hour + 1, last_hour - first_hour + 1)
        self.flush_until(None)
        self._remaining_malformed()
        self.write_manifest()
        return self.manifest

    def _remaining_malformed(self) -> None:
        for tick in sorted(self._malformed_hours):
            self._maybe_malformed(tick)

    def write_manifest(self) -> None:
        if self.manifest_dir is not None:
            self.manifest.write(self.manifest_dir)

    def follow(
        self,
        rate: float,
        max_events: int | None = None,
        duration: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Manifest:
        """After `run()`: keep generating the hours after `end` and append about `rate` lines per second.

        Content is deterministic (hour by hour, as `run()` would with a later end); only the pacing uses
        the wall clock. Stops after `max_events` distinct events or `duration` seconds (None = never).
        The manifest is rewritten after every second's appends.
        """
        if rate <= 0:
            raise EmulatorError("--rate must be > 0")
        began = time.monotonic()
        written = 0
        hour = self.end_ticks // TICKS_PER_HOUR
        first_tick_start = self.end_ticks
        self.manifest.follow = {"rate": rate, "from": iso(from_ticks(first_tick_start)), "events": 0}
        for batch in self._follow_lines(hour):
            while batch:
                budget = max(1, int(rate))
                if max_events is not None:
                    budget = min(budget, max_events - written)
                if budget <= 0:
                    break
                chunk, batch = batch[:budget], batch[budget:]
                groups: dict[tuple[str, str], list[bytes]] = defaultdict(list)
                for table, container, blob, line, dup in chunk:
                    groups[(container, blob)].append(line)
                    tc = self._count(table)
                    if dup:
                        tc.duplicates += 1
                    else:
                        tc.events += 1
                        written += 1
                    tc.blobs.add(blob)
                for (container, blob), lines in groups.items():
                    for sink in self.sinks:
                        sink.append(container, blob, lines)
                    key = f"{container}/{blob}"
                    self.manifest.blob_sizes[key] = self.manifest.blob_sizes.get(key, 0) + sum(
                        map(len, lines)
                    )
                self.manifest.follow["events"] = written
                self.manifest.follow["until"] = iso(datetime.now(UTC))
                self.write_manifest()
                if (max_events is not None and written >= max_events) or (
                    duration is not None and time.monotonic() - began >= duration
                ):
                    return self.manifest
                sleep(1.0)
            if max_events is not None and written >= max_events:
                break
        return self.manifest

    def _follow_lines(self, hour: int) -> Iterator[list[tuple[str, str, str, bytes, bool]]]:
        """Lines of the hours from `hour` on, in export order, with (table, container, blob, line, is_dup)."""
        while True:
            rows = self.hour_rows(hour)
            saved, self.pending = self.pending, defaultdict(lambda: defaultdict(list))
            before = {name: (tc.events, tc.duplicates) for name, tc in self.counts.items()}
            # the window already holds the events before `end` (which need not be on the hour)
            self.envelope_hour(
                hour, rows, max(hour * TICKS_PER_HOUR, self.end_ticks), (hour + 1) * TICKS_PER_HOUR
            )
            for name, tc in self.counts.items():  # follow() counts lines as they are really written
                ev, dup = before.get(name, (0, 0))
                tc.events, tc.duplicates = ev, dup
            by_container = {container_name(n): n for n in self.counts}
            out: list[tuple[str, str, str, bytes, bool]] = []
            seen: set[bytes] = set()
            for tick in sorted(self.pending):
                for (container, blob), lines in sorted(self.pending[tick].items()):
                    table = by_container.get(container, container)
                    for line in lines:
                        dup = line in seen
                        seen.add(line)
                        out.append((table, container, blob, line, dup))
            self.pending = saved
            yield out
            hour += 1


def write_export(
    dest: str | os.PathLike[str] | None = None,
    *,
    azure_connection_string: str | None = None,
    eventhub_dir: str | os.PathLike[str] | None = None,
    manifest_dir: str | os.PathLike[str] | None = None,
    follow_rate: float | None = None,
    max_events: int | None = None,
    duration: float | None = None,
    overwrite: bool = False,
    eventhub_name: str = "",
    progress: Callable[[int, int | None], None] | None = None,
    **options: Any,
) -> Manifest:
    """Write an emulated export and return its manifest (also written as `manifest.json`).

    `dest`: folder target (the export layout as folders); `azure_connection_string`: append blobs;
    `eventhub_dir`: `{"records":[...]}` message files, one sub-folder per table's hub, or all in
    `eventhub_name` when given. At least one is needed. `options` are the fields of
    `ExportOptions` (days, devices, seed, end, dup_rate, ...). The manifest goes to `manifest_dir`, else
    `dest`, else the folder `<eventhub_dir>-manifest` beside the messages (a replay reader takes every
    `*.json` under `eventhub_dir` for a message), else the current folder. A folder that already holds an export is refused
    unless `overwrite`, which removes the previous export's containers and manifest (nothing else).
    `progress(hours done, hours)` is called after each emulated hour of the window.
    """
    opt = ExportOptions(**options)
    for folder in (dest, eventhub_dir, manifest_dir, _beside(Path(eventhub_dir)) if eventhub_dir else None):
        if folder is not None:
            _clear_previous(Path(folder), overwrite)
    targets: dict[str, tuple[Any, ...]] = {
        "folder": (dest,),
        "azure": (azure_connection_string or None, overwrite),
        "eventhub-files": (eventhub_dir, eventhub_name),
    }
    sinks: list[Sink] = [SINKS[kind](*args) for kind, args in targets.items() if args[0] is not None]
    if not sinks:
        raise EmulatorError(
            "give at least one target: --to DIR, --to-azure CONNECTION_STRING or --eventhub-format DIR"
        )
    where = manifest_dir or dest or (_beside(Path(eventhub_dir)) if eventhub_dir is not None else ".")
    Path(where).mkdir(parents=True, exist_ok=True)
    exporter = Exporter(opt, sinks, Path(where))
    try:
        manifest = exporter.run(progress)
        if follow_rate is not None:
            manifest = exporter.follow(follow_rate, max_events=max_events, duration=duration)
    finally:
        for sink in sinks:
            sink.close()
    return manifest


def _beside(folder: Path) -> Path:
    return folder.with_name(folder.name + "-manifest")


def _clear_previous(folder: Path, overwrite: bool) -> None:
    if not folder.is_dir():
        return
    old = [
        p
        for p in folder.iterdir()
        if p.name.startswith("insights-logs-advancedhunting-") or p.name == "manifest.json"
    ]
    if not old:
        return
    if not overwrite:
        raise EmulatorError(f"{folder} already holds an export; use --overwrite to replace it")
    for p in old:
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


__all__ = [
    "DRIFT_TABLE",
    "ExportOptions",
    "Exporter",
    "blob_path",
    "default_end",
    "parse_end",
    "write_export",
]
