"""huntvault: keep Defender advanced-hunting data for years; ingest, search, hunt, forward."""

from __future__ import annotations

__version__ = "0.1.0"
