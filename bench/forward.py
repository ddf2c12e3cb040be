"""Forwarder benchmark: 10,000 alerts over 2,000 machines against the emulators on 127.0.0.1.

Prints Defender API calls per forwarded alert version and alerts/s end to end, for
  * the Logic-App recipe (baseline, measured on a sample in the same run): a trigger poll, then
    GET /api/alerts/{id} and GET /api/machines/{id} for every alert;
  * huntvault's backfill (every alert at once: windows + batched machine lookups);
  * huntvault's steady state (the emulator clock moves poll interval by poll interval over the
    alerts' lifetime, so new alerts and status updates arrive a few at a time; the machine cache
    expires on emulated time);
  * huntvault live at its defaults (`Forwarder.run(stop)` in real time, poll_seconds and every other
    setting at their defaults; the emulator clock runs --speed times faster so that alerts change
    often): median and p95 delivery latency, lastUpdateTime -> accepted by the Logs Ingestion
    emulator, in real seconds, and the two measured windows (answer read -> page stored; sink
    acknowledged -> ledger committed).

Usage: .venv/bin/python bench/forward.py [--alerts 10000] [--devices 2000] [--poll-minutes 10]
       [--live-seconds 120] [--speed 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from huntvault import config as configmod  # noqa: E402
from huntvault.emulator.serve import Emulators, start_emulators  # noqa: E402
from huntvault.forward import DefenderClient, Forwarder, MachineCache, RateBudget, forward_status  # noqa: E402
from huntvault.schema.normalise import parse_datetime  # noqa: E402


def forward_cfg(emu: Emulators, state: Path, tmp: Path) -> configmod.ForwardConfig:
    text = emu.forward_toml(str(state), str(tmp / f"{state.name}.jsonl"))
    text = text.replace("poll_seconds = 10.0\n", "").replace("overlap_seconds = 300.0\n", "")  # the defaults
    head, *sinks = text.split("[[forward.sinks]]")
    keep = [s for s in sinks if 'name = "sentinel"' in s or 'name = "file"' in s]
    path = tmp / f"{state.name}.toml"
    path.write_text("[[forward.sinks]]".join([head, *keep]), encoding="utf-8")
    return configmod.load(path, env=emu.env()).forward


def logic_app_baseline(emu: Emulators, sample: int) -> tuple[float, float]:
    """(calls per alert, alerts/s) of the Logic-App recipe over `sample` alerts."""
    cfg = forward_cfg(emu, Path(tempfile.mkdtemp()) / "logicapp", Path(tempfile.mkdtemp())).defender
    cfg.calls_per_minute = cfg.calls_per_hour = 10**9  # measure its raw speed; the real API would throttle it
    client = DefenderClient(cfg)
    t0 = time.perf_counter()
    trigger = client.get("/api/alerts", {"$top": str(sample)})  # the trigger: "new alerts" poll
    merged = []
    for alert in trigger["value"]:
        full = client.get(f"/api/alerts/{alert['id']}")
        machine = client.get(f"/api/machines/{full['machineId']}", missing_ok=True) or {}
        merged.append({**full, **machine})
    elapsed = time.perf_counter() - t0
    return client.calls / len(merged), len(merged) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--devices", type=int, default=2_000)
    ap.add_argument("--poll-minutes", type=float, default=10.0)
    ap.add_argument("--sample", type=int, default=300, help="alerts for the Logic-App baseline")
    ap.add_argument("--live-seconds", type=float, default=120.0, help="real seconds of the live run")
    ap.add_argument("--speed", type=float, default=20.0, help="emulated seconds per real second, live run")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="hv-bench-forward-"))
    end = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    t0 = time.perf_counter()
    emu = start_emulators(
        tmp / "emu",
        seed=5,
        devices=args.devices,
        extra_alerts=args.alerts,
        end=end,
        days=2.0,
        clock_speed=0.0,
        now=end + dt.timedelta(days=2),
        per_minute=10**9,
        per_hour=10**9,
    )
    print(
        f"emulators up in {time.perf_counter() - t0:.1f}s: {len(emu.defender.alerts)} alerts over "
        f"{len(emu.tenant.devices)} machines (server rate limit lifted; the client budget stays at 100/min)"
    )
    try:
        # -- baseline: the Logic-App recipe -------------------------------------------------------
        la_calls, la_rate = logic_app_baseline(emu, args.sample)
        print(
            f"\nLogic-App recipe (sample of {args.sample}): {la_calls:.3f} API calls per alert, {la_rate:.0f} alerts/s "
            f"unthrottled; at 1,500 calls/h, {args.alerts:,} alerts need {args.alerts * la_calls / 1500:.1f} h"
        )

        # -- huntvault backfill -------------------------------------------------------------------
        cfg = forward_cfg(emu, tmp / "backfill", tmp)
        fw = Forwarder(cfg)
        t0 = time.perf_counter()
        result = fw.run_once()
        elapsed = time.perf_counter() - t0
        sent = result.sinks["sentinel"].sent
        calls = result.poll.api_calls
        print(
            f"\nhuntvault backfill: {result.poll.alerts} alert versions, {calls} API calls "
            f"= {calls / max(result.poll.alerts, 1):.4f} calls per alert; {sent} to Logs Ingestion and "
            f"{result.sinks['file'].sent} to JSON lines in {elapsed:.1f}s = {result.poll.alerts / elapsed:.0f} alerts/s "
            f"end to end ({result.poll.alerts / elapsed / la_rate:.1f}x the recipe unthrottled; the recipe within "
            f"the API limits manages {1500 / la_calls / 3600:.2f} alerts/s)"
        )
        fw.close()

        # -- huntvault steady state ---------------------------------------------------------------
        start = emu.tenant.start
        emu.defender.clock.set(start + dt.timedelta(hours=1))
        cfg = forward_cfg(emu, tmp / "steady", tmp)
        cfg.start_from = start.isoformat()
        fw = Forwarder(cfg)
        emulated = [0.0]
        fw._machines = MachineCache(
            fw.client,
            cfg.defender.machine_cache_seconds,
            clock=lambda: emulated[0],
            full_refresh_pages=cfg.defender.machine_full_refresh_pages,
        )
        waits: list[float] = []  # the budget runs on emulated time too; a wait would be recorded here
        fw.client.budget = RateBudget.per_minute_hour(
            100, 1500, clock=lambda: emulated[0], sleep=waits.append
        )
        step = args.poll_minutes * 60
        versions = calls = cycles = 0
        t0 = time.perf_counter()
        stop = end + dt.timedelta(days=1)
        while emu.defender.clock.now() < stop:
            r = fw.run_once()
            versions += r.poll.queued // 2  # queued per sink; two sinks
            calls += r.poll.api_calls
            cycles += 1
            emu.defender.clock.advance(step)
            emulated[0] += step
        elapsed = time.perf_counter() - t0
        hours = cycles * step / 3600
        print(
            f"\nhuntvault steady state: {cycles} polls every {args.poll_minutes:g} emulated minutes over {hours:.0f} h; "
            f"{versions} new alerts and updates forwarded with {calls} API calls = {calls / max(versions, 1):.4f} "
            f"calls per alert (target <= 0.05; Logic-App recipe {la_calls:.2f}, ratio {la_calls / max(calls / max(versions, 1), 1e-9):.0f}x); "
            f"{versions / elapsed:.0f} alerts/s end to end"
        )
        st = forward_status(cfg)
        print(f"  client budget waits on emulated time: {len(waits)}")
        print(
            f"  pending after the run: {sum(s.pending for s in st.sinks.values())}; "
            f"machine cache hits {fw.machines.hits}, misses {fw.machines.misses}, "
            f"full machine-list refreshes {fw.machines.full_refreshes}"
        )
        fw.close()

        live(emu, tmp, args.live_seconds, args.speed, la_calls)
    finally:
        emu.stop()


def _quantiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"


def live(emu: Emulators, tmp: Path, seconds: float, speed: float, la_calls: float) -> None:
    """The forwarder at its defaults in real time; delivery latency lastUpdateTime -> accepted by the sink."""
    end = emu.tenant.end
    emu.defender.clock.set(end - dt.timedelta(hours=2))
    emu.defender.clock.speed = speed
    wall0, emu0 = time.time(), emu.defender.clock.now()
    cfg = forward_cfg(emu, tmp / "live", tmp)
    cfg.start_from = emu0.isoformat()
    fw = Forwarder(cfg)
    defaults = configmod.ForwardConfig()
    assert cfg.poll_seconds == defaults.poll_seconds and cfg.overlap_seconds == defaults.overlap_seconds
    before = len(emu.la.arrivals)
    stop = threading.Event()
    runner = threading.Thread(target=fw.run, args=(stop,), daemon=True)
    runner.start()
    time.sleep(seconds)
    stop.set()
    runner.join(timeout=120)
    emu.defender.clock.speed = 0.0
    latencies: list[float] = []
    for arrival in emu.la.arrivals[before:]:
        if arrival.endpoint != "logs-ingestion":
            continue
        for rec in arrival.records:
            changed = parse_datetime(rec["lastUpdateTime"])
            if changed < emu0:
                continue  # a version from before the run started (its start-up backlog)
            happened = wall0 + (changed - emu0).total_seconds() / speed
            latencies.append(arrival.received_at - happened)
    st = forward_status(cfg)
    calls = st.api_calls
    fw.close()
    if not latencies:
        print("\nhuntvault live: no alert changed during the run (raise --live-seconds or --speed)")
        return
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    print(
        f"\nhuntvault live at the defaults (poll_seconds {cfg.poll_seconds:g}, overlap {cfg.overlap_seconds:g} s; "
        f"{seconds:g} s real, emulator clock x{speed:g}): {len(latencies)} alert versions changed and delivered; "
        f"delivery latency lastUpdateTime -> accepted by Logs Ingestion: median {statistics.median(ordered):.1f} s, "
        f"p95 {p95:.1f} s, max {ordered[-1]:.1f} s (target: median < 15 s); {calls} Defender API calls "
        f"({calls / seconds * 3600:.0f} per hour, budget 1,500; {calls / len(latencies):.3f} per alert version, "
        f"Logic-App recipe {la_calls:.2f})"
    )
    print(
        f"  window 'answer read -> page stored' (a kill there loses a version that changes before the restart): "
        f"{_quantiles(list(fw.windows['page']))} over {len(fw.windows['page'])} pages"
    )
    print(
        f"  window 'sink acknowledged -> ledger committed' (a kill there re-sends that one request): "
        f"{_quantiles(list(fw.windows['ack']))} over {len(fw.windows['ack'])} requests"
    )


if __name__ == "__main__":
    main()
