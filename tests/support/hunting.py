"""The hunting UI's test world: one emulated tenant both exported (archive) and served (Defender API alerts), so the
alerts' machines, hashes and times are in the archive too, and a forwarder cycle into a jsonl sink."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.browser import ADMIN_KEY, QUERY_KEY
from tests.support.detect import RULES_DIR

#: the tenant's last instant (the Defender emulator's `END` in tests/support/forward.py)
END = "2026-11-01T00:00:00Z"
SEED = 3
DEVICES = 4
#: shipped rules the world's scheduler runs (both fire on the tenant's stories in its last hours)
RULES = ("lsass-memory-access.yaml", "psexec-remote-service.yaml")
DETECT_FROM = "2026-10-31T17:00:00Z"
DETECT_WINDOWS = 2  # per rule: windows [17:00, 19:00) and [18:00, 20:00) hold both stories


@dataclass
class HuntingWorld:
    root: Path
    archive: Path
    config: Path  # huntvault.toml: archive, index, forward (one jsonl sink "file")
    env: dict[str, str]  # keys and the emulator secrets the config refers to
    alerts: list[dict[str, Any]]  # the forwarded alert records (jsonl sink)


def build_hunting_world(root: Path, days: float = 1.0, detect: bool = False) -> HuntingWorld:
    """Export the tenant's last `days` (seed 3, 4 devices) into an archive (real ingester); forward its alerts;
    with `detect`, run two shipped rules (LSASS, PsExec) for two hourly windows with the real scheduler."""
    import orjson

    from huntvault import config as configmod
    from huntvault.archive import Archive
    from huntvault.config import ArchiveConfig
    from huntvault.detect import open_scheduler
    from huntvault.forward import Forwarder
    from huntvault.sources import AppendBlobSource, Ingestor, LocalFolderClient
    from tests.support.forward import emulators, fast_toml
    from tests.support.ingest import small_export

    small_export(root / "export", seed=SEED, devices=DEVICES, end=END, days=days, malformed=0)
    archive = root / "archive"
    with Archive(archive) as arc:
        ing = Ingestor(AppendBlobSource("local", LocalFolderClient(root / "export")), arc, ArchiveConfig())
        ing.run()
        ing.close()
    with emulators(root / "emu", extra_alerts=0, devices=DEVICES) as emu:
        forward = fast_toml(emu, root / "forward", sinks=("file",))
        rules = root / "rules"
        rules.mkdir()
        for name in RULES:
            shutil.copy(RULES_DIR / name, rules / name)
        text = (
            f'[archive]\npath = "{archive.as_posix()}"\n\n[index]\npath = "{(root / "index").as_posix()}"\n\n'
            f'[detect]\nrules_dir = "{rules.as_posix()}"\nstate_dir = "{(root / "detect").as_posix()}"\n'
            f'start_from = "{DETECT_FROM}"\nmax_windows_per_cycle = {DETECT_WINDOWS}\n\n{forward}'
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
    if detect:
        scheduler = open_scheduler(cfg)
        try:
            scheduler.run_once()
        finally:
            scheduler.store.close()
            scheduler.state.close()
    sink = next(s for s in cfg.forward.sinks if s.name == "file")
    newest: dict[str, dict[str, Any]] = {}
    for line in Path(sink.path).read_bytes().splitlines():
        rec = orjson.loads(line)
        newest[rec["id"]] = rec
    env.update({"HUNTVAULT_ADMIN_KEY": ADMIN_KEY, "HUNTVAULT_QUERY_KEY": QUERY_KEY})
    return HuntingWorld(root, archive, config, env, list(newest.values()))


def hunting_config(world: HuntingWorld) -> Any:
    """The world's Config with the keys set."""
    from huntvault import config as configmod

    cfg = configmod.load(world.config, env=world.env)
    cfg.server.admin_key = ADMIN_KEY
    cfg.server.query_key = QUERY_KEY
    return cfg


def iso(t: datetime) -> str:
    """ISO 8601 with Z (a naive datetime, as DuckDB may hand back, is UTC)."""
    return (
        (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)).isoformat().replace("+00:00", "Z")
    )
