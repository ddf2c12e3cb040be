"""The deterministic tenant model: `build_tenant(seed, devices, end, days)` -> devices, users, stories, alerts.

The model
---------
A `Tenant` is everything about the emulated Defender tenant that is not per-event noise:

* `devices` (`Device`): ~80% Windows (Windows 10/11 workstations, Windows Server 2019/2022), the rest
  Linux servers and macOS laptops. Each has a 40-hex machine id, a lower-case FQDN, OS platform,
  version and build, architecture, private/public IP and MAC, AAD device id, machine group (rbac
  group), health status, risk score, exposure level, device value, first/last seen, logged-on users,
  tags and sensor version: the fields of DeviceInfo and of the REST machine entity (`Device.to_api()`).
* `users` (`User`): one primary user per workstation plus admins and service accounts, with
  sAMAccountName, NetBIOS domain, SID, UPN and Entra object id.
* `stories` (`Story`): planted attacks (see `stories.STORIES`), each with its device, user, time
  window, the hunting rows it plants (`Story.events`) and the corpus queries that find it.
* `alerts` (`Alert`): the alerts the stories raised. An alert has a REST-style id
  (`da<ticks>_<n>`), incident id, title, severity, category, detection source, MITRE techniques,
  evidence (defender-api.md §5.1) and a deterministic status timeline (`Alert.timeline`:
  New -> InProgress (assigned) -> maybe Resolved with classification/determination). Timeline steps
  may lie after `end`, so an API emulator serving "now" sees `lastUpdateTime` move over time
  (`Alert.to_api(as_of)`). The export writes the same alerts as AlertInfo / AlertEvidence / legacy
  AlertEvents rows, so API alerts join archived events on `AlertId`.

Determinism: everything derives from `random.Random` seeded with strings built from `seed`, so the
same (seed, devices, end, days) always gives the same tenant, independent of PYTHONHASHSEED.
Devices 0.. are laid out so that even a small tenant (2-5 devices) hosts every story: device 0 is a
Windows workstation (the intrusion's patient zero), device 1 a Windows server, then Linux and macOS.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from huntvault.emulator.catalog import (
    DEPARTMENTS,
    DOMAIN_DNS,
    DOMAIN_NETBIOS,
    FIRST_NAMES,
    LAST_NAMES,
    TITLES,
)
from huntvault.emulator.model import Alert, Device, NetworkAdapter, Story, User
from huntvault.emulator.stories import STORIES
from huntvault.emulator.storykit import StoryContext, new_uuid
from huntvault.errors import EmulatorError

#: (os_platform, os_version, os_build, device_type, weight)
_PLATFORMS: tuple[tuple[str, str, int | None, str, str, float], ...] = (
    ("Windows10", "22H2", 19045, "", "Workstation", 0.40),
    ("Windows11", "23H2", 22631, "", "Workstation", 0.30),
    ("WindowsServer2019", "1809", 17763, "", "Server", 0.06),
    ("WindowsServer2022", "21H2", 20348, "", "Server", 0.06),
    ("Linux", "5.15", None, "Ubuntu", "Server", 0.10),
    ("Linux", "8.9", None, "RedHat", "Server", 0.02),
    ("macOS", "14.6", None, "", "Workstation", 0.06),
)
_MODELS = {
    "Workstation": (
        ("Latitude 7440", "Dell Inc."),
        ("ThinkPad T14 Gen 4", "LENOVO"),
        ("EliteBook 840 G10", "HP"),
        ("Surface Laptop 5", "Microsoft Corporation"),
    ),
    "Server": (
        ("Virtual Machine", "Microsoft Corporation"),
        ("VMware7,1", "VMware, Inc."),
        ("PowerEdge R650", "Dell Inc."),
    ),
    "mac": (("MacBookPro18,3", "Apple Inc."), ("MacBookAir10,1", "Apple Inc.")),
}


@dataclass(frozen=True)
class Tenant:
    """The emulated tenant (see the module docstring)."""

    tenant_id: str
    seed: int
    start: datetime
    end: datetime
    domain: str
    devices: tuple[Device, ...]
    users: tuple[User, ...]
    stories: tuple[Story, ...]
    alerts: tuple[Alert, ...]

    def device(self, key: str) -> Device | None:
        """A device by machine id or by (short or full, case-insensitive) computer name."""
        low = key.lower()
        for d in self.devices:
            if d.id == low or d.name == low or d.short_name == low:
                return d
        return None

    def alert(self, alert_id: str) -> Alert | None:
        for a in self.alerts:
            if a.id == alert_id:
                return a
        return None


def _rng(seed: int, *parts: object) -> random.Random:
    return random.Random(":".join(["huntvault", str(seed), *map(str, parts)]))


def _platform_for(i: int, rng: random.Random) -> tuple[str, str, int | None, str, str, float]:
    fixed = {0: 0, 1: 3, 2: 4, 3: 6, 4: 1, 5: 2}
    if i in fixed:
        return _PLATFORMS[fixed[i]]
    return rng.choices(_PLATFORMS, weights=[p[5] for p in _PLATFORMS])[0]


def _sid(domain_sid: str, rid: int) -> str:
    return f"{domain_sid}-{rid}"


def _make_users(seed: int, count: int) -> tuple[list[User], list[User]]:
    """(people, admins+service accounts); people[i] is the primary user of workstation i."""
    rng = _rng(seed, "users")
    domain_sid = f"S-1-5-21-{rng.randint(10**9, 4 * 10**9)}-{rng.randint(10**9, 4 * 10**9)}-{rng.randint(10**8, 10**9)}"
    people: list[User] = []
    taken: set[str] = set()
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = (first[0] + last).lower()
        k = 2
        while name in taken:
            name = f"{(first[0] + last).lower()}{k}"
            k += 1
        taken.add(name)
        people.append(
            User(
                name,
                DOMAIN_NETBIOS,
                _sid(domain_sid, 1105 + i),
                f"{name}@{DOMAIN_DNS}",
                new_uuid(rng),
                f"{first} {last}",
                rng.choice(DEPARTMENTS),
                rng.choice(TITLES),
            )
        )
    admins = [
        User(
            "adm-" + people[0].name if people else "adm-ops",
            DOMAIN_NETBIOS,
            _sid(domain_sid, 1001),
            f"adm-{people[0].name if people else 'ops'}@{DOMAIN_DNS}",
            new_uuid(rng),
            "Admin account",
            "IT",
            "Administrator",
            is_admin=True,
        ),
        User(
            "svc-backup",
            DOMAIN_NETBIOS,
            _sid(domain_sid, 1002),
            f"svc-backup@{DOMAIN_DNS}",
            new_uuid(rng),
            "Backup service",
            "IT",
            "Service account",
            is_service=True,
        ),
        User(
            "svc-sql",
            DOMAIN_NETBIOS,
            _sid(domain_sid, 1003),
            f"svc-sql@{DOMAIN_DNS}",
            new_uuid(rng),
            "SQL service",
            "IT",
            "Service account",
            is_service=True,
        ),
    ]
    return people, admins


def _make_devices(
    seed: int, count: int, start: datetime, end: datetime, people: list[User], admins: list[User]
) -> list[Device]:
    rng = _rng(seed, "devices")
    devices: list[Device] = []
    counters: dict[str, int] = {}
    for i in range(count):
        platform, version, build, distro, dtype, _ = _platform_for(i, rng)
        windows = platform.startswith("Windows")
        prefix = {"Workstation": "wks", "Server": "srv"}[dtype]
        if platform == "Linux":
            prefix = "lnx"
        elif platform == "macOS":
            prefix = "mac"
        counters[prefix] = counters.get(prefix, 0) + 1
        host = f"{prefix}-{counters[prefix]:04d}"
        name = f"{host}.{DOMAIN_DNS}" if windows else host
        subnet = {"wks": 20, "srv": 10, "lnx": 30, "mac": 40}[prefix]
        private_ip = f"10.{subnet}.{(i // 250) % 250}.{10 + i % 240}"
        public_ip = f"{rng.choice(('198.51.100.', '203.0.113.'))}{rng.randint(2, 250)}"
        mac = "-".join(f"{rng.randrange(256):02X}" for _ in range(6))
        adapter = NetworkAdapter(
            name="Ethernet" if dtype == "Server" else rng.choice(("Ethernet", "Wi-Fi")),
            mac=mac,
            ip=private_ip,
            adapter_type="Ethernet" if dtype == "Server" else "Wireless80211",
            vendor="Intel Corporation",
            gateway=f"10.{subnet}.0.1",
            dns=("10.0.0.10", "10.0.0.11"),
            network_name=DOMAIN_DNS,
        )
        model_key = "mac" if platform == "macOS" else dtype
        model, vendor = rng.choice(_MODELS[model_key])
        first_seen = start - timedelta(days=rng.randint(30, 400), seconds=rng.randint(0, 86_399))
        primary = people[i] if dtype == "Workstation" and i < len(people) else None
        logged = (primary,) if primary else ((admins[0],) if windows else ())
        if platform.startswith("WindowsServer"):
            group, gid = "Servers", 12
        elif platform == "Linux":
            group, gid = "Linux servers", 14
        elif platform == "macOS":
            group, gid = "UnassignedGroup", 0
        else:
            group, gid = "Workstations", 11
        tags = ("Server", "Production") if dtype == "Server" else (("VIP",) if rng.random() < 0.05 else ())
        internet = dtype == "Server" and (i == 1 or rng.random() < 0.15)
        devices.append(
            Device(
                id=f"{rng.getrandbits(160):040x}",
                name=name,
                os_platform=platform,
                os_version=version,
                os_build=build,
                os_distribution=distro,
                architecture="64-bit",
                device_type=dtype,
                private_ip=private_ip,
                public_ip=public_ip,
                adapter=adapter,
                aad_device_id=new_uuid(rng) if windows or platform == "macOS" else None,
                is_aad_joined=windows and dtype == "Workstation",
                join_type=("Hybrid Azure AD Join" if dtype == "Workstation" else "Domain Joined")
                if windows
                else "",
                machine_group=group,
                rbac_group_id=gid,
                health_status="Active" if rng.random() < 0.97 else "ImpairedCommunication",
                risk_score="None",
                exposure_level=rng.choice(("Low", "Low", "Medium", "Medium", "High")),
                device_value="High" if dtype == "Server" else "Normal",
                first_seen=first_seen,
                last_seen=end - timedelta(seconds=rng.randint(60, 3_000)),
                client_version="10.8760.19041.4355"
                if windows
                else ("101.24092.0002" if platform == "Linux" else "101.24092.0004"),
                model=model,
                vendor=vendor,
                primary_user=primary,
                logged_on_users=logged,
                tags=tags,
                is_internet_facing=internet,
                managed_by="Intune" if dtype == "Workstation" else "MEM",
            )
        )
    return devices


def _pick(devices: list[Device], kind: str, used: set[str]) -> Device | None:
    def ok(d: Device) -> bool:
        if kind == "workstation":
            return d.is_windows and d.device_type == "Workstation"
        if kind == "server":
            return d.is_windows and d.device_type == "Server"
        if kind == "internet_server":
            return d.is_windows and d.device_type == "Server" and d.is_internet_facing
        return False

    fresh = [d for d in devices if ok(d) and d.id not in used]
    any_ok = [d for d in devices if ok(d)]
    if fresh:
        return fresh[0]
    if any_ok:
        return any_ok[0]
    windows = [d for d in devices if d.is_windows]
    return windows[-1] if windows else None


def build_tenant(seed: int, devices: int, end: datetime, days: float) -> Tenant:
    """The deterministic tenant for these parameters (see the module docstring)."""
    if devices < 1:
        raise EmulatorError("devices must be at least 1")
    if days <= 0:
        raise EmulatorError("days must be > 0")
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    end = end.astimezone(UTC)
    start = end - timedelta(days=days)
    rng = _rng(seed, "tenant")
    tenant_id = new_uuid(rng)
    people, admins = _make_users(seed, devices + 5)
    devs = _make_devices(seed, devices, start, end, people, admins)

    # where and when the stories happen: the intrusion chain starts about 14 hours before `end`
    # (within the last day, so ago(1d) queries see it); short windows compress the chain.
    window = end - start
    span = min(window, timedelta(days=1))
    chain_start = end - span * 0.6 + timedelta(minutes=rng.randint(-30, 30))
    scale = min(1.0, (window.total_seconds() * 0.5) / (150 * 60))
    if chain_start < start:
        chain_start = start + window * 0.2
    incidents: dict[str, int] = {}
    report_counter = [rng.randint(9_000, 20_000)]

    def next_report() -> int:
        report_counter[0] += 1
        return report_counter[0]

    # hosts: patient zero (a workstation), the ransomware server (PsExec's first target), others fresh
    patient_zero = _pick(devs, "workstation", set())
    ransom_host = _pick(devs, "server", {patient_zero.id} if patient_zero else set())
    placed: dict[str, Device] = {}
    used: set[str] = {d.id for d in (patient_zero, ransom_host) if d is not None}
    stories: list[Story] = []
    alerts: list[Alert] = []
    admin = admins[0]
    for name, spec in STORIES.items():
        if spec.on:
            dev = placed.get(spec.on)
        elif name == "phish_powershell_cradle":
            dev = patient_zero
        elif name == "ransomware_encryption":
            dev = ransom_host
        else:
            dev = _pick(devs, spec.host, used)
        if dev is None:
            continue
        placed[name] = dev
        used.add(dev.id)
        user = dev.primary_user or (patient_zero.primary_user if patient_zero else None) or people[0]
        others = [d for d in devs if d.is_windows and d.id != dev.id]
        others.sort(key=lambda d: (ransom_host is None or d.id != ransom_host.id, d.device_type != "Server"))
        offset = timedelta(minutes=spec.offset_minutes * scale)
        t0 = chain_start + offset
        if t0 < start:
            t0 = start + timedelta(minutes=5)
        if spec.incident not in incidents:
            incidents[spec.incident] = rng.randint(1_000, 99_999)
        ctx = StoryContext(
            rng=_rng(seed, "story", name),
            tenant_id=tenant_id,
            device=dev,
            user=user,
            start=t0,
            targets=tuple(others[:5]),
            incident_id=incidents[spec.incident],
            admin=admin,
            report_ids=next_report,
        )
        spec.build(ctx)
        story_alerts = [replace(a, story=name) for a in ctx.alerts]
        alerts.extend(story_alerts)
        events = tuple(e for e in ctx.events if start <= e.props["Timestamp"] < end)
        times = [e.props["Timestamp"] for e in ctx.events]
        touched = sorted({str(e.props["DeviceId"]) for e in ctx.events if e.props.get("DeviceId")} - {dev.id})
        stories.append(
            Story(
                name=name,
                title=spec.title,
                device_id=dev.id,
                device_name=dev.name,
                user=user,
                start=min(times) if times else t0,
                end=max(times) if times else t0,
                alert_ids=tuple(a.id for a in story_alerts),
                techniques=spec.techniques,
                hunting_queries=spec.hunting_queries,
                events=events,
                extra_device_ids=tuple(str(t) for t in touched),
            )
        )

    # risk follows the worst alert on the device
    order = {"None": 0, "Informational": 1, "Low": 2, "Medium": 3, "High": 4}
    risk: dict[str, str] = {}
    for a in alerts:
        cur = risk.get(a.machine_id, "None")
        if order[a.severity] > order[cur]:
            risk[a.machine_id] = a.severity
    devs = [replace(d, risk_score=risk.get(d.id, "None")) for d in devs]
    alerts.sort(key=lambda a: (a.creation_time, a.id))
    return Tenant(
        tenant_id=tenant_id,
        seed=seed,
        start=start,
        end=end,
        domain=DOMAIN_DNS,
        devices=tuple(devs),
        users=tuple(people + admins),
        stories=tuple(stories),
        alerts=tuple(alerts),
    )


__all__ = ["Alert", "Device", "Story", "Tenant", "User", "build_tenant"]
