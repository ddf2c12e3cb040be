"""Static knowledge the emulator draws from: executables with stable hashes and version info, names, places."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from huntvault.emulator.model import User, iso


@dataclass(frozen=True)
class Binary:
    """An executable or library the tenant's machines run, with stable (fake but consistent) hashes."""

    file_name: str
    folder: str  # folder without the file name
    company: str
    product: str
    version: str
    description: str
    size: int
    signer: str = "Microsoft Windows"
    windows: bool = True

    @property
    def path(self) -> str:
        sep = "\\" if self.windows else "/"
        return f"{self.folder}{sep}{self.file_name}"

    def _digest(self, algo: str) -> str:
        return hashlib.new(algo, f"huntvault:{self.path}:{self.version}".encode()).hexdigest()

    @property
    def sha1(self) -> str:
        return self._digest("sha1")

    @property
    def sha256(self) -> str:
        return self._digest("sha256")

    @property
    def md5(self) -> str:
        return self._digest("md5")

    def file_columns(self) -> dict[str, Any]:
        """The file and version-info columns of a process-creation row for this binary."""
        return {
            "FileName": self.file_name,
            "FolderPath": self.path,
            "SHA1": self.sha1,
            "SHA256": self.sha256,
            "MD5": self.md5,
            "FileSize": self.size,
            "ProcessVersionInfoCompanyName": self.company or None,
            "ProcessVersionInfoProductName": self.product or None,
            "ProcessVersionInfoProductVersion": self.version or None,
            "ProcessVersionInfoInternalFileName": self.file_name if self.company else None,
            "ProcessVersionInfoOriginalFileName": self.file_name if self.company else None,
            "ProcessVersionInfoFileDescription": self.description or None,
        }


SYS32 = r"C:\Windows\System32"
MS = "Microsoft Corporation"
WINOS = "Microsoft® Windows® Operating System"
OFFICE = r"C:\Program Files\Microsoft Office\root\Office16"


def _w(
    name: str,
    folder: str,
    desc: str,
    size: int,
    company: str = MS,
    product: str = WINOS,
    version: str = "10.0.19041.3636",
    signer: str = "Microsoft Windows",
) -> Binary:
    return Binary(name, folder, company, product, version, desc, size, signer)


def _x(name: str, folder: str, size: int) -> Binary:
    return Binary(name, folder, "", "", "", "", size, "", windows=False)


BINARIES: dict[str, Binary] = {
    b.file_name.lower(): b
    for b in (
        _w("explorer.exe", r"C:\Windows", "Windows Explorer", 5_074_968),
        _w("svchost.exe", SYS32, "Host Process for Windows Services", 57_360),
        _w("services.exe", SYS32, "Services and Controller app", 716_152),
        _w("lsass.exe", SYS32, "Local Security Authority Process", 59_480),
        _w("winlogon.exe", SYS32, "Windows Logon Application", 905_216),
        _w("userinit.exe", SYS32, "Userinit Logon Application", 31_744),
        _w("cmd.exe", SYS32, "Windows Command Processor", 289_792),
        _w("powershell.exe", r"C:\Windows\System32\WindowsPowerShell\v1.0", "Windows PowerShell", 452_608),
        _w("conhost.exe", SYS32, "Console Window Host", 868_352),
        _w("rundll32.exe", SYS32, "Windows host process (Rundll32)", 71_680),
        _w("schtasks.exe", SYS32, "Task Scheduler Configuration Tool", 235_008),
        _w("taskhostw.exe", SYS32, "Host Process for Windows Tasks", 100_864),
        _w(
            "vssadmin.exe", SYS32, "Command Line Interface for Microsoft® Volume Shadow Copy Service", 136_704
        ),
        _w("wmic.exe", r"C:\Windows\System32\wbem", "WMI Commandline Utility", 571_904),
        _w("wmiprvse.exe", r"C:\Windows\System32\wbem", "WMI Provider Host", 496_640),
        _w("bcdedit.exe", SYS32, "Boot Configuration Data Editor", 375_808),
        _w("wbadmin.exe", SYS32, "Windows Backup Command Line Tool", 1_251_840),
        _w("wevtutil.exe", SYS32, "Eventing Command Line Utility", 229_888),
        _w("net.exe", SYS32, "Net Command", 57_344),
        _w("net1.exe", SYS32, "Net Command", 172_544),
        _w("whoami.exe", SYS32, "whoami - displays logged on user information", 73_728),
        _w("nltest.exe", SYS32, "Microsoft® Logon Server Test Utility", 487_424),
        _w("ipconfig.exe", SYS32, "IP Configuration Utility", 35_840),
        _w("certutil.exe", SYS32, "CertUtil.exe", 1_645_056),
        _w("reg.exe", SYS32, "Registry Console Tool", 82_944),
        _w("sc.exe", SYS32, "Service Control Manager Configuration Tool", 71_168),
        _w("gpupdate.exe", SYS32, "Microsoft® Windows Group Policy Update Utility", 29_184),
        _w(
            "MsMpEng.exe",
            r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0",
            "Antimalware Service Executable",
            133_560,
            product="Microsoft® Windows® Operating System",
            version="4.18.24090.11",
        ),
        _w(
            "MsSense.exe",
            r"C:\Program Files\Windows Defender Advanced Threat Protection",
            "Windows Defender Advanced Threat Protection Service Executable",
            4_386_744,
            version="10.8760.19041.4355",
        ),
        _w(
            "SenseIR.exe",
            r"C:\Program Files\Windows Defender Advanced Threat Protection",
            "Windows Defender Advanced Threat Protection Incident Response",
            2_131_920,
            version="10.8760.19041.4355",
        ),
        _w(
            "OneDrive.exe",
            r"C:\Program Files\Microsoft OneDrive\24.201.1006.0005",
            "Microsoft OneDrive",
            3_417_432,
            product="Microsoft OneDrive",
            version="24.201.1006.0005",
            signer=MS,
        ),
        _w(
            "msedge.exe",
            r"C:\Program Files (x86)\Microsoft\Edge\Application",
            "Microsoft Edge",
            4_101_152,
            product="Microsoft Edge",
            version="130.0.2849.68",
            signer=MS,
        ),
        _w(
            "chrome.exe",
            r"C:\Program Files\Google\Chrome\Application",
            "Google Chrome",
            3_221_528,
            company="Google LLC",
            product="Google Chrome",
            version="131.0.6778.70",
            signer="Google LLC",
        ),
        _w(
            "Teams.exe",
            r"C:\Users\Public\AppData\Local\Microsoft\Teams\current",
            "Microsoft Teams",
            136_417_752,
            product="Microsoft Teams",
            version="1.7.00.26062",
            signer=MS,
        ),
        _w(
            "OUTLOOK.EXE",
            OFFICE,
            "Microsoft Outlook",
            42_196_368,
            product="Microsoft Outlook",
            version="16.0.17928.20156",
            signer=MS,
        ),
        _w(
            "WINWORD.EXE",
            OFFICE,
            "Microsoft Word",
            1_626_496,
            product="Microsoft Office",
            version="16.0.17928.20156",
            signer=MS,
        ),
        _w(
            "EXCEL.EXE",
            OFFICE,
            "Microsoft Excel",
            68_218_248,
            product="Microsoft Office",
            version="16.0.17928.20156",
            signer=MS,
        ),
        _w("SearchIndexer.exe", SYS32, "Microsoft Windows Search Indexer", 1_038_848),
        _w("backgroundTaskHost.exe", SYS32, "Background Task Host", 22_528),
        _w("RuntimeBroker.exe", SYS32, "Runtime Broker", 139_264),
        _w("smartscreen.exe", SYS32, "Windows Defender SmartScreen", 2_417_152),
        _w("CompatTelRunner.exe", SYS32, "Microsoft Compatibility Telemetry", 236_544),
        _w("sihost.exe", SYS32, "Shell Infrastructure Host", 129_536),
        _w("ctfmon.exe", SYS32, "CTF Loader", 15_872),
        _w("dllhost.exe", SYS32, "COM Surrogate", 21_312),
        _w("notepad.exe", SYS32, "Notepad", 201_216),
        _w("mstsc.exe", SYS32, "Remote Desktop Connection", 1_356_800),
        _w(
            "sqlservr.exe",
            r"C:\Program Files\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQL\Binn",
            "SQL Server Windows NT - 64 Bit",
            445_376,
            product="Microsoft SQL Server",
            version="2019.150.4385.2",
            signer=MS,
        ),
        _w("w3wp.exe", r"C:\Windows\System32\inetsrv", "IIS Worker Process", 32_256),
        _w(
            "PsExec.exe",
            r"C:\Users\Public\Tools",
            "Execute processes remotely",
            716_176,
            company="Sysinternals - www.sysinternals.com",
            product="Sysinternals PsExec",
            version="2.43",
            signer="Microsoft Corporation",
        ),
        _w(
            "PSEXESVC.exe",
            r"C:\Windows",
            "PsExec Service",
            149_936,
            company="Sysinternals - www.sysinternals.com",
            product="Sysinternals PsExec",
            version="2.43",
            signer="Microsoft Corporation",
        ),
        _w(
            "procdump64.exe",
            r"C:\Users\Public\Tools",
            "Sysinternals process dump utility",
            424_856,
            company="Sysinternals - www.sysinternals.com",
            product="ProcDump",
            version="11.0",
            signer="Microsoft Corporation",
        ),
        _w(
            "svchosts.exe",
            r"C:\ProgramData\Intel",
            "",
            2_381_312,
            company="",
            product="",
            version="",
            signer="",
        ),
        _w("update.exe", r"C:\Users\Public", "", 318_464, company="", product="", version="", signer=""),
        # libraries (DeviceImageLoadEvents)
        _w("ntdll.dll", SYS32, "NT Layer DLL", 2_169_720),
        _w("kernel32.dll", SYS32, "Windows NT BASE API Client DLL", 773_968),
        _w("KernelBase.dll", SYS32, "Windows NT BASE API Client DLL", 3_004_480),
        _w("advapi32.dll", SYS32, "Advanced Windows 32 Base API", 718_176),
        _w("amsi.dll", SYS32, "Anti-Malware Scan Interface", 102_400),
        _w(
            "clr.dll",
            r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319",
            "Microsoft .NET Runtime Common Language Runtime",
            10_626_968,
            product="Microsoft® .NET Framework",
            version="4.8.9256.0",
        ),
        _w(
            "System.Management.Automation.ni.dll",
            r"C:\Windows\assembly\NativeImages_v4.0.30319_64\System.Manaa57fc8cc#\a1b2c3d4e5f60718293a4b5c6d7e8f90",
            "System.Management.Automation",
            32_423_424,
            product="Microsoft (R) Windows (R) Operating System",
        ),
        _w("dbghelp.dll", SYS32, "Windows Image Helper", 1_851_904),
        _w("comsvcs.dll", SYS32, "COM+ Services", 2_234_368),
        _w("samlib.dll", SYS32, "SAM Library DLL", 160_256),
        _w("winhttp.dll", SYS32, "Windows HTTP Services", 1_004_544),
        _w("crypt32.dll", SYS32, "Crypto API32", 1_450_464),
        _w(
            "mpoav.dll",
            r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0",
            "IOfficeAntiVirus Module",
            224_144,
            version="4.18.24090.11",
        ),
        # Linux / macOS
        _x("bash", "/usr/bin", 1_396_520),
        _x("sshd", "/usr/sbin", 921_488),
        _x("systemd", "/usr/lib/systemd", 1_849_992),
        _x("cron", "/usr/sbin", 55_944),
        _x("python3.10", "/usr/bin", 5_912_032),
        _x("curl", "/usr/bin", 260_328),
        _x("apt-get", "/usr/bin", 18_824),
        _x("dockerd", "/usr/bin", 96_523_576),
        _x("nginx", "/usr/sbin", 1_190_352),
        _x("wdavdaemon", "/opt/microsoft/mdatp/sbin", 10_385_888),
        _x("launchd", "/sbin", 343_760),
        _x("zsh", "/bin", 1_342_224),
        _x("Safari", "/Applications/Safari.app/Contents/MacOS", 181_760),
        _x(
            "softwareupdated",
            "/System/Library/PrivateFrameworks/SoftwareUpdate.framework/Resources",
            3_128_480,
        ),
        _x(
            "mdworker_shared",
            "/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework/Versions/A/Support",
            221_472,
        ),
    )
}


def binary(name: str) -> Binary:
    """A catalogued binary by file name (case-insensitive)."""
    return BINARIES[name.lower()]


FIRST_NAMES = (
    "Adele",
    "Alex",
    "Allan",
    "Ben",
    "Carla",
    "Chen",
    "Dario",
    "Diego",
    "Emily",
    "Farah",
    "Grace",
    "Hiro",
    "Irene",
    "Isaac",
    "Jana",
    "Joni",
    "Kamal",
    "Lara",
    "Lidia",
    "Lynne",
    "Megan",
    "Miguel",
    "Nestor",
    "Nora",
    "Omar",
    "Patti",
    "Pradeep",
    "Priya",
    "Quinn",
    "Raul",
    "Sanjay",
    "Sofia",
    "Tomas",
    "Uma",
    "Victor",
    "Wei",
    "Yara",
    "Zoe",
)
LAST_NAMES = (
    "Vance",
    "Wilber",
    "Deyoung",
    "Hall",
    "Lopez",
    "Wu",
    "Rossi",
    "Alvarez",
    "Braun",
    "Haddad",
    "Bright",
    "Tanaka",
    "Novak",
    "Stein",
    "Kowalski",
    "Mitchell",
    "Rahman",
    "Cruz",
    "Sousa",
    "Guthrie",
    "Bowen",
    "Garcia",
    "Sullivan",
    "Lind",
    "Farouk",
    "Fernandez",
    "Gupta",
    "Nair",
    "Jensen",
    "Ortiz",
    "Mehta",
    "Moreau",
    "Novotny",
    "Iyer",
    "Petrov",
    "Zhang",
    "Saleh",
    "Keller",
)
DEPARTMENTS = ("Finance", "Sales", "Engineering", "HR", "Legal", "Marketing", "Operations", "IT")
TITLES = ("Analyst", "Manager", "Engineer", "Specialist", "Director", "Associate", "Consultant")

DOMAIN_NETBIOS = "CONTOSO"
DOMAIN_DNS = "contoso.com"


def dc_kerberos_logon(u: User, device_name: str, device_ip: str) -> dict[str, Any]:
    """The IdentityLogonEvents columns of `u` signing in from a device to the domain controller with
    Kerberos (the account, the protocol, both ends; the caller adds ActionType and any outcome)."""
    return {
        "AccountName": u.name,
        "AccountDomain": DOMAIN_DNS,
        "AccountUpn": u.upn,
        "AccountSid": u.sid,
        "AccountObjectId": u.object_id,
        "AccountDisplayName": u.display_name,
        "Application": "Active Directory",
        "LogonType": "Resource access",
        "Protocol": "Kerberos",
        "DeviceName": device_name,
        "IPAddress": device_ip,
        "DestinationDeviceName": "dc-01.contoso.com",
        "DestinationIPAddress": "10.0.0.10",
        "DestinationPort": "88",
        "OSPlatform": "Windows",
    }


#: Benign remote endpoints machines talk to: (url, ip, port).
BENIGN_REMOTES: tuple[tuple[str, str, int], ...] = (
    ("login.microsoftonline.com", "20.190.151.68", 443),
    ("graph.microsoft.com", "20.190.152.24", 443),
    ("outlook.office365.com", "52.97.146.162", 443),
    ("winatp-gw-neu.microsoft.com", "20.50.201.195", 443),
    ("settings-win.data.microsoft.com", "20.42.73.26", 443),
    ("teams.microsoft.com", "52.113.194.132", 443),
    ("www.bing.com", "204.79.197.200", 443),
    ("contoso.sharepoint.com", "13.107.136.10", 443),
    ("update.googleapis.com", "142.250.74.110", 443),
    ("github.com", "140.82.121.4", 443),
    ("pypi.org", "151.101.64.223", 443),
    ("archive.ubuntu.com", "91.189.91.83", 80),
    ("ctldl.windowsupdate.com", "93.184.221.240", 80),
    ("ocsp.digicert.com", "93.184.220.29", 80),
    ("time.windows.com", "168.61.215.74", 123),
)


def user_process_account(user: User) -> dict[str, Any]:
    """InitiatingProcessAccount* columns for a process running as `user`."""
    return {
        "InitiatingProcessAccountDomain": user.domain.lower(),
        "InitiatingProcessAccountName": user.name,
        "InitiatingProcessAccountSid": user.sid,
        "InitiatingProcessAccountUpn": user.upn,
        "InitiatingProcessAccountObjectId": user.object_id,
    }


SYSTEM_ACCOUNT: dict[str, Any] = {
    "InitiatingProcessAccountDomain": "nt authority",
    "InitiatingProcessAccountName": "system",
    "InitiatingProcessAccountSid": "S-1-5-18",
    "InitiatingProcessAccountUpn": None,
    "InitiatingProcessAccountObjectId": None,
}


@dataclass(frozen=True)
class Proc:
    """A running process instance: a binary, its pid, creation time, command line and account."""

    binary: Binary
    pid: int
    created: datetime
    command_line: str
    account: dict[str, Any]  # InitiatingProcessAccount* columns
    integrity: str = "Medium"
    elevation: str = "TokenElevationTypeLimited"
    logon_id: int = 0
    session_id: int = 1
    parent: Proc | None = None

    def as_initiating(self) -> dict[str, Any]:
        """The InitiatingProcess* columns describing this process (the writer keeps the table's own)."""
        b = self.binary
        out: dict[str, Any] = {
            "InitiatingProcessFileName": b.file_name,
            "InitiatingProcessFolderPath": b.path.lower() if b.windows else b.path,
            "InitiatingProcessSHA1": b.sha1,
            "InitiatingProcessSHA256": b.sha256,
            "InitiatingProcessMD5": b.md5,
            "InitiatingProcessFileSize": b.size,
            "InitiatingProcessId": self.pid,
            "InitiatingProcessCommandLine": self.command_line,
            "InitiatingProcessCreationTime": iso(self.created),
            "InitiatingProcessIntegrityLevel": self.integrity,
            "InitiatingProcessTokenElevation": self.elevation,
            "InitiatingProcessLogonId": self.logon_id,
            "InitiatingProcessSessionId": self.session_id,
            "IsInitiatingProcessRemoteSession": False,
            "InitiatingProcessVersionInfoCompanyName": b.company or None,
            "InitiatingProcessVersionInfoProductName": b.product or None,
            "InitiatingProcessVersionInfoProductVersion": b.version or None,
            "InitiatingProcessVersionInfoInternalFileName": b.file_name if b.company else None,
            "InitiatingProcessVersionInfoOriginalFileName": b.file_name if b.company else None,
            "InitiatingProcessVersionInfoFileDescription": b.description or None,
            "InitiatingProcessSignerType": "OsVendor"
            if b.signer == "Microsoft Windows"
            else ("ThirdParty" if b.signer else "None"),
            "InitiatingProcessSignatureStatus": "Valid" if b.signer else "Unsigned",
        }
        out.update(self.account)
        if self.parent is not None:
            out["InitiatingProcessParentId"] = self.parent.pid
            out["InitiatingProcessParentFileName"] = self.parent.binary.file_name
            out["InitiatingProcessParentCreationTime"] = iso(self.parent.created)
        return out

    def as_created(self) -> dict[str, Any]:
        """The columns of the DeviceProcessEvents row that records this process's creation."""
        b = self.binary
        acct = self.account
        out: dict[str, Any] = {
            "ActionType": "ProcessCreated",
            **b.file_columns(),
            "ProcessId": self.pid,
            "ProcessCommandLine": self.command_line,
            "ProcessIntegrityLevel": self.integrity,
            "ProcessTokenElevation": self.elevation,
            "ProcessCreationTime": iso(self.created),
            "AccountDomain": acct["InitiatingProcessAccountDomain"],
            "AccountName": acct["InitiatingProcessAccountName"],
            "AccountSid": acct["InitiatingProcessAccountSid"],
            "AccountUpn": acct["InitiatingProcessAccountUpn"],
            "AccountObjectId": acct["InitiatingProcessAccountObjectId"],
            "LogonId": self.logon_id,
            "CreatedProcessSessionId": self.session_id,
            "IsProcessRemoteSession": False,
        }
        if self.parent is not None:
            out.update(self.parent.as_initiating())
        return out
