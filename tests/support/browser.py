"""Browser-test support: headless Debian Chromium driven by Playwright, and `huntvault serve` in a subprocess."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.azurite import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
VIEWPORT = {"width": 1280, "height": 800}


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """A headless Chromium (never downloaded: the Debian package at /usr/bin/chromium)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def serve(
    config: Path, archive: Path, env: dict[str, str], log: Path, ready_key: str = "", timeout: float = 120
) -> Iterator[Server]:
    """`huntvault --config CONFIG serve` on a free 127.0.0.1 port until the block ends."""
    import httpx

    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "huntvault.cli",
                "--config",
                str(config),
                "serve",
                "--archive",
                str(archive),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        headers = {"api-key": ready_key} if ready_key else {}
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"huntvault serve exited early:\n{log.read_text(errors='replace')}")
            try:
                if httpx.get(url + "/api/session", headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"huntvault serve did not start within {timeout:g} s")
            time.sleep(0.25)
        yield Server(url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- a small world for the web tests: an ingested export (with quarantined lines) and a forwarder state ----------

ADMIN_KEY = "ui-admin-key-0123456789"
QUERY_KEY = "ui-query-key-9876543210"


@dataclass
class World:
    root: Path
    archive: Path
    index: Path
    config: Path  # huntvault.toml: archive, index, forward (sinks sentinel, file, broken)
    env: dict[str, str]  # keys and the emulator secrets the config refers to
    manifest: dict[str, Any]  # the export's manifest.json
    forwarded: set[tuple[str, str]]  # (alert id, lastUpdateTime) the forwarder delivered


def build_world(root: Path, devices: int = 3, days: float = 0.5) -> World:
    """Emulated export -> archive (real ingester), and one forwarder cycle against the Defender/LA emulators.

    Sinks: `sentinel` (Logs Ingestion emulator) and `file` (jsonl) deliver; `broken` (a jsonl sink whose path
    is a folder) cannot write, so its records stay queued.
    """
    from huntvault import config as configmod
    from huntvault.archive import Archive
    from huntvault.config import ArchiveConfig
    from huntvault.forward import Forwarder
    from huntvault.sources import AppendBlobSource, Ingestor, LocalFolderClient
    from tests.support.forward import emulators, fast_toml, visible_versions
    from tests.support.ingest import small_export

    export = root / "export"
    manifest = small_export(export, devices=devices, days=days, malformed=3)
    archive = root / "archive"
    with Archive(archive) as arc:
        ing = Ingestor(AppendBlobSource("local", LocalFolderClient(export)), arc, ArchiveConfig())
        ing.run()
        ing.close()
    (root / "broken-sink").mkdir()
    with emulators(root / "emu", extra_alerts=6, devices=4) as emu:
        forward = fast_toml(emu, root / "forward", sinks=("sentinel", "file"))
        forward += (
            f'\n[[forward.sinks]]\nname = "broken"\nkind = "jsonl"\npath = "{(root / "broken-sink").as_posix()}"\n'
            "retry_seconds = 0.0\n"
        )
        text = (
            f'[archive]\npath = "{archive.as_posix()}"\n\n[index]\npath = "{(root / "index").as_posix()}"\n'
            f"poll_seconds = 1.0\n\n{forward}"
        )
        config = root / "huntvault.toml"
        config.write_text(text, encoding="utf-8")
        env = dict(emu.env())
        cfg = configmod.load(config, env=env)
        fw = Forwarder(cfg.forward, str(archive))
        try:
            fw.run_once()
        finally:
            fw.close()
        forwarded = visible_versions(emu)
    env.update({"HUNTVAULT_ADMIN_KEY": ADMIN_KEY, "HUNTVAULT_QUERY_KEY": QUERY_KEY})
    return World(root, archive, root / "index", config, env, manifest, forwarded)


def world_config(world: World, **server: Any) -> Any:
    """The world's Config with the keys set (and any [server] overrides)."""
    from huntvault import config as configmod

    cfg = configmod.load(world.config, env=world.env)
    cfg.server.admin_key = ADMIN_KEY
    cfg.server.query_key = QUERY_KEY
    for k, v in server.items():
        setattr(cfg.server, k, v)
    return cfg
