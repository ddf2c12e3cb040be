"""Running the app under uvicorn: `huntvault serve` in the foreground, and a background server for the demo.

On SIGINT/SIGTERM every running hunt is cancelled at once (DuckDB is interrupted), and connections still
open after `server.shutdown_grace_seconds` are closed: the server stops promptly even with a hunt running.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI

from huntvault.config import Config
from huntvault.errors import HuntvaultError
from huntvault.web.app import create_app
from huntvault.web.deps import AppContext


class _Server(uvicorn.Server):
    """uvicorn's server, cancelling the app's hunts as soon as it is told to stop."""

    def __init__(self, config: uvicorn.Config, ctx: AppContext) -> None:
        super().__init__(config)
        self.ctx = ctx

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.ctx.running_hunts.cancel_all()
        super().handle_exit(sig, frame)


def _uvicorn(app: FastAPI, host: str, port: int) -> _Server:
    ctx: AppContext = app.state.ctx
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=max(1, round(ctx.config.server.shutdown_grace_seconds)),
    )
    return _Server(config, ctx)


def serve(app: FastAPI) -> None:
    """Serve `app` on its configured host and port until SIGINT/SIGTERM (uvicorn installs the handlers)."""
    ctx: AppContext = app.state.ctx
    _uvicorn(app, ctx.config.server.host, ctx.config.server.port).run()


@dataclass
class BackgroundServer:
    """`huntvault serve` in a thread of the current process (the demo's UI); `stop()` shuts it down cleanly."""

    url: str
    server: _Server
    thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        self.server.ctx.running_hunts.cancel_all()
        self.server.should_exit = True
        self.thread.join(timeout)


def start_background_server(
    config: Config,
    archive_dir: str | Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    no_auth: bool = False,
    start_indexer: bool = True,
    ready_timeout: float = 60.0,
) -> BackgroundServer:
    """Start uvicorn with the full app (search API, hunt/status/alerts APIs, UI) and wait until it listens.

    `no_auth` is allowed on a loopback host only (create_app refuses it elsewhere); otherwise the keys
    come from HUNTVAULT_ADMIN_KEY / HUNTVAULT_QUERY_KEY as for `huntvault serve`. `config` is not changed.
    """
    server_cfg = dataclasses.replace(config.server, host=host, port=port, no_auth=no_auth)
    app = create_app(
        dataclasses.replace(config, server=server_cfg), archive_dir=archive_dir, start_indexer=start_indexer
    )
    server = _uvicorn(app, host, port)
    thread = threading.Thread(target=server.run, name="huntvault-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + ready_timeout
    while not server.started:
        if not thread.is_alive():
            raise HuntvaultError(f"the web server on {host}:{port} did not start (port in use?)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise HuntvaultError(f"the web server on {host}:{port} did not start within {ready_timeout:g} s")
        time.sleep(0.05)
    return BackgroundServer(f"http://{host}:{port}", server, thread)
