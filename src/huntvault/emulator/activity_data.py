"""What runs on the emulated machines: processes per platform, their children, files, libraries, table mix."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import orjson

from huntvault.emulator.catalog import Binary
from huntvault.emulator.model import iso

Row = dict[str, Any]


# (binary, command line, role) ; {u} is the user name, {n} a number
WIN_SYSTEM: tuple[tuple[str, str], ...] = (
    ("services.exe", r"C:\Windows\system32\services.exe"),
    ("svchost.exe", r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule"),
    ("svchost.exe", r"C:\Windows\system32\svchost.exe -k LocalServiceNetworkRestricted -p"),
    ("svchost.exe", r"C:\Windows\System32\svchost.exe -k NetworkService -p -s Dnscache"),
    ("MsSense.exe", r'"C:\Program Files\Windows Defender Advanced Threat Protection\MsSense.exe"'),
    ("MsMpEng.exe", r'"C:\ProgramData\Microsoft\Windows Defender\platform\4.18.24090.11-0\MsMpEng.exe"'),
    ("SearchIndexer.exe", r"C:\Windows\system32\SearchIndexer.exe /Embedding"),
    ("taskhostw.exe", "taskhostw.exe"),
)
WIN_USER: tuple[tuple[str, str], ...] = (
    ("explorer.exe", r"C:\Windows\Explorer.EXE"),
    (
        "msedge.exe",
        r'"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --profile-directory=Default',
    ),
    ("chrome.exe", r'"C:\Program Files\Google\Chrome\Application\chrome.exe"'),
    ("Teams.exe", r'"C:\Users\{u}\AppData\Local\Microsoft\Teams\current\Teams.exe" --system-initiated'),
    ("OUTLOOK.EXE", r'"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE" '),
    ("OneDrive.exe", r'"C:\Program Files\Microsoft OneDrive\OneDrive.exe" /background'),
)
WIN_SERVER: tuple[tuple[str, str], ...] = (
    (
        "sqlservr.exe",
        r'"C:\Program Files\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQL\Binn\sqlservr.exe" -sMSSQLSERVER',
    ),
    ("w3wp.exe", r'c:\windows\system32\inetsrv\w3wp.exe -ap "DefaultAppPool" -v "v4.0" -l "webengine4.dll"'),
    ("cmd.exe", r'"C:\Windows\system32\cmd.exe"'),
)
LINUX: tuple[tuple[str, str], ...] = (
    ("systemd", "/sbin/init splash"),
    ("sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
    ("cron", "/usr/sbin/cron -f -P"),
    ("bash", "-bash"),
    ("python3.10", "/usr/bin/python3 /opt/app/worker.py --queue default"),
    ("dockerd", "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock"),
    ("nginx", "nginx: worker process"),
    ("wdavdaemon", "/opt/microsoft/mdatp/sbin/wdavdaemon"),
)
MAC: tuple[tuple[str, str], ...] = (
    ("launchd", "/sbin/launchd"),
    ("zsh", "-zsh"),
    ("Safari", "/Applications/Safari.app/Contents/MacOS/Safari"),
    (
        "softwareupdated",
        "/System/Library/PrivateFrameworks/SoftwareUpdate.framework/Resources/softwareupdated",
    ),
    (
        "mdworker_shared",
        "/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework/Versions/A/"
        "Support/mdworker_shared -s mdworker -c MDSImporterWorker -m com.apple.mdworker.shared",
    ),
    ("wdavdaemon", "/Library/Application Support/Microsoft/Defender/wdavdaemon"),
)

# parent file name -> children (binary, command line template)
CHILDREN: dict[str, tuple[tuple[str, str], ...]] = {
    "svchost.exe": (
        ("conhost.exe", r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1"),
        (
            "backgroundTaskHost.exe",
            '"backgroundTaskHost.exe" -ServerName:BackgroundTaskHost.WebAccountProvider',
        ),
        ("RuntimeBroker.exe", r"C:\Windows\System32\RuntimeBroker.exe -Embedding"),
        (
            "dllhost.exe",
            r"C:\Windows\system32\DllHost.exe /Processid:{{3EB3C877-1F16-487C-9050-104DBCD66683}}",
        ),
        (
            "CompatTelRunner.exe",
            r"C:\Windows\system32\compattelrunner.exe -m:appraiser.dll -f:DoScheduledTelemetryRun",
        ),
        ("gpupdate.exe", "gpupdate.exe /target:computer"),
        (
            "powershell.exe",
            'powershell.exe -NoProfile -NonInteractive -Command "Get-Volume | Select-Object DriveLetter,'
            'SizeRemaining | ConvertTo-Json" -Run {n}',
        ),
    ),
    "services.exe": (
        ("svchost.exe", r"C:\Windows\system32\svchost.exe -k wsappx -p -s ClipSVC"),
        ("svchost.exe", r"C:\Windows\System32\svchost.exe -k UnistackSvcGroup -s CDPUserSvc_{n}"),
        ("svchost.exe", r"C:\Windows\system32\svchost.exe -k netsvcs -p -s BITS"),
    ),
    "explorer.exe": (
        (
            "msedge.exe",
            r'"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --single-argument '
            r"https://contoso.sharepoint.com/sites/team{n}",
        ),
        ("notepad.exe", r'"C:\Windows\system32\NOTEPAD.EXE" C:\Users\{u}\Documents\notes-{n}.txt'),
        (
            "EXCEL.EXE",
            r'"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" "C:\Users\{u}\Documents\Budget_{n}.xlsx"',
        ),
        (
            "WINWORD.EXE",
            r'"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "C:\Users\{u}\Documents\Report_{n}.docx"',
        ),
        ("cmd.exe", r'"C:\Windows\system32\cmd.exe"'),
        ("mstsc.exe", '"C:\\Windows\\system32\\mstsc.exe" /v:srv-{n}'),
    ),
    "msedge.exe": (
        (
            "msedge.exe",
            r'"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --type=renderer --lang=en-US '
            r"--js-flags=--ms-user-locale= --device-scale-factor=1 --num-raster-threads=4 "
            r"--renderer-client-id={n} --mojo-platform-channel-handle={n} /prefetch:1",
        ),
    ),
    "chrome.exe": (
        (
            "chrome.exe",
            r'"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=utility '
            r"--utility-sub-type=network.mojom.NetworkService --lang=en-US --service-sandbox-type=none "
            r"--mojo-platform-channel-handle={n} /prefetch:8",
        ),
    ),
    "Teams.exe": (
        (
            "Teams.exe",
            r'"C:\Users\{u}\AppData\Local\Microsoft\Teams\current\Teams.exe" --type=gpu-process '
            r"--field-trial-handle={n} --gpu-preferences=UAAAAAAAAADgAAAYAAAAAAAAAAAAAAAAAAABgAAAAAAA",
        ),
    ),
    "MsSense.exe": (
        (
            "SenseIR.exe",
            r'"C:\Program Files\Windows Defender Advanced Threat Protection\SenseIR.exe" "OnlineSenseIR" '
            "{n}",
        ),
    ),
    "taskhostw.exe": (("CompatTelRunner.exe", r"C:\Windows\system32\compattelrunner.exe -maintenance"),),
    "cmd.exe": (
        ("ipconfig.exe", "ipconfig  /all"),
        ("whoami.exe", "whoami"),
        ("net.exe", "net  use"),
        ("gpupdate.exe", "gpupdate  /force"),
    ),
    "sqlservr.exe": (("conhost.exe", r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1"),),
    "cron": (
        ("bash", "/bin/sh -c run-parts --report /etc/cron.hourly"),
        ("python3.10", "/usr/bin/python3 /opt/app/rotate.py"),
    ),
    "sshd": (("bash", "-bash"),),
    "bash": (
        ("curl", "curl -s -o /dev/null -w %{{http_code}} https://api.contoso.com/health/{n}"),
        ("apt-get", "apt-get -qq update"),
        ("python3.10", "python3 /opt/app/report.py --day {n}"),
    ),
    "systemd": (
        ("cron", "/usr/sbin/cron -f -P"),
        ("python3.10", "/usr/bin/python3 /usr/bin/networkd-dispatcher --run-startup-triggers"),
    ),
    "launchd": (
        (
            "mdworker_shared",
            "/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework/"
            "Versions/A/Support/mdworker_shared -s mdworker -c MDSImporterWorker -m com.apple.mdworker.shared",
        ),
        (
            "softwareupdated",
            "/System/Library/PrivateFrameworks/SoftwareUpdate.framework/Resources/softwareupdated",
        ),
    ),
    "zsh": (
        ("curl", "curl -s https://pypi.org/simple/requests/ -o /tmp/idx{n}"),
        ("python3.10", "python3 -m pip list"),
    ),
}

WORDS = (
    "report",
    "budget",
    "minutes",
    "plan",
    "invoice",
    "forecast",
    "roadmap",
    "notes",
    "summary",
    "contract",
    "slides",
    "draft",
    "q3-review",
    "onboarding",
    "policy",
)
DOC_EXT = (".docx", ".xlsx", ".pdf", ".pptx", ".txt", ".csv")

DLLS_WIN = (
    "ntdll.dll",
    "kernel32.dll",
    "KernelBase.dll",
    "advapi32.dll",
    "crypt32.dll",
    "winhttp.dll",
    "mpoav.dll",
)

DEVICE_EVENT_KINDS = (
    "DpapiAccessed",
    "NamedPipeEvent",
    "BrowserLaunchedToOpenUrl",
    "ShellLinkCreateFileEvent",
    "GetClipboardData",
    "AntivirusScanCompleted",
)

TABLE_WEIGHTS: dict[str, tuple[tuple[str, int], ...]] = {
    "windows": (
        ("DeviceNetworkEvents", 28),
        ("DeviceFileEvents", 20),
        ("DeviceProcessEvents", 14),
        ("DeviceRegistryEvents", 12),
        ("DeviceImageLoadEvents", 15),
        ("DeviceEvents", 6),
        ("DeviceLogonEvents", 3),
        ("DeviceFileCertificateInfo", 2),
    ),
    "linux": (
        ("DeviceNetworkEvents", 40),
        ("DeviceFileEvents", 25),
        ("DeviceProcessEvents", 31),
        ("DeviceLogonEvents", 4),
    ),
    "mac": (
        ("DeviceNetworkEvents", 40),
        ("DeviceFileEvents", 30),
        ("DeviceProcessEvents", 28),
        ("DeviceLogonEvents", 2),
    ),
}

#: processes that talk to the network, per platform kind
NET_PROCS: dict[str, tuple[str, ...]] = {
    "windows": (
        "msedge.exe",
        "chrome.exe",
        "Teams.exe",
        "OUTLOOK.EXE",
        "OneDrive.exe",
        "svchost.exe",
        "MsSense.exe",
        "sqlservr.exe",
        "w3wp.exe",
    ),
    "linux": ("python3.10", "dockerd", "nginx", "wdavdaemon", "sshd"),
    "mac": ("Safari", "softwareupdated", "wdavdaemon"),
}

#: share of a day's events per UTC hour for workstations (office hours) and servers (flat)
WORK_CURVE = tuple(0.35 if h < 7 or h > 18 else 1.9 for h in range(24))
WORK_NORM = 24 / sum(WORK_CURVE)


def ri(rng: random.Random, lo: int, hi: int) -> int:
    """`rng.randint(lo, hi)`, faster (one float draw)."""
    return lo + int(rng.random() * (hi - lo + 1))


def word_for(n: int) -> str:
    return WORDS[n % len(WORDS)]


_CREATED: dict[str, Row] = {}
_IMAGE: dict[str, Row] = {}
_CERT: dict[str, Row] = {}


def created_fields(b: Binary) -> Row:
    row = _CREATED.get(b.file_name)
    if row is None:
        row = _CREATED[b.file_name] = b.file_columns()
    return row


def image_fields(b: Binary) -> Row:
    row = _IMAGE.get(b.file_name)
    if row is None:
        row = {
            "ActionType": "ImageLoaded",
            "FileName": b.file_name,
            "FolderPath": b.path,
            "SHA1": b.sha1,
            "SHA256": b.sha256,
            "MD5": b.md5,
            "FileSize": b.size,
        }
        _IMAGE[b.file_name] = row
    return row


def cert_fields(b: Binary) -> Row:
    row = _CERT.get(b.file_name)
    if row is None:
        signed = bool(b.signer)
        ms = b.signer.startswith("Microsoft")
        issuer = (
            "Microsoft Windows Production PCA 2011"
            if ms
            else ("DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1" if signed else None)
        )
        created = datetime(2023, 10, 19, 18, 15, 5, tzinfo=UTC)
        row = {
            "SHA1": b.sha1,
            "IsSigned": signed,
            "SignatureType": "Embedded" if signed else None,
            "Signer": b.signer or None,
            "SignerHash": b.md5 + b.md5[:8] if signed else None,
            "Issuer": issuer,
            "IssuerHash": b.sha1[::-1] if signed else None,
            "CertificateSerialNumber": b.sha256[:38] if signed else None,
            "CrlDistributionPointUrls": orjson.dumps(
                ["http://www.microsoft.com/pkiops/crl/MicWinProPCA2011_2011-10-19.crl"] if ms else []
            ).decode()
            if signed
            else None,
            "CertificateCreationTime": iso(created, 0) if signed else None,
            "CertificateExpirationTime": iso(created.replace(year=2027), 0) if signed else None,
            "CertificateCountersignatureTime": None,
            "IsTrusted": signed,
            "IsRootSignerMicrosoft": ms,
        }
        _CERT[b.file_name] = row
    return row


__all__ = [
    "CHILDREN",
    "DEVICE_EVENT_KINDS",
    "DLLS_WIN",
    "DOC_EXT",
    "LINUX",
    "MAC",
    "NET_PROCS",
    "TABLE_WEIGHTS",
    "WIN_SERVER",
    "WIN_SYSTEM",
    "WIN_USER",
    "WORDS",
    "WORK_CURVE",
    "WORK_NORM",
    "cert_fields",
    "created_fields",
    "image_fields",
    "ri",
    "word_for",
]
