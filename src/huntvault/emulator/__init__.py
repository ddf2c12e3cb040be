"""The simulated Defender tenant: its model (`build_tenant`) and the streaming-export writer (`write_export`)."""

from __future__ import annotations

from huntvault.emulator.export import Exporter, ExportOptions, blob_path, default_end, write_export
from huntvault.emulator.manifest import MANIFEST_NAME, Manifest, read_manifest
from huntvault.emulator.model import Alert, Device, Evidence, StatusChange, Story, User
from huntvault.emulator.tenant import Tenant, build_tenant

__all__ = [
    "MANIFEST_NAME",
    "Alert",
    "Device",
    "Evidence",
    "ExportOptions",
    "Exporter",
    "Manifest",
    "StatusChange",
    "Story",
    "Tenant",
    "User",
    "blob_path",
    "build_tenant",
    "default_end",
    "read_manifest",
    "write_export",
]
