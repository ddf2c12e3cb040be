"""Hunting UI benchmark: what the page's features cost against the bare hunt, on a live server and in Chromium.

Baselines measured in the same run (medians of --repeat runs, one uvicorn server on 127.0.0.1):
- time range: a hunt over every day of the archive against the same hunt held to its last day (the
  picker's "Last 24 hours"; the window prunes day partitions), ratio window / all;
- hit histogram of a truncated result: the two extra hunts the page sends (min/max, then binned counts)
  against the hunt itself, ratio extra / hunt;
- catalog: GET /api/hunt/schema (warm) and /api/hunt/language against GET /api/session;
- the page: a 10,000-row hunt opened from its URL until grid and histogram are drawn, against the same hunt
  through the API alone (ratio page / API), and the grid's own render time for those rows;
- device timeline: the page with the 200 newest events of the busiest device (a union of every device
  table) and the histogram of all its events, against a hunt of one table for that device.

    .venv/bin/python bench/ui.py --devices 20 --days 7
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from tests.support.azurite import free_port
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available
from tests.support.detect import build_archive

from huntvault.config import Config
from huntvault.web import start_background_server


def median_s(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def hunt(client: httpx.Client, url: str, query: str, **extra: Any) -> dict[str, Any]:
    resp = client.post(url + "/api/hunt", json={"query": query, **extra}, timeout=600)
    resp.raise_for_status()
    body: dict[str, Any] = resp.json()
    return body


def line(label: str, value: float, base: float, unit: str = "ms") -> None:
    print(
        f"  {label:<58} {value * 1000:9.1f} {unit}   baseline {base * 1000:9.1f} {unit}   ratio {value / base:6.2f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--days", type=float, default=7)
    ap.add_argument("--events-per-device-day", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hv-bench-ui-") as tmp:
        t0 = time.perf_counter()
        world = build_archive(
            Path(tmp) / "archive",
            devices=args.devices,
            days=args.days,
            events_per_device_day=args.events_per_device_day,
        )
        print(
            f"archive: {world.rows:,} rows, {args.devices} devices, {args.days:g} days "
            f"(built in {time.perf_counter() - t0:.1f} s); the machine is shared: figures are noisy"
        )
        cfg = Config()
        cfg.archive.path = str(world.path)
        cfg.index.path = str(Path(tmp) / "index")
        srv = start_background_server(cfg, world.path, port=free_port(), no_auth=True, start_indexer=False)
        try:
            with httpx.Client() as client:
                run(client, srv.url, world, args.repeat)
        finally:
            srv.stop()
    return 0


def run(client: httpx.Client, url: str, world: Any, repeat: int) -> None:
    q_all = "DeviceNetworkEvents | summarize n = count() by DeviceName, RemotePort | top 20 by n"
    last_day = {
        "from": (world.end - timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "to": world.end.isoformat().replace("+00:00", "Z"),
    }
    hunt(client, url, q_all)  # warm the catalog
    all_days = median_s(lambda: hunt(client, url, q_all), repeat)
    one_day = median_s(lambda: hunt(client, url, q_all, **last_day), repeat)
    print("time range")
    line("hunt held to the last day (window) vs every day", one_day, all_days)

    q_rows = "DeviceNetworkEvents | project Timestamp, DeviceName, RemoteIP, RemoteUrl, InitiatingProcessCommandLine"
    first = hunt(client, url, q_rows)
    assert first["truncated"], "the archive is too small for a truncated 10,000-row result"
    main_hunt = median_s(lambda: hunt(client, url, q_rows), repeat)

    def histogram() -> None:
        span = hunt(
            client, url, f"{q_rows}\n| summarize lo = min(Timestamp), hi = max(Timestamp)", max_rows=1
        )
        assert span["rows"]
        hunt(client, url, f"{q_rows}\n| summarize hits = count() by t = bin(Timestamp, 3h)", max_rows=5000)

    extra = median_s(histogram, repeat)
    print("hit histogram of a truncated result (10,000 rows shown)")
    line("the two extra hunts vs the hunt", extra, main_hunt)

    session = median_s(lambda: client.get(url + "/api/session").raise_for_status(), repeat * 4)
    client.get(url + "/api/hunt/schema").raise_for_status()
    schema = median_s(lambda: client.get(url + "/api/hunt/schema").raise_for_status(), repeat * 4)
    language = median_s(lambda: client.get(url + "/api/hunt/language").raise_for_status(), repeat * 4)
    print("catalog for the editor")
    line("GET /api/hunt/schema (warm) vs GET /api/session", schema, session)
    line("GET /api/hunt/language vs GET /api/session", language, session)

    devices = hunt(client, url, "DeviceProcessEvents | summarize n = count() by DeviceName | top 1 by n")
    device = devices["rows"][0][0]
    if chromium_available():
        page_figures(url, q_rows, main_hunt, device, repeat)
    else:
        print("page figures skipped: no /usr/bin/chromium")


def page_figures(url: str, q_rows: str, api_s: float, device: str, repeat: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = b.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.set_default_timeout(600_000)
        hunt_url = f"{url}/ui/hunt#q={quote(q_rows)}&run=1"

        def open_hunt() -> None:
            page.goto("about:blank")
            page.goto(hunt_url)
            page.wait_for_function(
                "() => document.body.dataset.histogram && document.body.dataset.histogram === document.body.dataset.ran"
            )

        open_hunt()
        whole = median_s(open_hunt, repeat)
        grid_ms = statistics.median(
            page.evaluate(
                """async (query) => {
                const d = await HV.api("/api/hunt", { method: "POST", body: { query } });
                const out = [];
                for (let i = 0; i < 5; i++) {
                  const t = performance.now();
                  new HV.Grid(document.getElementById("hunt-grid"), d.columns, d.rows, {});
                  out.push(performance.now() - t);
                }
                return out;
            }""",
                q_rows,
            )
        )
        print("the Hunting page (10,000 rows)")
        line("open from its URL until grid and histogram are drawn vs the API", whole, api_s)
        print(
            f"  grid render of 10,000 rows x 5 columns (sized to values, first page drawn)   {grid_ms:9.1f} ms"
        )

        def open_device() -> None:
            page.goto("about:blank")
            page.goto(f"{url}/ui/device#device={quote(device)}")
            page.wait_for_function("() => document.body.dataset.ready && document.body.dataset.histogram")

        one_table = median_s(
            lambda: httpx.post(
                url + "/api/hunt",
                json={
                    "query": f'DeviceProcessEvents | where DeviceName =~ "{device}" | sort by Timestamp desc | take 200'
                },
                timeout=600,
            ).raise_for_status(),
            repeat,
        )
        open_device()
        timeline = median_s(open_device, repeat)
        print("device timeline")
        line("200 newest events of every device table + histogram vs one table", timeline, one_table)
        b.close()


if __name__ == "__main__":
    sys.exit(main())
