"""The shared durable-write helper and the run-loop stop/signal helper."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from huntvault.durable import append_durably, write_durably, writing_durably
from huntvault.runloop import stop_on_signals


def test_write_durably_replaces_whole(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "state.json"
    write_durably(target, "one")
    write_durably(target, b"two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_durably(target, "old")
    with pytest.raises(RuntimeError), writing_durably(target) as fh:
        fh.write(b"half")
        raise RuntimeError("crash in the middle")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_append_durably_returns_the_size(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    assert append_durably(log, b"a\n") == 2
    assert append_durably(log, b"", lambda fh: fh.write(b"bc\n")) == 5
    assert log.read_bytes() == b"a\nbc\n"


def test_stop_on_signals_sets_the_event_then_restores_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        assert not stop.is_set()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
        with pytest.raises(KeyboardInterrupt):  # a second signal is the impatient Ctrl-C
            os.kill(os.getpid(), signal.SIGINT)
            threading.Event().wait(1)
    assert signal.getsignal(signal.SIGTERM) is before


def test_stop_on_signals_off_the_main_thread_hands_the_event_out() -> None:
    seen: list[bool] = []

    def body() -> None:
        given = threading.Event()
        with stop_on_signals(given) as stop:
            seen.append(stop is given)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen == [True]
