"""File paths: parse_path (Windows, UNC, long and POSIX paths, `scheme://` prefixes, alternate data streams)."""

from __future__ import annotations

import re
from typing import Any

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")
_DRIVE = re.compile(r"^(?:\\\\\?\\)?([A-Za-z]:)")
_SEPARATORS = re.compile(r"[\\/]")


def parse_path(path: Any) -> Any:
    """The parts of a file path, as the reference's examples show them: a `file://` scheme is split off,
    RootPath is a drive (`C:`) or empty, DirectoryPath is everything before the last separator,
    `name:stream` names an alternate data stream, Extension follows the file name's last dot."""
    if path is None:
        return None
    text = str(path)
    scheme = ""
    m = _SCHEME.match(text)
    if m:
        scheme = m.group(1)
        text = text[m.end() :]
    drive = _DRIVE.match(text)
    root = drive.group(1) if drive else ""
    cut = max(text.rfind("\\"), text.rfind("/"))
    directory, name = (text[:cut], text[cut + 1 :]) if cut >= 0 else ("", text)
    stream = ""
    if ":" in name:
        name, stream = name.split(":", 1)
    parts = [p for p in _SEPARATORS.split(directory) if p]
    return {
        "Scheme": scheme,
        "RootPath": root,
        "DirectoryPath": directory,
        "DirectoryName": parts[-1] if parts and parts[-1] != root else "",
        "Filename": name,
        "Extension": name.rsplit(".", 1)[1] if "." in name else "",
        "AlternateDataStreamName": stream,
    }


IMPLS: dict[str, Any] = {"parse_path": parse_path}
