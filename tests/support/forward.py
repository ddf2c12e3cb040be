"""Forwarder test helpers: emulators on 127.0.0.1, configs pointing at them, arrival counting."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from huntvault import config as configmod
from huntvault.config import ForwardConfig
from huntvault.emulator.serve import Emulators, start_emulators

END = datetime(2026, 11, 1, tzinfo=UTC)


@contextmanager
def emulators(
    folder: Path,
    *,
    extra_alerts: int = 60,
    devices: int = 12,
    now: datetime | None = None,
    per_minute: int = 100,
    per_hour: int = 1500,
) -> Iterator[Emulators]:
    """Both emulators with a frozen clock (tests move it by hand)."""
    emu = start_emulators(
        folder,
        seed=3,
        devices=devices,
        extra_alerts=extra_alerts,
        clock_speed=0.0,
        end=END,
        days=2.0,
        now=now or END,
        per_minute=per_minute,
        per_hour=per_hour,
    )
    try:
        yield emu
    finally:
        emu.stop()


def fast_toml(
    emu: Emulators,
    state_dir: Path,
    *,
    sinks: tuple[str, ...] = ("sentinel", "legacy", "file"),
    merge: str = "prefixed",
    batch_size: int = 25,
    page_size: int = 10000,
    poll_seconds: float = 0.2,
    extra_forward: str = "",
) -> str:
    """The emulator's complete [forward] section, trimmed to `sinks`, with test-speed retry settings."""
    text = emu.forward_toml(str(state_dir))
    text = text.replace('merge = "prefixed"', f'merge = "{merge}"')
    text = text.replace("poll_seconds = 10.0", f"poll_seconds = {poll_seconds}\n{extra_forward}")
    text = text.replace(
        "[forward.defender]\n",
        f"[forward.defender]\nretry_backoff_seconds = 0.05\ntimeout_seconds = 5.0\npage_size = {page_size}\n"
        "max_retries = 6\n",
    )
    blocks = text.split("[[forward.sinks]]")
    kept = [blocks[0]]
    for block in blocks[1:]:
        name = block.split('name = "', 1)[1].split('"', 1)[0]
        if name in sinks:
            kept.append(
                block.rstrip("\n")
                + f"\nbatch_size = {batch_size}\nretry_seconds = 0.0\nretry_backoff_seconds = 0.05\n"
                "max_retries = 2\n\n"
            )
    return "[[forward.sinks]]".join(kept)


def forward_config(emu: Emulators, tmp: Path, **kwargs: Any) -> tuple[ForwardConfig, Path]:
    """(ForwardConfig, path of the huntvault.toml written for it)."""
    path = tmp / "huntvault.toml"
    path.write_text(fast_toml(emu, tmp / "state", **kwargs), encoding="utf-8")
    cfg = configmod.load(path, env=emu.env())
    return cfg.forward, path


def visible_versions(emu: Emulators) -> set[tuple[str, str]]:
    """(alert id, lastUpdateTime) of every alert the Defender emulator shows right now."""
    return {(a["id"], a["lastUpdateTime"]) for a in emu.defender.alerts_now(False)}


def arrivals(emu: Emulators, endpoint: str) -> collections.Counter[tuple[str, str]]:
    """How often each (alert id, lastUpdateTime) arrived at a Log Analytics endpoint."""
    key = "id_" if endpoint == "logs-ingestion" else "id"
    return collections.Counter((r[key], r["lastUpdateTime"]) for r in emu.la.records(endpoint))


def jsonl_arrivals(path: Path) -> collections.Counter[tuple[str, str]]:
    import orjson

    if not path.exists():
        return collections.Counter()
    return collections.Counter(
        (r["id"], r["lastUpdateTime"])
        for r in (orjson.loads(line) for line in path.read_bytes().splitlines() if line)
    )


ROOT = Path(__file__).resolve().parents[2]


def forwarder_process(
    toml: Path, emu: Emulators, cwd: Path, *, kill: str = "", args: tuple[str, ...] = ("--follow",)
) -> subprocess.Popen[str]:
    """`huntvault forward --follow` as a subprocess (with the kill test hook when `kill` is given)."""
    env = {
        **os.environ,
        **emu.env(),
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("HUNTVAULT_FORWARD_TEST_KILL", None)
    if kill:
        env["HUNTVAULT_FORWARD_TEST_KILL"] = kill
    cmd = [sys.executable, "-m", "huntvault.cli", "--config", str(toml), "forward", *args]
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(
    done: Callable[[], bool], proc: subprocess.Popen[str] | None = None, timeout: float = 90.0
) -> bool:
    """Poll `done` until true (True) or until `proc` exited (False); a hang past `timeout` fails."""
    deadline = time.monotonic() + timeout
    while not done():
        if proc is not None and proc.poll() is not None:
            return False
        assert time.monotonic() < deadline, "timed out (the forwarder hangs or never caught up)"
        time.sleep(0.05)
    return True


def stop_process(proc: subprocess.Popen[str], state_dir: Path, timeout: float = 30.0) -> tuple[int, str]:
    """SIGTERM once the forwarder holds its state lock (its signal handler is in place by then), then the
    exit status and stderr (a forwarder that ignores it is killed and fails the test)."""
    from huntvault.forward import forwarder_running

    wait_for(lambda: forwarder_running(state_dir), proc)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the forwarder did not stop on SIGTERM: {err[-2000:]}") from None
    return proc.returncode, err
