"""The simulated Defender tenant: its model (`build_tenant`), the export writer (`write_export`), the API servers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from huntvault.emulator.export import Exporter, ExportOptions, blob_path, default_end, write_export
from huntvault.emulator.manifest import MANIFEST_NAME, Manifest, read_manifest
from huntvault.emulator.model import Alert, Device, Evidence, StatusChange, Story, User
from huntvault.emulator.tenant import Tenant, build_tenant

if TYPE_CHECKING:
    from huntvault.emulator.serve import Emulators, start_emulators

#: names loaded on first use (PEP 562): the servers pull in uvicorn, FastAPI and cryptography, which
#: `huntvault emulate export` does not need
_LAZY: dict[str, str] = {"Emulators": "serve", "start_emulators": "serve"}


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "MANIFEST_NAME",
    "Alert",
    "Device",
    "Emulators",
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
    "start_emulators",
    "write_export",
]
