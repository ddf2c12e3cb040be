"""Tenant-wide background rows: Email*, Identity*, CloudAppEvents, UrlClickEvents and daily IdentityInfo."""

from __future__ import annotations

import random

import orjson

from huntvault.emulator.catalog import DOMAIN_DNS, dc_kerberos_logon
from huntvault.emulator.clock import TICKS_PER_HOUR, Formatter
from huntvault.emulator.model import User
from huntvault.emulator.noise import Event, Row, blank_cached
from huntvault.emulator.tenant import Tenant

_SENDERS = (
    ("news@updates.contoso-partner.com", "Partner News"),
    ("noreply@github.com", "GitHub"),
    ("billing@saas-vendor.example", "Billing"),
    ("events@industry-forum.example", "Industry Forum"),
)
_SUBJECTS = (
    "Weekly sync notes",
    "Re: budget review",
    "Your invoice is ready",
    "Team offsite agenda",
    "Updated: project timeline",
    "FW: customer escalation",
    "Lunch on Friday?",
    "Security training reminder",
)
_APPS = (
    ("Microsoft SharePoint Online", 20892),
    ("Microsoft Exchange Online", 20893),
    ("Microsoft Teams", 28375),
    ("Microsoft OneDrive for Business", 15600),
)
_CLOUD_ACTIONS = (
    "FileAccessed",
    "FileModified",
    "MailItemsAccessed",
    "MessageSent",
    "FileDownloaded",
    "UserLoggedIn",
)


class TenantActivity:
    """Generates the tenant-wide rows of one hour, deterministically from (seed, hour)."""

    def __init__(self, seed: int, tenant: Tenant, fmt: Formatter, per_user_day: int = 12) -> None:
        self.seed = seed
        self.tenant = tenant
        self.fmt = fmt
        self.people = [u for u in tenant.users if not u.is_service and not u.is_admin]
        self.per_user_day = per_user_day
        self.devices_by_user = {d.primary_user.name: d for d in tenant.devices if d.primary_user}

    def hour(self, hour_index: int) -> list[Event]:
        rng = random.Random(f"huntvault:{self.seed}:cloud:{hour_index}")
        out: list[Event] = []
        if not self.people:
            return out
        start = hour_index * TICKS_PER_HOUR
        hod = hour_index % 24
        busy = 1.9 if 7 <= hod <= 18 else 0.35
        n = int(len(self.people) * self.per_user_day / 24 * busy * rng.uniform(0.85, 1.15) + 0.5)
        for seq in range(1, n + 1):
            u = self.people[int(rng.random() * len(self.people))]
            t = start + rng.randrange(TICKS_PER_HOUR)
            r = rng.random()
            rid = f"{hour_index:x}-{seq:05d}"
            if r < 0.35:
                out.extend(self._email(rng, u, t, rid))
            elif r < 0.55:
                out.append(self._identity_logon(rng, u, t, rid))
            elif r < 0.62:
                out.append(self._identity_query(rng, u, t, rid))
            elif r < 0.65:
                out.append(self._identity_directory(rng, u, t, rid))
            elif r < 0.93:
                out.append(self._cloud_app(rng, u, t, rid))
            else:
                out.append(self._url_click(rng, u, t, rid))
        if hod == 5:  # IdentityInfo: a daily snapshot of every account
            for i, u in enumerate(self.tenant.users):
                out.append(self._identity_info(u, start + (i + 1) * 10_000_000, f"ii-{hour_index:x}-{i}"))
        return out

    def _row(self, table: str, t: int, rid: str) -> Row:
        row = dict(blank_cached(table))
        row["Timestamp"] = self.fmt(t)
        if "ReportId" in row:
            row["ReportId"] = rid
        return row

    def _email(self, rng: random.Random, u: User, t: int, rid: str) -> list[Event]:
        inbound = rng.random() < 0.75
        msg = f"{rng.getrandbits(128):032x}"
        msg_id = f"{msg[:8]}-{msg[8:12]}-{msg[12:16]}-{msg[16:20]}-{msg[20:]}"
        if inbound:
            sender, display = _SENDERS[int(rng.random() * len(_SENDERS))]
            rcpt = u.upn
        else:
            sender, display = u.upn, u.display_name
            rcpt = f"contact{rng.randint(1, 500)}@customer.example"
        urls = rng.randint(0, 3)
        attachments = 1 if rng.random() < 0.2 else 0
        row = self._row("EmailEvents", t, rid)
        row.update(
            {
                "NetworkMessageId": msg_id,
                "InternetMessageId": f"<{msg[:20]}@{sender.split('@')[1]}>",
                "SenderFromAddress": sender,
                "SenderMailFromAddress": sender,
                "SenderDisplayName": display,
                "SenderFromDomain": sender.split("@")[1],
                "SenderMailFromDomain": sender.split("@")[1],
                "SenderIPv4": f"40.107.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                "RecipientEmailAddress": rcpt,
                "RecipientObjectId": u.object_id if inbound else None,
                "RecipientDomain": rcpt.split("@")[1],
                "Subject": _SUBJECTS[int(rng.random() * len(_SUBJECTS))],
                "EmailDirection": "Inbound" if inbound else "Outbound",
                "DeliveryAction": "Delivered",
                "DeliveryLocation": "Inbox/folder" if inbound else "Sent items",
                "LatestDeliveryAction": "Delivered",
                "LatestDeliveryLocation": "Inbox/folder" if inbound else "Sent items",
                "AttachmentCount": attachments,
                "UrlCount": urls,
                "EmailSize": rng.randint(8_000, 900_000),
                "EmailLanguage": "en",
                "To": orjson.dumps([rcpt]).decode(),
                "Cc": "[]" if rng.random() < 0.7 else "",
                "AuthenticationDetails": '{"SPF":"pass","DKIM":"pass","DMARC":"pass","CompAuth":"pass"}',
                "ConfidenceLevel": "",
                "ThreatTypes": "",
                "DetectionMethods": "",
                "BulkComplaintLevel": rng.randint(0, 4),
                "IsFirstContact": False,
                "EmailClusterId": rng.randint(10**9, 10**10),
                "OrgLevelAction": "",
                "Connectors": "",
                "EmailAction": "",
                "UserLevelAction": "",
            }
        )
        out: list[Event] = [("EmailEvents", t, row)]
        for k in range(urls):
            url = f"https://contoso.sharepoint.com/sites/team{rng.randint(1, 40)}/doc{k}"
            info = self._row("EmailUrlInfo", t, f"{rid}-u{k}")
            info.update(
                {
                    "NetworkMessageId": msg_id,
                    "Url": url,
                    "UrlDomain": "contoso.sharepoint.com",
                    "UrlLocation": "Body",
                }
            )
            out.append(("EmailUrlInfo", t, info))
        if attachments:
            att = self._row("EmailAttachmentInfo", t, f"{rid}-a")
            att.update(
                {
                    "NetworkMessageId": msg_id,
                    "SenderFromAddress": sender,
                    "SenderDisplayName": display,
                    "RecipientEmailAddress": rcpt,
                    "RecipientObjectId": u.object_id if inbound else None,
                    "FileName": f"document_{rng.randint(1, 999)}.pdf",
                    "FileType": "pdf",
                    "FileExtension": "pdf",
                    "FileSize": rng.randint(30_000, 3_000_000),
                    "SHA256": f"{rng.getrandbits(256):064x}",
                    "ThreatTypes": "",
                    "ThreatNames": "",
                    "DetectionMethods": "",
                }
            )
            out.append(("EmailAttachmentInfo", t, att))
        if inbound and rng.random() < 0.04:
            t2 = min(t + rng.randint(60, 3000) * 10_000_000, (t // TICKS_PER_HOUR + 1) * TICKS_PER_HOUR - 1)
            post = self._row("EmailPostDeliveryEvents", t2, f"{rid}-p")
            post.update(
                {
                    "NetworkMessageId": msg_id,
                    "InternetMessageId": row["InternetMessageId"],
                    "Action": "Moved to junk folder",
                    "ActionType": "Phish ZAP",
                    "ActionTrigger": "SpecialAction",
                    "ActionResult": "Success",
                    "DeliveryLocation": "Junk folder",
                    "RecipientEmailAddress": rcpt,
                    "SenderFromAddress": sender,
                    "ThreatTypes": "Spam",
                    "DetectionMethods": "",
                    "EmailDirection": "Inbound",
                }
            )
            out.append(("EmailPostDeliveryEvents", t2, post))
        return out

    def _identity_logon(self, rng: random.Random, u: User, t: int, rid: str) -> Event:
        d = self.devices_by_user.get(u.name)
        row = self._row("IdentityLogonEvents", t, rid)
        ok = rng.random() < 0.96
        row.update(
            {
                "ActionType": "LogonSuccess" if ok else "LogonFailed",
                **dc_kerberos_logon(u, d.name if d else "", d.private_ip if d else ""),
                "FailureReason": "" if ok else "WrongPassword",
                "Port": str(rng.randint(49152, 65000)),
            }
        )
        return ("IdentityLogonEvents", t, row)

    def _identity_query(self, rng: random.Random, u: User, t: int, rid: str) -> Event:
        d = self.devices_by_user.get(u.name)
        row = self._row("IdentityQueryEvents", t, rid)
        row.update(
            {
                **(
                    {
                        "ActionType": "DNS query",
                        "QueryType": "A",
                        "QueryTarget": "contoso.sharepoint.com",
                        "Query": "contoso.sharepoint.com",
                        "Protocol": "Dns",
                        "DestinationPort": "53",
                    }
                    if rng.random() < 0.6
                    else {
                        "ActionType": "LDAP query",
                        "QueryType": "AllGroupsOfUser",
                        "QueryTarget": u.display_name,
                        "Query": f"Search Scope: WholeSubtree, Base Object:DC=contoso,DC=com, Search Filter: "
                        f"(&(objectCategory=person)(sAMAccountName={u.name}))",
                        "Protocol": "Ldap",
                        "DestinationPort": "389",
                    }
                ),
                "Application": "Active Directory",
                "AccountName": u.name,
                "AccountDomain": DOMAIN_DNS,
                "AccountUpn": u.upn,
                "AccountSid": u.sid,
                "AccountObjectId": u.object_id,
                "DeviceName": d.name if d else "",
                "IPAddress": d.private_ip if d else "",
                "DestinationDeviceName": "dc-01.contoso.com",
                "DestinationIPAddress": "10.0.0.10",
            }
        )
        return ("IdentityQueryEvents", t, row)

    def _identity_directory(self, rng: random.Random, u: User, t: int, rid: str) -> Event:
        row = self._row("IdentityDirectoryEvents", t, rid)
        row.update(
            {
                "ActionType": "Account Password changed"
                if rng.random() < 0.5
                else "Group Membership changed",
                "Application": "Active Directory",
                "AccountName": u.name,
                "AccountDomain": DOMAIN_DNS,
                "AccountUpn": u.upn,
                "AccountSid": u.sid,
                "AccountObjectId": u.object_id,
                "TargetAccountUpn": u.upn,
                "DestinationDeviceName": "dc-01.contoso.com",
                "Protocol": "Ldap",
                "AdditionalFields": orjson.dumps(
                    {"TARGET_OBJECT.USER": u.name, "ACTOR.ACCOUNT": "adm"}
                ).decode(),
            }
        )
        return ("IdentityDirectoryEvents", t, row)

    def _cloud_app(self, rng: random.Random, u: User, t: int, rid: str) -> Event:
        app, app_id = _APPS[int(rng.random() * len(_APPS))]
        action = _CLOUD_ACTIONS[int(rng.random() * len(_CLOUD_ACTIONS))]
        d = self.devices_by_user.get(u.name)
        ip = d.public_ip if d else "198.51.100.7"
        row = self._row("CloudAppEvents", t, rid)
        row.update(
            {
                "ActionType": action,
                "Application": app,
                "ApplicationId": app_id,
                "AccountObjectId": u.object_id,
                "AccountId": u.object_id,
                "AccountDisplayName": u.display_name,
                "AccountType": "Regular",
                "IsAdminOperation": False,
                "IsExternalUser": False,
                "IsImpersonated": False,
                "IsAnonymousProxy": False,
                "IPAddress": ip,
                "CountryCode": "US",
                "City": "Redmond",
                "ISP": "Contoso ISP",
                "DeviceType": "Desktop",
                "OSPlatform": "Windows 10",
                "UserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "ActivityType": "Basic",
                "ObjectName": f"Document{rng.randint(1, 999)}.docx",
                "ObjectType": "File",
                "ActivityObjects": orjson.dumps(
                    [{"Type": "File", "Name": f"Document{rng.randint(1, 999)}.docx"}]
                ).decode(),
                "RawEventData": orjson.dumps(
                    {"Operation": action, "UserId": u.upn, "Workload": app.split()[-2], "ClientIP": ip}
                ).decode(),
                "IPTags": "[]",
                "UserAgentTags": "[]",
                "UncommonForUser": "[]",
                "LastSeenForUser": "{}",
                "AuditSource": "Defender for Cloud Apps",
                "AppInstanceId": 0,
            }
        )
        return ("CloudAppEvents", t, row)

    def _url_click(self, rng: random.Random, u: User, t: int, rid: str) -> Event:
        row = self._row("UrlClickEvents", t, rid)
        url = f"https://contoso.sharepoint.com/sites/team{rng.randint(1, 40)}/SitePages/News.aspx"
        row.update(
            {
                "Url": url,
                "ActionType": "ClickAllowed",
                "AccountUpn": u.upn,
                "Workload": "Teams" if rng.random() < 0.4 else "Email",
                "IPAddress": "198.51.100.7",
                "IsClickedThrough": False,
                "ThreatTypes": "",
                "DetectionMethods": "",
                "UrlChain": orjson.dumps([url]).decode(),
            }
        )
        return ("UrlClickEvents", t, row)

    def _identity_info(self, u: User, t: int, rid: str) -> Event:
        row = self._row("IdentityInfo", t, rid)  # the Defender flavour (AccountUpn, OnPremSid, EmailAddress)
        row.update(
            {
                "AccountObjectId": u.object_id,
                "AccountUpn": u.upn,
                "OnPremSid": u.sid,
                "AccountDisplayName": u.display_name,
                "AccountName": u.name,
                "AccountDomain": DOMAIN_DNS,
                "Type": "ServiceAccount" if u.is_service else "User",
                "GivenName": u.display_name.split()[0],
                "Surname": u.display_name.split()[-1],
                "Department": u.department,
                "JobTitle": u.job_title,
                "EmailAddress": u.upn,
                "IsAccountEnabled": True,
                "City": "Redmond",
                "Country": "US",
                "TenantId": self.tenant.tenant_id,
                "AssignedRoles": orjson.dumps(["Global Reader"] if u.is_admin else []).decode(),
                "GroupMembership": orjson.dumps(
                    ["Domain Users"] + (["Domain Admins"] if u.is_admin else [])
                ).decode(),
                "Tags": "[]",
                "RiskLevel": "Low",
                "TenantMembershipType": "Member",
                "IdentityEnvironment": "Hybrid",
                "SourceProviders": orjson.dumps(["ActiveDirectory", "EntraID"]).decode(),
            }
        )
        return ("IdentityInfo", t, row)


__all__ = ["TenantActivity"]
