"""Background device activity: per-device, per-hour generation of realistic Device* rows from pre-built templates.

Speed matters (the bench asks for 1M events in well under a minute), so each device keeps, per day,
a pool of running processes and for every (table, process) a ready row template holding all the
table's columns; an event is `template.copy()` plus a dozen varying fields.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from huntvault.emulator.activity_data import (
    CHILDREN,
    DEVICE_EVENT_KINDS,
    DLLS_WIN,
    DOC_EXT,
    LINUX,
    MAC,
    NET_PROCS,
    TABLE_WEIGHTS,
    WIN_SERVER,
    WIN_SYSTEM,
    WIN_USER,
    WORDS,
    WORK_CURVE,
    WORK_NORM,
    cert_fields,
    created_fields,
    image_fields,
    ri,
    word_for,
)
from huntvault.emulator.catalog import (
    BENIGN_REMOTES,
    SYSTEM_ACCOUNT,
    Proc,
    binary,
    user_process_account,
)
from huntvault.emulator.clock import (
    TICKS_PER_HOUR,
    TICKS_PER_SECOND,
    WINDOWS_EPOCH_TICKS,
    Formatter,
    from_ticks,
    to_ticks,
)
from huntvault.emulator.model import Device, User
from huntvault.schema import get_table

Row = dict[str, Any]
Event = tuple[str, int, Row]  # (table, event ticks, full properties row)


def blank(table: str) -> Row:
    """Every column of `table`, all null (real records carry every column, most of them null)."""
    schema = get_table(table)
    assert schema is not None, table
    return dict.fromkeys(sorted(c.name for c in schema.columns))


_BLANKS: dict[str, Row] = {}


def blank_cached(table: str) -> Row:
    row = _BLANKS.get(table)
    if row is None:
        row = _BLANKS[table] = blank(table)
    return row


@dataclass
class _DayPool:
    """The processes running on one device during one day, and their per-table row templates."""

    procs: list[Proc]
    by_name: dict[str, list[int]]
    bases: dict[tuple[str, int], Row]
    picks: dict[tuple[str, ...], list[int]]
    parents: list[int]
    logon: tuple[int, int] | None = None  # (ticks, LogonId) of the day's interactive logon session


class DeviceActivity:
    """Generates one device's background rows, hour by hour, deterministically from (seed, device, hour)."""

    def __init__(self, seed: int, device: Device, per_day: int, fmt: Formatter, report_base: int) -> None:
        self.seed = seed
        self.device = device
        self.per_day = per_day
        self.fmt = fmt
        self.kind = "windows" if device.is_windows else ("linux" if device.os_platform == "Linux" else "mac")
        weights = TABLE_WEIGHTS[self.kind]
        self.tables = [t for t, _ in weights]
        acc = 0
        self.cum: list[int] = []
        for _, w in weights:
            acc += w
            self.cum.append(acc)
        self.user: User | None = device.primary_user or (
            device.logged_on_users[0] if device.logged_on_users else None
        )
        self.report_base = report_base
        self._day: tuple[int, _DayPool] | None = None
        self.gens: dict[str, Callable[[random.Random, _DayPool, int], Row]] = {
            "DeviceNetworkEvents": self._network,
            "DeviceFileEvents": self._file,
            "DeviceProcessEvents": self._process,
            "DeviceRegistryEvents": self._registry,
            "DeviceImageLoadEvents": self._image_load,
            "DeviceEvents": self._device_event,
            "DeviceLogonEvents": self._logon,
            "DeviceFileCertificateInfo": self._certificate,
        }
        self.device_cols = {
            "DeviceId": device.id,
            "DeviceName": device.name,
            "MachineGroup": device.machine_group,
        }

    # -- the day's process pool ------------------------------------------------------------------
    def _pool(self, day: int) -> _DayPool:
        if self._day is not None and self._day[0] == day:
            return self._day[1]
        rng = random.Random(f"huntvault:{self.seed}:pool:{self.device.id}:{day}")
        procs: list[Proc] = []
        u = self.user
        uname = u.name if u else "admin"
        session_logon = 0x3E7A1 + int(rng.random() * (1 << 20))
        root_account = {
            "InitiatingProcessAccountDomain": self.device.short_name,
            "InitiatingProcessAccountName": "root",
            "InitiatingProcessAccountSid": None,
            "InitiatingProcessAccountUpn": None,
            "InitiatingProcessAccountObjectId": None,
        }
        logon: tuple[int, int] | None = None

        def add(name: str, cmd: str, system: bool, offset_s: float, parent: Proc | None) -> Proc:
            b = binary(name)
            if self.kind != "windows" and (system or u is None):
                acct = root_account
            else:
                acct = SYSTEM_ACCOUNT if system or u is None else user_process_account(u)
            p = Proc(
                b,
                rng.randrange(400, 30_000, 4),
                from_ticks(day * 24 * TICKS_PER_HOUR + int(offset_s * TICKS_PER_SECOND)),
                cmd.replace("{u}", uname),
                acct,
                integrity="System" if system else "Medium",
                elevation="TokenElevationTypeDefault" if system else "TokenElevationTypeLimited",
                logon_id=999 if system else session_logon,
                session_id=0 if system else 1,
                parent=parent,
            )
            procs.append(p)
            return p

        if self.kind == "windows":
            root = add("services.exe", WIN_SYSTEM[0][1], True, rng.uniform(0, 60), None)
            add("lsass.exe", r"C:\Windows\system32\lsass.exe", True, rng.uniform(0, 60), None)
            for name, cmd in WIN_SYSTEM[1:]:
                add(name, cmd, True, rng.uniform(60, 600), root)
            if self.device.device_type == "Workstation" and u is not None:
                explorer = add("explorer.exe", WIN_USER[0][1], False, rng.uniform(7 * 3600, 9 * 3600), None)
                logon = (to_ticks(explorer.created) - 25 * TICKS_PER_SECOND, session_logon)
                for name, cmd in WIN_USER[1:]:
                    add(name, cmd, False, rng.uniform(8 * 3600, 10 * 3600), explorer)
            else:
                for name, cmd in WIN_SERVER:
                    add(name, cmd, name != "cmd.exe", rng.uniform(0, 3600), root)
        else:
            table = LINUX if self.kind == "linux" else MAC
            root = add(table[0][0], table[0][1], True, 0, None)
            for name, cmd in table[1:]:
                add(name, cmd, name not in ("bash", "zsh"), rng.uniform(60, 3600), root)
        by_name: dict[str, list[int]] = {}
        for i, p in enumerate(procs):
            by_name.setdefault(p.binary.file_name, []).append(i)
        parents = [i for i, p in enumerate(procs) if p.binary.file_name in CHILDREN]
        pool = _DayPool(procs, by_name, {}, {}, parents, logon)
        self._day = (day, pool)
        return pool

    def _base(self, pool: _DayPool, table: str, idx: int) -> Row:
        key = (table, idx)
        row = pool.bases.get(key)
        if row is None:
            row = dict(blank_cached(table))
            proc = pool.procs[idx]
            init = proc.as_initiating()
            if table == "DeviceProcessEvents":
                acct = proc.account
                init.update(
                    {
                        "AccountDomain": acct["InitiatingProcessAccountDomain"],
                        "AccountName": acct["InitiatingProcessAccountName"],
                        "AccountSid": acct["InitiatingProcessAccountSid"],
                        "AccountUpn": acct["InitiatingProcessAccountUpn"],
                        "AccountObjectId": acct["InitiatingProcessAccountObjectId"],
                        "ActionType": "ProcessCreated",
                        "IsProcessRemoteSession": False,
                        "CreatedProcessSessionId": proc.session_id,
                        "LogonId": proc.logon_id,
                    }
                )
            for k, v in init.items():
                if k in row:
                    row[k] = v
            row.update(self.device_cols)
            if "AppGuardContainerId" in row and self.kind == "windows":
                row["AppGuardContainerId"] = ""  # the export writes "" for this missing value
            pool.bases[key] = row
        return row

    # -- the hour -------------------------------------------------------------------------------
    def hour(self, hour_index: int) -> list[Event]:
        """Rows for the hour starting at `hour_index` hours after the Unix epoch (ticks inside it)."""
        rng = random.Random(f"huntvault:{self.seed}:hour:{self.device.id}:{hour_index}")
        day, hod = divmod(hour_index, 24)
        pool = self._pool(day)
        factor = (WORK_CURVE[hod] * WORK_NORM) if self.device.device_type == "Workstation" else 1.0
        n = int(self.per_day / 24 * factor * rng.uniform(0.85, 1.15) + 0.5)
        start = hour_index * TICKS_PER_HOUR
        rnd = rng.random
        offsets = sorted([int(rnd() * TICKS_PER_HOUR) for _ in range(n)])
        tables = rng.choices(self.tables, cum_weights=self.cum, k=n)
        out: list[Event] = []
        gens = self.gens
        rid = self.report_base + hour_index * 20_000
        prefix = self.fmt.prefix(hour_index * 3600)[:14]  # `YYYY-MM-DDTHH:` of this hour
        minsec = self.fmt.minsec
        for i in range(n):
            offset = offsets[i]
            if rnd() < 0.12:
                offset -= offset % 10_000  # millisecond precision: fewer fractional digits on the wire
            ticks = start + offset
            table = tables[i]
            row = gens[table](rng, pool, ticks)
            rem, frac = divmod(offset, TICKS_PER_SECOND)
            # Defender drops trailing zeros of the fraction (and the fraction when it is zero)
            ts = f"{prefix}{minsec[rem]}.{frac:07d}".rstrip("0") + "Z" if frac else f"{prefix}{minsec[rem]}Z"
            row["Timestamp"] = ts
            if table == "DeviceProcessEvents":
                row["ProcessCreationTime"] = ts
            row["ReportId"] = rid + i
            out.append((table, ticks, row))
        out.extend(self._heartbeats(rng, hour_index, rid + n))
        if pool.logon is not None and start <= pool.logon[0] < start + TICKS_PER_HOUR:
            out.append(self._session_logon(pool.logon[0], pool.logon[1], rid + n + 3))
        return out

    def _session_logon(self, ticks: int, logon_id: int, rid: int) -> Event:
        """The interactive logon that starts the day's user session (its LogonId is on the user's processes)."""
        u = self.user
        assert u is not None
        lsass = binary("lsass.exe")
        row = dict(blank_cached("DeviceLogonEvents"))
        row.update(self.device_cols)
        row.update(
            {
                "Timestamp": self.fmt(ticks),
                "ReportId": rid,
                "ActionType": "LogonSuccess",
                "LogonType": "Interactive",
                "AccountDomain": u.domain.lower(),
                "AccountName": u.name,
                "AccountSid": u.sid,
                "Protocol": "Negotiate",
                "IsLocalAdmin": False,
                "LogonId": logon_id,
                "RemoteIP": "",
                "RemoteIPType": "",
                "AppGuardContainerId": "",
                "InitiatingProcessFileName": lsass.file_name,
                "InitiatingProcessFolderPath": lsass.path.lower(),
                "InitiatingProcessId": 712,
                "InitiatingProcessSHA1": lsass.sha1,
                "InitiatingProcessSHA256": lsass.sha256,
                "InitiatingProcessMD5": lsass.md5,
                "InitiatingProcessAccountDomain": "nt authority",
                "InitiatingProcessAccountName": "system",
                "InitiatingProcessAccountSid": "S-1-5-18",
                "InitiatingProcessIntegrityLevel": "System",
                "InitiatingProcessTokenElevation": "TokenElevationTypeDefault",
                "InitiatingProcessCommandLine": "lsass.exe",
                "AdditionalFields": '{"IsLocalLogon":true}',
            }
        )
        return ("DeviceLogonEvents", ticks, row)

    def _heartbeats(self, rng: random.Random, hour_index: int, rid: int) -> list[Event]:
        """DeviceInfo (a full report every hour, a partial one now and then) and DeviceNetworkInfo."""
        d = self.device
        fmt = self.fmt
        t = hour_index * TICKS_PER_HOUR + int(rng.random() * (TICKS_PER_HOUR))
        users = [{"UserName": u.name, "DomainName": u.domain, "Sid": u.sid} for u in d.logged_on_users]
        info = dict(blank_cached("DeviceInfo"))
        info.update(self.device_cols)
        info.update(
            {
                "Timestamp": fmt(t),
                "ClientVersion": d.client_version,
                "PublicIP": d.public_ip,
                "OSArchitecture": d.architecture,
                "OSPlatform": d.os_platform,
                "OSBuild": d.os_build,
                "IsAzureADJoined": d.is_aad_joined,
                "JoinType": d.join_type,
                "AadDeviceId": d.aad_device_id,
                "LoggedOnUsers": orjson.dumps(users).decode(),
                "OSVersion": d.os_version,
                "ReportId": WINDOWS_EPOCH_TICKS
                + t,  # 18 digits, beyond float64 precision, as in real DeviceInfo
                "OnboardingStatus": "Onboarded",
                "DeviceCategory": "Endpoint",
                "DeviceType": "Workstation" if d.device_type == "Workstation" else "Server",
                "Model": d.model,
                "Vendor": d.vendor,
                "OSDistribution": d.os_distribution or None,
                "OSVersionInfo": d.os_version,
                "IsInternetFacing": d.is_internet_facing,
                "SensorHealthState": d.health_status,
                "IsExcluded": False,
                "ExposureLevel": d.exposure_level,
                "AssetValue": d.device_value,
                "DeviceManualTags": orjson.dumps(list(d.tags)).decode() if d.tags else "",
                "DeviceDynamicTags": "",
                "ConnectivityType": "Streamlined",
                "AdditionalFields": orjson.dumps({"AzureResourceId": None, "DeviceSubtype": None}).decode()
                if rng.random() < 0.5
                else "",
                "MergedDeviceIds": "",
                "MergedToDeviceId": "",
            }
        )
        out: list[Event] = [("DeviceInfo", t, info)]
        if hour_index % 6 == 3:
            t2 = hour_index * TICKS_PER_HOUR + int(rng.random() * (TICKS_PER_HOUR))
            partial = dict(blank_cached("DeviceInfo"))
            partial.update(self.device_cols)
            partial.update(
                {
                    "Timestamp": fmt(t2),
                    "LoggedOnUsers": orjson.dumps(users).decode(),
                    "ReportId": WINDOWS_EPOCH_TICKS + t2,
                    "OnboardingStatus": "Onboarded",
                    "SensorHealthState": d.health_status,
                }
            )
            out.append(("DeviceInfo", t2, partial))
        a = d.adapter
        t3 = hour_index * TICKS_PER_HOUR + int(rng.random() * (TICKS_PER_HOUR))
        net = dict(blank_cached("DeviceNetworkInfo"))
        net.update(self.device_cols)
        net.update(
            {
                "Timestamp": fmt(t3),
                "NetworkAdapterName": a.name,
                "MacAddress": a.mac,
                "NetworkAdapterType": a.adapter_type,
                "NetworkAdapterStatus": "Up",
                "TunnelType": "None",
                "ConnectedNetworks": orjson.dumps(
                    [
                        {
                            "Name": a.network_name,
                            "Description": a.network_name,
                            "IsConnectedToInternet": True,
                            "Category": "Domain",
                        }
                    ]
                ).decode(),
                "DnsAddresses": orjson.dumps(list(a.dns)).decode(),
                "IPv4Dhcp": a.gateway.rsplit(".", 1)[0] + ".2",
                "IPv6Dhcp": "",
                "DefaultGateways": orjson.dumps([a.gateway]).decode(),
                "IPAddresses": orjson.dumps(
                    [{"IPAddress": a.ip, "SubnetPrefix": 24, "AddressType": "Private"}]
                ).decode(),
                "ReportId": rid + 1,
                "NetworkAdapterVendor": a.vendor,
            }
        )
        out.append(("DeviceNetworkInfo", t3, net))
        return out

    # -- per-table generators ---------------------------------------------------------------------
    def _pick(self, rng: random.Random, pool: _DayPool, names: tuple[str, ...], ticks: int) -> int:
        """A running process among `names` (any if none runs yet)."""
        cands = pool.picks.get(names)
        if cands is None:
            cands = [i for n in names for i in pool.by_name.get(n, ())] or list(range(len(pool.procs)))
            pool.picks[names] = cands
        return cands[int(rng.random() * len(cands))]

    def _network(self, rng: random.Random, pool: _DayPool, ticks: int) -> Row:
        names = NET_PROCS[self.kind]
        idx = self._pick(rng, pool, names, ticks)
        row = dict(self._base(pool, "DeviceNetworkEvents", idx))
        url, ip, port = BENIGN_REMOTES[int(rng.random() * len(BENIGN_REMOTES))]
        r = rng.random()
        d = self.device
        if r < 0.08 and d.device_type == "Server":
            row.update(
                {
                    "ActionType": "InboundConnectionAccepted",
                    "RemoteIP": f"10.20.0.{ri(rng, 10, 250)}",
                    "RemotePort": ri(rng, 49_152, 65_000),
                    "LocalIP": d.private_ip,
                    "LocalPort": 443 if self.kind != "windows" else rng.choice((443, 1433, 445)),
                    "Protocol": "Tcp",
                    "LocalIPType": "Private",
                    "RemoteIPType": "Private",
                    "RemoteUrl": "",
                }
            )
            return row
        action = (
            "ConnectionSuccess"
            if r < 0.86
            else ("ConnectionFailed" if r < 0.93 else "DnsConnectionInspected")
        )
        row.update(
            {
                "ActionType": action,
                "RemoteIP": ip,
                "RemotePort": port,
                "RemoteUrl": url if rng.random() < 0.8 else "",
                "LocalIP": d.private_ip,
                "LocalPort": 49_152 + int(rng.random() * 15_000),
                "Protocol": "Udp" if port == 123 else "Tcp",
                "LocalIPType": "Private",
                "RemoteIPType": "Public",
            }
        )
        if action == "DnsConnectionInspected":
            row["AdditionalFields"] = orjson.dumps({"query": url, "rcode": 0, "qtype": 1}).decode()
        return row

    def _file(self, rng: random.Random, pool: _DayPool, ticks: int) -> Row:
        uname = self.user.name if self.user else "admin"
        n = 1 + int(rng.random() * 9999)
        word = WORDS[n % len(WORDS)]
        ext = DOC_EXT[n % len(DOC_EXT)]
        sha1 = f"{rng.getrandbits(160):040x}"
        if self.kind == "windows":
            r = rng.random()
            if self.device.device_type == "Workstation" and r < 0.35:
                idx = self._pick(rng, pool, ("OneDrive.exe",), ticks)
                folder = f"C:\\Users\\{uname}\\OneDrive - Contoso\\Documents"
                name = f"{word}_{n}{ext}"
                action = "FileModified" if rng.random() < 0.7 else "FileCreated"
            elif self.device.device_type == "Workstation" and r < 0.5:
                idx = self._pick(rng, pool, ("msedge.exe", "chrome.exe"), ticks)
                folder = f"C:\\Users\\{uname}\\Downloads"
                name = f"{word}_{n}{ext}"
                action = "FileCreated"
            elif self.device.device_type == "Workstation" and r < 0.6:
                idx = self._pick(rng, pool, ("OUTLOOK.EXE",), ticks)
                folder = f"C:\\Users\\{uname}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\Q7WJ0T2M"
                name = f"{word}_{n}{ext}"
                action = "FileCreated"
            elif r < 0.8:
                idx = self._pick(rng, pool, ("svchost.exe",), ticks)
                folder = r"C:\Windows\Prefetch"
                name = (
                    f"{pool.procs[int(rng.random() * len(pool.procs))].binary.file_name.upper()}-{n:08X}.pf"
                )
                action = "FileModified"
            else:
                idx = self._pick(rng, pool, ("MsMpEng.exe", "SearchIndexer.exe", "sqlservr.exe"), ticks)
                folder = r"C:\ProgramData\Microsoft\Windows Defender\Scans\History\CacheManager"
                name = f"{n:08X}-0.bin"
                action = rng.choice(("FileCreated", "FileModified", "FileDeleted"))
            path = f"{folder}\\{name}"
        else:
            idx = self._pick(
                rng, pool, ("nginx", "python3.10", "dockerd", "mdworker_shared", "Safari", "zsh"), ticks
            )
            pname = pool.procs[idx].binary.file_name
            if pname == "nginx":
                folder, name, action = "/var/log/nginx", "access.log", "FileModified"
            elif pname == "dockerd":
                folder, name, action = (
                    f"/var/lib/docker/overlay2/{sha1[:24]}/diff/tmp",
                    f"build-{n}.tar",
                    "FileCreated",
                )
            elif self.kind == "mac":
                folder, name, action = (
                    f"/Users/{uname}/Library/Caches/com.apple.Safari",
                    f"Cache-{n}.db",
                    "FileModified",
                )
            else:
                folder, name = "/tmp", f"worker-{n}.tmp"
                action = rng.choice(("FileCreated", "FileDeleted"))
            path = f"{folder}/{name}"
        row = dict(self._base(pool, "DeviceFileEvents", idx))
        row.update(
            {
                "ActionType": action,
                "FileName": name,
                "FolderPath": path,
                "SHA1": sha1,
                "SHA256": None,
                "FileSize": ri(rng, 1_000, 5_000_000) if action != "FileDeleted" else None,
            }
        )
        if action == "FileCreated" and self.kind == "windows" and "Downloads" in folder:
            row["FileOriginUrl"] = (
                f"https://contoso.sharepoint.com/sites/team{n % 40}/Shared%20Documents/{name}"
            )
            row["FileOriginReferrerUrl"] = "https://contoso.sharepoint.com/"
        return row

    def _process(self, rng: random.Random, pool: _DayPool, ticks: int) -> Row:
        parents = pool.parents
        idx = parents[int(rng.random() * len(parents))]
        parent = pool.procs[idx]
        options = CHILDREN[parent.binary.file_name]
        child_name, cmd = options[int(rng.random() * len(options))]
        b = binary(child_name)
        row = dict(self._base(pool, "DeviceProcessEvents", idx))
        row.update(created_fields(b))
        uname = self.user.name if self.user else "admin"
        n = 1 + int(rng.random() * 9999)
        row["ProcessCommandLine"] = cmd.format(u=uname, n=n) if "{" in cmd else cmd
        row["ProcessId"] = 400 + 4 * int(rng.random() * 15_000)
        row["ProcessIntegrityLevel"] = parent.integrity
        row["ProcessTokenElevation"] = parent.elevation
        return row

    def _registry(self, rng: random.Random, pool: _DayPool, ticks: int) -> Row:
        idx = self._pick(
            rng, pool, ("svchost.exe", "explorer.exe", "msedge.exe", "OneDrive.exe", "MsSense.exe"), ticks
        )
        pname = pool.procs[idx].binary.file_name
        sid = self.user.sid if self.user else "S-1-5-18"
        n = ri(rng, 1, 9999)
        if pname == "explorer.exe":
            key = f"HKEY_CURRENT_USER\\{sid}\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RecentDocs\\.docx"
            vname, vtype, data = str(n % 20), "Binary", f"{word_for(n)}_{n}.docx"
        elif pname == "msedge.exe":
            key = f"HKEY_CURRENT_USER\\{sid}\\SOFTWARE\\Microsoft\\Edge\\BLBeacon"
            vname, vtype, data = "version", "String", "130.0.2849.68"
        elif pname == "OneDrive.exe":
            key = f"HKEY_CURRENT_USER\\{sid}\\SOFTWARE\\Microsoft\\OneDrive\\Accounts\\Business1"
            vname, vtype, data = "LastSignInTime", "Dword", str(1_700_000_000 + n)
        elif pname == "MsSense.exe":
            key = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows Advanced Threat Protection\\Status"
            vname, vtype, data = "LastConnected", "Qword", str(ticks + WINDOWS_EPOCH_TICKS)
        else:
            exe = pool.procs[int(rng.random() * len(pool.procs))].binary
            key = f"HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\bam\\State\\UserSettings\\{sid}"
            vname, vtype, data = f"\\Device\\HarddiskVolume3{exe.path[2:]}", "Binary", ""
        row = dict(self._base(pool, "DeviceRegistryEvents", idx))
        row.update(
            {
                "ActionType": "RegistryValueSet" if rng.random() < 0.9 else "RegistryKeyCreated",
                "RegistryKey": key,
                "RegistryValueName": vname,
                "RegistryValueType": vtype,
                "RegistryValueData": data,
            }
        )
        return row

    def _image_load(self, rng: random.Random, pool: _DayPool, ticks: int) -> Row:
        idx = int(rng.random() * len(pool.procs))
        dll = binary(DLLS_WIN[int(rng.random() * len(DLLS_WIN))])
        row = dict(self._base(pool, "DeviceImageLoadEvents", idx))
        row.update(image_fields(dll))
        return row

    def _device_event(self, rng: random.Random, pool: _DayPool, ticks: int) -> Row:
        kind = DEVICE_EVENT_KINDS[int(rng.random() * len(DEVICE_EVENT_KINDS))]
        n = ri(rng, 1, 9999)
        extra: Row
        if kind == "DpapiAccessed":
            idx = self._pick(rng, pool, ("msedge.exe", "chrome.exe"), ticks)
            extra = {
                "AdditionalFields": orjson.dumps(
                    {
                        "DataDescription": "Microsoft Edge",
                        "OperationType": "SPLCryptUnprotectData",
                        "ProtectedBlobsCount": 1,
                    }
                ).decode()
            }
        elif kind == "NamedPipeEvent":
            idx = self._pick(rng, pool, ("svchost.exe", "services.exe"), ticks)
            pipe = (
                "\\Device\\NamedPipe\\srvsvc",
                "\\Device\\NamedPipe\\lsarpc",
                "\\Device\\NamedPipe\\wkssvc",
            )[n % 3]
            extra = {
                "AdditionalFields": orjson.dumps(
                    {"PipeName": pipe, "FileOperation": "File opened", "NamedPipeEnd": "Client"}
                ).decode()
            }
        elif kind == "BrowserLaunchedToOpenUrl":
            idx = self._pick(rng, pool, ("OUTLOOK.EXE", "Teams.exe", "explorer.exe"), ticks)
            extra = {"RemoteUrl": f"https://contoso.sharepoint.com/sites/team{n % 40}/SitePages/Home.aspx"}
        elif kind == "ShellLinkCreateFileEvent":
            idx = self._pick(rng, pool, ("explorer.exe",), ticks)
            uname = self.user.name if self.user else "admin"
            extra = {
                "FileName": f"{word_for(n)}_{n}.lnk",
                "FolderPath": f"C:\\Users\\{uname}\\AppData\\Roaming\\Microsoft\\Windows\\Recent\\{word_for(n)}_{n}.lnk",
                "AdditionalFields": orjson.dumps(
                    {"ShellLinkRelativePath": f"..\\Documents\\{word_for(n)}_{n}.docx"}
                ).decode(),
            }
        elif kind == "GetClipboardData":
            idx = self._pick(rng, pool, ("Teams.exe", "OUTLOOK.EXE", "explorer.exe"), ticks)
            extra = {"AdditionalFields": orjson.dumps({"ClipboardFormat": "CF_UNICODETEXT"}).decode()}
        else:
            idx = self._pick(rng, pool, ("MsMpEng.exe",), ticks)
            extra = {
                "AdditionalFields": orjson.dumps(
                    {"ScanTypeIndex": "Quick", "DurationSeconds": 60 + n % 500}
                ).decode()
            }
        row = dict(self._base(pool, "DeviceEvents", idx))
        row["ActionType"] = kind
        row.update(extra)
        return row

    def _logon(self, rng: random.Random, pool: _DayPool, ticks: int) -> Row:
        d = self.device
        # logons are reported by lsass.exe on Windows, by sshd elsewhere
        idx = self._pick(rng, pool, ("lsass.exe", "sshd", "launchd"), ticks)
        row = dict(self._base(pool, "DeviceLogonEvents", idx))
        u = self.user
        r = rng.random()
        if self.kind != "windows":
            row.update(
                {
                    "ActionType": "LogonSuccess" if r < 0.9 else "LogonFailed",
                    "LogonType": "Network",
                    "AccountDomain": d.short_name,
                    "AccountName": "deploy" if r < 0.5 else "root",
                    "Protocol": "ssh",
                    "RemoteIP": f"10.20.0.{ri(rng, 10, 250)}",
                    "RemoteIPType": "Private",
                    "RemotePort": ri(rng, 40_000, 65_000),
                    "IsLocalAdmin": r >= 0.5,
                    "LogonId": int(rng.random() * (1 << 20)),
                }
            )
            return row
        if d.device_type == "Workstation" and u is not None and r < 0.6:
            kind = (
                ("Interactive", "Unlock", "CachedInteractive", "RemoteInteractive")[int(rng.random() * 4)]
                if r < 0.5
                else "Unlock"
            )
            row.update(
                {
                    "ActionType": "LogonSuccess",
                    "LogonType": kind,
                    "AccountDomain": u.domain.lower(),
                    "AccountName": u.name,
                    "AccountSid": u.sid,
                    "Protocol": "Negotiate",
                    "IsLocalAdmin": False,
                    "LogonId": 0x3E7A1 + int(rng.random() * (1 << 16)),
                    "RemoteIP": "",
                    "RemoteIPType": "",
                    "AdditionalFields": orjson.dumps({"IsLocalLogon": True}).decode(),
                }
            )
        elif r < 0.95:
            row.update(
                {
                    "ActionType": "LogonSuccess",
                    "LogonType": "Network",
                    "AccountDomain": "contoso",
                    "AccountName": ("svc-backup", "svc-sql", f"{d.short_name}$")[int(rng.random() * 3)],
                    "Protocol": "Kerberos",
                    "RemoteIP": f"10.10.0.{ri(rng, 10, 60)}",
                    "RemoteIPType": "Private",
                    "RemotePort": 0,
                    "IsLocalAdmin": False,
                    "LogonId": int(rng.random() * (1 << 24)),
                    "AdditionalFields": orjson.dumps({"IsLocalLogon": False}).decode(),
                }
            )
        else:
            name = u.name if u is not None else "administrator"
            row.update(
                {
                    "ActionType": "LogonFailed",
                    "LogonType": "Interactive",
                    "AccountDomain": "contoso",
                    "AccountName": name,
                    "Protocol": "Negotiate",
                    "FailureReason": "WrongPassword",
                    "InitiatingProcessId": 0,
                    "LogonId": None,
                    "RemoteIP": "",
                    "IsLocalAdmin": None,
                }
            )
        return row

    def _certificate(self, rng: random.Random, pool: _DayPool, ticks: int) -> Row:
        b = pool.procs[int(rng.random() * len(pool.procs))].binary
        row = dict(blank_cached("DeviceFileCertificateInfo"))
        row.update(self.device_cols)
        row.update(cert_fields(b))
        return row


__all__ = ["DeviceActivity", "Event", "Row", "blank", "blank_cached"]
