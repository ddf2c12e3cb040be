"""The demo's checks before any work: its ports are free, its folder is new, empty or an earlier demo's."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from huntvault.demo import MARKER, DemoOptions, check_ports, prepare_folder
from huntvault.errors import HuntvaultError


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_a_taken_ui_port_stops_the_demo_before_any_work(tmp_path: Path, taken_port: int) -> None:
    folder = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "huntvault.demo", "--dir", str(folder), "--port", str(taken_port)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"huntvault demo: error: the UI port 127.0.0.1:{taken_port} is not free")
    assert "nothing was done" in lines[0] and "make demo PORT=" in lines[0] and "--port " in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not folder.exists()  # no work at all


def test_emulator_ports_are_checked_too(tmp_path: Path, taken_port: int) -> None:
    with pytest.raises(HuntvaultError, match=r"Log Analytics emulator port .* --la-port \d+"):
        check_ports(DemoOptions(tmp_path, port=0, la_port=taken_port))
    check_ports(DemoOptions(tmp_path, port=0, serve=False, api_port=0))  # any free port: nothing to check


def test_the_suggested_port_is_free(tmp_path: Path, taken_port: int) -> None:
    with pytest.raises(HuntvaultError) as err:
        check_ports(DemoOptions(tmp_path, port=taken_port))
    suggested = int(str(err.value).rsplit(" ", 1)[1])
    with socket.socket() as s:
        s.bind(("127.0.0.1", suggested))


def test_folder_rules(tmp_path: Path) -> None:
    prepare_folder(tmp_path / "new")
    assert (tmp_path / "new" / MARKER).is_file()
    # an earlier demo's entries go, anything else the user put there stays
    for name in ("archive", "index"):
        (tmp_path / "new" / name).mkdir()
        (tmp_path / "new" / name / "x").write_text("old")
    (tmp_path / "new" / "notes.txt").write_text("mine")
    prepare_folder(tmp_path / "new")
    assert not (tmp_path / "new" / "archive").exists() and not (tmp_path / "new" / "index").exists()
    assert (tmp_path / "new" / "notes.txt").read_text() == "mine"
    # a folder with other things in it is not the demo's to empty
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "archive").mkdir()
    with pytest.raises(HuntvaultError, match="not empty and holds no earlier demo"):
        prepare_folder(tmp_path / "other")
    assert (tmp_path / "other" / "archive").is_dir()
