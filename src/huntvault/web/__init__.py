"""The web layer: FastAPI app with the search REST API, hunt/status/alerts APIs and the UI pages (thin adapters)."""

from __future__ import annotations

from huntvault.web.app import create_app
from huntvault.web.server import BackgroundServer, serve, start_background_server
from huntvault.web.ui import PAGES, hunt_url, page_urls, search_url

__all__ = [
    "PAGES",
    "BackgroundServer",
    "create_app",
    "hunt_url",
    "page_urls",
    "search_url",
    "serve",
    "start_background_server",
]
