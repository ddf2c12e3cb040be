"""Security benchmark: what the bounds cost and what they keep, against a live `huntvault serve` (127.0.0.1).

Baselines measured in the same run:
- a search through the whole HTTP stack (guard, key check, worker lane, JSON) against the same search
  through `SearchEngine.search` in process: the ratio is the web layer's overhead;
- /health latency while attack searches (the 1,000-term fuzzy search, the catastrophic regex, and the
  costliest fuzzy search the bounds allow) are sent without pause, against /health on an idle server;
- a 600 MB chunked POST with no key: time to the 401 and bytes the client got to send, against the
  time a plain GET /health takes.

    .venv/bin/python bench/security.py --docs 20000
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from tests.support.browser import serve
from tests.support.search import ADMIN_KEY, INDEX, QUERY_KEY, generate_table, write_archive

from huntvault.index import IndexStore
from huntvault.search import SearchEngine, from_body

ATTACKS = [
    {"search": " ".join(f"term{i}x~2" for i in range(1000)), "queryType": "full"},
    {"search": "/(.*a){20}/", "queryType": "full"},
    {"search": " ".join(f"term{i}x~2" for i in range(20)), "queryType": "full"},
]
SEARCH = {"search": "whoami", "top": 10}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def health_latencies(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        client.get(url + "/health").raise_for_status()
        out.append(time.perf_counter() - t)
        time.sleep(0.01)
    return out


def chunked_no_key(url: str) -> tuple[float, int]:
    host, port = url.removeprefix("http://").split(":")
    frame = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    sent, answer = 0, b""
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /api/hunt HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        t = time.perf_counter()
        sock.setblocking(False)
        while sent < 600 * 2**20 and b"\r\n\r\n" not in answer:
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            try:
                sent += sock.send(frame)
            except BlockingIOError:
                time.sleep(0.0005)
            except OSError:
                break
        return time.perf_counter() - t, sent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_archive(
            root / "archive", "DeviceProcessEvents", generate_table("DeviceProcessEvents", args.docs, seed=5)
        )
        cfg = root / "huntvault.toml"
        cfg.write_text(f'[index]\npath = "{(root / "index").as_posix()}"\n', encoding="utf-8")
        env = {"HUNTVAULT_ADMIN_KEY": ADMIN_KEY, "HUNTVAULT_QUERY_KEY": QUERY_KEY}
        with serve(cfg, root / "archive", env, root / "serve.log", ready_key=ADMIN_KEY) as srv:
            out: dict[str, Any] = {"docs": args.docs}
            with httpx.Client(timeout=120, headers={"api-key": QUERY_KEY}) as client:
                idle = health_latencies(client, srv.url, args.repeat)
                http = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    client.post(f"{srv.url}/indexes/{INDEX}/docs/search", json=SEARCH).raise_for_status()
                    http.append(time.perf_counter() - t)
                stop = threading.Event()
                attacks = [0]

                def attack() -> None:
                    with httpx.Client(timeout=120, headers={"api-key": QUERY_KEY}) as c:
                        while not stop.is_set():
                            for body in ATTACKS:
                                c.post(f"{srv.url}/indexes/{INDEX}/docs/search", json=body)
                                attacks[0] += 1

                workers = [threading.Thread(target=attack) for _ in range(2)]
                for w in workers:
                    w.start()
                busy = health_latencies(client, srv.url, args.repeat)
                stop.set()
                for w in workers:
                    w.join()
                refusal_s, sent = chunked_no_key(srv.url)
            store = IndexStore(root / "index", root / "archive")
            engine = SearchEngine(store)
            direct = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                engine.search(INDEX, from_body(SEARCH))
                direct.append(time.perf_counter() - t)
            out["search_http_p50_ms"] = round(pct(http, 0.5), 2)
            out["search_engine_p50_ms"] = round(pct(direct, 0.5), 2)
            out["web_overhead_ratio_p50"] = round(statistics.median(http) / statistics.median(direct), 2)
            out["health_idle_p50_ms"] = round(pct(idle, 0.5), 2)
            out["health_idle_p95_ms"] = round(pct(idle, 0.95), 2)
            out["health_under_attack_p50_ms"] = round(pct(busy, 0.5), 2)
            out["health_under_attack_p95_ms"] = round(pct(busy, 0.95), 2)
            out["health_under_attack_max_ms"] = round(max(busy) * 1000, 2)
            out["health_attack_ratio_p95"] = round(pct(busy, 0.95) / pct(idle, 0.95), 2)
            out["attack_searches_sent"] = attacks[0]
            out["chunked_600mb_no_key_refused_ms"] = round(refusal_s * 1000, 2)
            out["chunked_600mb_no_key_mb_sent"] = round(sent / 2**20, 1)
    if args.json:
        print(json.dumps(out))
        return
    for key, value in out.items():
        print(f"{key:36} {value}")


if __name__ == "__main__":
    main()
