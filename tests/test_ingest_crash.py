"""Exactly once under SIGKILL: ingest killed at random moments, then run to completion."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from huntvault.archive import manifest as mf
from tests.support.ingest import archive_counts, distinct_keys, expected_counts, small_export

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sigkill_at_random_moments_then_complete(tmp_path: Path) -> None:
    src = tmp_path / "export"
    manifest = small_export(src, devices=2, days=1, seed=11)
    arc = tmp_path / "archive"
    cfg = tmp_path / "huntvault.toml"
    cfg.write_text("[archive]\nflush_rows = 300\nflush_seconds = 0.2\n")
    cmd = [
        sys.executable,
        "-m",
        "huntvault.cli",
        "--config",
        str(cfg),
        "ingest",
        "--from",
        str(src),
        "--archive",
        str(arc),
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    # time one whole run on a scratch archive, then kill runs at random fractions of that duration
    scratch = [*cmd[:-2], str(tmp_path / "scratch"), "--quiet"]
    started = time.monotonic()
    subprocess.run(scratch, env=env, check=True, capture_output=True, timeout=300)
    full = time.monotonic() - started
    rnd = random.Random(3)
    kills = finished = 0
    while kills < 20:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.05, 0.9) * full)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        else:
            # finished before the kill: start over on a fresh archive to keep killing mid-flight
            assert proc.returncode == 0
            finished += 1
            assert finished < 40, "every run finished before its kill"
            shutil.rmtree(arc)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert kills >= 20
    assert archive_counts(arc) == expected_counts(manifest)
    rows, keys = distinct_keys(arc, "DeviceNetworkEvents")
    assert rows == keys
    con = mf.connect(arc, create=False)
    known = mf.known_paths(con)
    con.close()
    on_disk = {
        p.relative_to(arc).as_posix() for p in arc.rglob("*") if p.is_file() and mf.STATE_DIR not in p.parts
    }
    assert on_disk == known  # no orphan parts, no temp files
