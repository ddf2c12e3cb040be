"""Exactly once under SIGKILL and with two concurrent writers, on a local and an Azurite (az://) Delta archive."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from huntvault.archive import ArchiveLocation, archive_location, table_files
from huntvault.config import ArchiveConfig
from tests.support.azurite import Azurite
from tests.support.ingest import archive_counts, distinct_keys, expected_counts, small_export

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Target:
    """Where a test archive lives: the `--archive` value, the environment carrying its credentials."""

    archive: str
    env: dict[str, str]
    kind: str

    def location(self, state_dir: Path) -> ArchiveLocation:
        cfg = ArchiveConfig(path=self.archive, state_dir=str(state_dir))
        cfg.connection_string = self.env.get("HUNTVAULT_ARCHIVE_CONNECTION_STRING", "")
        return archive_location(cfg)

    def wipe(self) -> None:
        if self.kind == "local":
            shutil.rmtree(self.archive, ignore_errors=True)
            return
        from azure.storage.blob import ContainerClient

        container, _, prefix = self.archive[len("az://") :].partition("/")
        cc = ContainerClient.from_connection_string(
            self.env["HUNTVAULT_ARCHIVE_CONNECTION_STRING"], container
        )
        for blob in cc.list_blobs(name_starts_with=prefix + "/"):
            cc.delete_blob(blob.name)

    def files(self) -> set[str]:
        """Every data file of the archive, relative to its root (Delta logs and huntvault state excluded)."""
        if self.kind == "local":
            root = Path(self.archive)
            return {
                p.relative_to(root).as_posix()
                for p in root.rglob("*")
                if p.is_file() and "_huntvault" not in p.parts and "_delta_log" not in p.parts
            }
        from azure.storage.blob import ContainerClient

        container, _, prefix = self.archive[len("az://") :].partition("/")
        cc = ContainerClient.from_connection_string(
            self.env["HUNTVAULT_ARCHIVE_CONNECTION_STRING"], container
        )
        out = set()
        for blob in cc.list_blobs(name_starts_with=prefix + "/"):
            rel = blob.name[len(prefix) + 1 :]
            if "_huntvault/" not in rel and "/_delta_log/" not in rel and not rel.endswith("/"):
                out.add(rel)
        return out


@pytest.fixture(params=["local", "azurite"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    if request.param == "local":
        yield Target(str(tmp_path / "archive"), env, "local")
        return
    az: Azurite = request.getfixturevalue("azurite")
    from azure.storage.blob import BlobServiceClient

    container = f"arc-{uuid.uuid4().hex[:8]}"
    BlobServiceClient.from_connection_string(az.connection_string).create_container(container)
    env["HUNTVAULT_ARCHIVE_CONNECTION_STRING"] = az.connection_string
    yield Target(f"az://{container}/hv", env, "azurite")


def _cmd(cfg: Path, src: Path, target: Target, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "huntvault.cli",
        "--config",
        str(cfg),
        "ingest",
        *extra,
        "--archive",
        target.archive,
        "--quiet",
    ] + (["--from", str(src)] if "--source" not in extra else [])


def _check(target: Target, state: Path, manifest: dict[str, object]) -> None:
    loc = target.location(state)
    assert archive_counts(loc) == expected_counts(manifest)
    rows, keys = distinct_keys(loc, "DeviceNetworkEvents")
    assert rows == keys
    live = {p.id for t in [*expected_counts(manifest), "_quarantine"] for p in table_files(loc, t)}
    assert target.files() == live  # no orphan parts, no temp files


@pytest.mark.slow
def test_sigkill_at_random_moments_then_complete(target: Target, tmp_path: Path) -> None:
    src = tmp_path / "export"
    manifest = small_export(src, devices=2, days=0.5 if target.kind == "local" else 0.25, seed=11)
    state = tmp_path / "state"
    cfg = tmp_path / "huntvault.toml"
    cfg.write_text(f'[archive]\nflush_rows = 300\nflush_seconds = 0.2\nstate_dir = "{state}"\n')
    cmd = _cmd(cfg, src, target)
    # time one whole run, then kill runs at random fractions of that duration
    started = time.monotonic()
    subprocess.run(cmd, env=target.env, check=True, capture_output=True, timeout=300)
    full = time.monotonic() - started
    target.wipe()
    shutil.rmtree(state, ignore_errors=True)
    rnd = random.Random(3)
    wanted = 20 if target.kind == "local" else 6
    kills = finished = 0
    while kills < wanted:
        proc = subprocess.Popen(cmd, env=target.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
            target.wipe()
            shutil.rmtree(state, ignore_errors=True)
    done = subprocess.run(cmd, env=target.env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    _check(target, state, manifest)


@pytest.mark.slow
def test_two_ingest_processes_on_disjoint_containers(target: Target, tmp_path: Path) -> None:
    src = tmp_path / "export"
    manifest = small_export(src, devices=2, days=0.25, seed=12)
    containers = sorted(p.name for p in src.iterdir() if p.is_dir())
    halves = [containers[0::2], containers[1::2]]
    procs = []
    for i, half in enumerate(halves):
        # on Azurite each writer has its own state folder, as two machines would
        state = tmp_path / ("state" if target.kind == "local" else f"state{i}")
        cfg = tmp_path / f"w{i}.toml"
        lines = [f'[archive]\nflush_rows = 200\nflush_seconds = 0.1\nstate_dir = "{state}"\n']
        lines.append(
            f'[[sources]]\nname = "w{i}"\nkind = "local"\npath = "{src}"\ncontainers = {half!r}\n'.replace(
                "'", '"'
            )
        )
        cfg.write_text("\n".join(lines))
        procs.append(
            subprocess.Popen(
                _cmd(cfg, src, target, "--source", f"w{i}"), env=target.env, stderr=subprocess.PIPE, text=True
            )
        )
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    _check(target, tmp_path / "state", manifest)
