"""`huntvault forward --follow` as a subprocess: SIGKILLs at seeded points, token and API outages, 429
storms and sink outages; every alert version arrives exactly once per sink (or the one documented
window, a kill between a sink's acknowledgement and the ledger commit, is shown to be one request)."""

from __future__ import annotations

import collections
import datetime as dt
import random
import signal
from functools import partial
from pathlib import Path

import pytest

from huntvault import config as configmod
from huntvault.emulator.serve import Emulators
from huntvault.forward import forward_status
from huntvault.forward.testhook import POINTS
from tests.support.forward import (
    END,
    arrivals,
    emulators,
    forward_config,
    forwarder_process,
    jsonl_arrivals,
    stop_process,
    visible_versions,
    wait_for,
)
from tests.test_forward_e2e import assert_exactly_once

SEED = 20261113


def delivered(emu: Emulators, jsonl: Path, expected: set[tuple[str, str]], sinks: tuple[str, ...]) -> bool:
    got = {
        "sentinel": lambda: arrivals(emu, "logs-ingestion"),
        "legacy": lambda: arrivals(emu, "data-collector"),
        "file": lambda: jsonl_arrivals(jsonl),
    }
    return all(expected <= set(got[s]()) for s in sinks)


@pytest.mark.slow
def test_sigkill_at_seeded_points_then_restart_delivers_every_version_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    sinks = ("sentinel", "legacy", "file")
    points = [p for p in POINTS if p != "unit-acked"]  # that one is the measured window (next test)
    plan = [(p, rng.randint(1, 3)) for p in rng.sample(points, len(points))]
    plan += [(rng.choice(points), rng.randint(1, 6)) for _ in range(2)]
    with emulators(tmp_path / "emu", extra_alerts=50, now=END - dt.timedelta(hours=30)) as emu:
        _cfg, toml = forward_config(emu, tmp_path, sinks=sinks, batch_size=3, page_size=20, poll_seconds=0.2)
        jsonl = tmp_path / "state" / "alerts.jsonl"
        expected: set[tuple[str, str]] = set()
        kills: list[str] = []
        advance = True
        for point, n in plan:
            if advance or point == "unit-committed":  # alerts change while the forwarder is dead:
                emu.defender.clock.advance(rng.uniform(2, 6) * 3600)  # what it stored must still go out
            expected |= visible_versions(emu)
            proc = forwarder_process(toml, emu, tmp_path, kill=f"{point}:{n}")
            if point == "unit-committed":  # reached only if there are n requests to send
                caught_up = wait_for(partial(delivered, emu, jsonl, set(expected), sinks), proc)
                if caught_up:
                    code, err = stop_process(proc, tmp_path / "state")
                    assert code == 0, err
                    advance = True
                    continue
            # every poll passes the other points (a poll every 0.2 s): the kill always comes
            _, err = proc.communicate(timeout=90)  # the pipes are read and closed
            assert proc.returncode == -signal.SIGKILL, err[-3000:]
            kills.append(point)
            # a page read but not stored is lost if the alert changes before the restart: that is the
            # one window on this side (the write of one page); don't move the clock over it
            advance = point != "page-received"
        proc = forwarder_process(toml, emu, tmp_path)
        assert wait_for(lambda: delivered(emu, jsonl, expected, sinks), proc), proc.communicate()[1][-3000:]
        code, err = stop_process(proc, tmp_path / "state")
        assert code == 0, err
        assert set(points) <= set(kills) and len(kills) >= len(plan) - 1, kills  # every point, seeded
        assert len(expected) > len(emu.defender.alerts_now(False))  # updates, not only new alerts
        assert_exactly_once(arrivals(emu, "logs-ingestion"), expected, "sentinel")
        assert_exactly_once(arrivals(emu, "data-collector"), expected, "legacy")
        assert_exactly_once(jsonl_arrivals(jsonl), expected, "file")


@pytest.mark.slow
def test_a_kill_between_acknowledgement_and_ledger_is_the_one_window(tmp_path: Path) -> None:
    with emulators(tmp_path / "emu", extra_alerts=30, now=END) as emu:
        # a file sink undoes the append it could not commit: no duplicate even there
        _cfg, toml = forward_config(emu, tmp_path, sinks=("file",), batch_size=4)
        jsonl = tmp_path / "state" / "alerts.jsonl"
        expected = visible_versions(emu)
        proc = forwarder_process(toml, emu, tmp_path, kill="unit-acked:3")
        _, err = proc.communicate(timeout=60)  # the pipes are read and closed
        assert proc.returncode == -signal.SIGKILL, err[-3000:]
        assert sum(jsonl_arrivals(jsonl).values()) == 12  # three units appended, two committed
        proc = forwarder_process(toml, emu, tmp_path)
        assert wait_for(lambda: expected <= set(jsonl_arrivals(jsonl)), proc)
        assert stop_process(proc, tmp_path / "state")[0] == 0
        assert_exactly_once(jsonl_arrivals(jsonl), expected, "file")

        # Logs Ingestion has no idempotency key: the request accepted just before the kill goes again
        li = tmp_path / "li"
        li.mkdir()
        _cfg, toml = forward_config(emu, li, sinks=("sentinel",), batch_size=4)
        emu.defender.clock.advance(12 * 3600)
        expected = visible_versions(emu)
        proc = forwarder_process(toml, emu, li, kill="unit-acked:2")
        _, err = proc.communicate(timeout=60)  # the pipes are read and closed
        assert proc.returncode == -signal.SIGKILL, err[-3000:]
        proc = forwarder_process(toml, emu, li)
        assert wait_for(lambda: expected <= set(arrivals(emu, "logs-ingestion")), proc)
        assert stop_process(proc, li / "state")[0] == 0
        counts = arrivals(emu, "logs-ingestion")
        twice = {k for k, n in counts.items() if n > 1}
        assert set(counts) == expected and set(counts.values()) <= {1, 2}
        requests = [a for a in emu.la.arrivals if a.endpoint == "logs-ingestion"]
        resent = [
            a for a in requests if {(r["id_"], r["lastUpdateTime"]) for r in a.records} & twice
        ]  # exactly one request, sent twice, and nothing else
        assert len(resent) == 2 and resent[0].records == resent[1].records and 1 <= len(twice) <= 4


@pytest.mark.slow
def test_follow_rides_out_token_api_and_sink_outages(tmp_path: Path) -> None:
    sinks = ("sentinel", "legacy", "file")
    with emulators(tmp_path / "emu", extra_alerts=40, now=END - dt.timedelta(hours=20)) as emu:
        cfg, toml = forward_config(emu, tmp_path, sinks=sinks, batch_size=5, poll_seconds=0.2)
        cfg = configmod.load(toml, env=emu.env()).forward
        jsonl = tmp_path / "state" / "alerts.jsonl"

        def health(name: str) -> str:
            st = forward_status(cfg)
            return (st.defender if name == "defender" else st.sinks[name].health).state

        issuer = emu.defender.issuer
        issuer.faults.down = True  # the token endpoint is down before the forwarder even starts
        proc = forwarder_process(toml, emu, tmp_path)
        assert wait_for(lambda: health("defender") == "down", proc), proc.communicate()[1][-3000:]
        assert wait_for(lambda: issuer.requests >= 4, proc)  # retried with backoff, still running
        expected = visible_versions(emu)
        issuer.faults.down = False
        assert wait_for(lambda: delivered(emu, jsonl, expected, sinks), proc)
        assert health("defender") == "ok"

        # a 429 storm and 500s on the API, Logs Ingestion down, the Data Collector throttling
        emu.defender.faults.retry_after = 0
        emu.defender.faults.throttle_next = 30
        emu.defender.faults.fail_next = 10
        emu.la.faults["logs-ingestion"].down = True
        emu.la.faults["data-collector"].retry_after = 0
        emu.la.faults["data-collector"].throttle_next = 40
        emu.defender.clock.advance(8 * 3600)
        expected |= visible_versions(emu)
        assert wait_for(lambda: health("sentinel") == "down", proc)
        assert wait_for(lambda: expected <= set(jsonl_arrivals(jsonl)), proc)
        issuer.faults.fail_next = 6  # and the token endpoint fails again (token still valid: unseen)
        emu.la.faults["logs-ingestion"].down = False
        assert wait_for(lambda: delivered(emu, jsonl, expected, sinks), proc)
        assert wait_for(lambda: health("sentinel") == "ok", proc)
        assert emu.defender.stats.throttled >= 30 and emu.defender.stats.failed >= 10

        # the whole Log Analytics endpoint is gone for a while
        emu.la_server.stop()
        emu.defender.clock.advance(8 * 3600)
        expected |= visible_versions(emu)
        assert wait_for(lambda: health("legacy") == "down" and health("sentinel") == "down", proc)
        from tests.test_forward_e2e import restart_la

        restart_la(emu)
        assert wait_for(lambda: delivered(emu, jsonl, expected, sinks), proc)
        code, err = stop_process(proc, tmp_path / "state")
        assert code == 0, err  # SIGTERM: a clean stop, after all of it
        assert "Traceback" not in err
        # each outage is logged once when it starts and once when it ends, not on every retry
        lines = collections.Counter(line.split(" ", 3)[-1][:40] for line in err.splitlines())
        assert 1 <= sum(1 for line in err.splitlines() if "the Defender API is down" in line) <= 2, err[
            -3000:
        ]
        assert sum(1 for line in err.splitlines() if "sink sentinel is down" in line) == 2, lines
        assert_exactly_once(arrivals(emu, "logs-ingestion"), expected, "sentinel")
        assert_exactly_once(arrivals(emu, "data-collector"), expected, "legacy")
        assert_exactly_once(jsonl_arrivals(jsonl), expected, "file")
