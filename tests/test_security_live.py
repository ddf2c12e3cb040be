"""The issue's findings as an attacker sends them, against a live `huntvault serve` subprocess on 127.0.0.1.

Each test is one finding of issue #18: files outside the archive, a 600 MB chunked body with no key, the
1,000-term fuzzy search and the catastrophic regex while health keeps answering, a hunt whose client goes
away, a memory-heavy hunt, and SIGTERM with a hunt running. Figures the issue states as acceptance times
are printed (`-s` shows them) and asserted only with generous slack, never as a speed claim.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.browser import Server, serve
from tests.support.search import ADMIN_KEY, INDEX, QUERY_KEY, generate_table, write_archive

pytestmark = pytest.mark.slow

MEMORY_LIMIT_MB = 200
#: a hunt that runs for minutes unless it is stopped
SLOW_HUNT = "range x from 1 to 40000000000 step 1 | summarize count() by x % 1000003 | count"
#: peaks at ~830 MB in a bare process without a memory limit (measured); DuckDB keeps it under the limit
HEAVY_HUNT = (
    'range x from 1 to 8000000 step 1 | extend s = strcat("host-", tostring(x), "-aaaaaaaaaaaaaaaaaaaaaaaa") '
    "| summarize n = count() by s | count"
)


def _config(root: Path) -> Path:
    cfg = root / "huntvault.toml"
    cfg.write_text(
        f'[index]\npath = "{(root / "index").as_posix()}"\npoll_seconds = 5\n'
        f'[hunt]\nmemory_limit = "{MEMORY_LIMIT_MB}MB"\nthreads = 2\n'
        "[server]\nshutdown_grace_seconds = 2\n",
        encoding="utf-8",
    )
    return cfg


def _start(root: Path) -> Generator[Server, None, None]:
    env = {"HUNTVAULT_ADMIN_KEY": ADMIN_KEY, "HUNTVAULT_QUERY_KEY": QUERY_KEY}
    with serve(
        _config(root), root / "archive", env, root / "serve.log", ready_key=ADMIN_KEY, timeout=90
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("security-live")
    write_archive(
        root / "archive", "DeviceProcessEvents", generate_table("DeviceProcessEvents", 5000, seed=9)
    )
    yield from _start(root)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hunt(srv: Server, query: str, key: str | None = QUERY_KEY, timeout: float = 60) -> httpx.Response:
    headers = {"api-key": key} if key else {}
    return httpx.post(f"{srv.url}/api/hunt", json={"query": query}, headers=headers, timeout=timeout)


# -- 1. no file outside the archive, no key ----------------------------------------------------------


@pytest.mark.parametrize("key", [QUERY_KEY, None])
def test_no_file_outside_the_archive_is_readable(server: Server, key: str | None) -> None:
    paths = [
        "/proc/self/environ",
        "/etc/passwd",
        "../../../../etc/passwd",
        "huntvault.toml",
        "/nonexistent/x.txt",
    ]
    messages = set()
    for path in paths:
        resp = hunt(server, f'externaldata(line:string)["{path}"] with(format="txt")', key)
        if key is None:
            assert resp.status_code == 401
            continue
        assert resp.status_code == 400, resp.text
        assert ADMIN_KEY not in resp.text and "root:" not in resp.text
        messages.add(resp.json()["error"]["message"].replace(path, "PATH"))
    assert len(messages) <= 1, messages  # an existing and a missing file give the same answer


# -- 2. a 600 MB chunked body with no key -------------------------------------------------------------


@pytest.mark.parametrize(("key", "status"), [(None, b"401"), (QUERY_KEY, b"413")])
def test_600mb_chunked_body_is_refused_at_once(server: Server, key: str | None, status: bytes) -> None:
    """No key: 401 from the headers alone. A valid key: 413 once the streamed body passes 1 MiB."""
    pid = server.process.pid
    before = rss_mb(pid)
    peak = before
    host, port = server.url.removeprefix("http://").split(":")
    chunk = b"x" * (64 * 1024)
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    answer = b""
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/hunt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + (f"api-key: {key}\r\n".encode() if key else b"")
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        started = time.monotonic()
        sock.setblocking(False)
        while sent < 600 * 1024 * 1024 and b"\r\n\r\n" not in answer:
            try:
                answer += sock.recv(65536)
                if not answer:
                    break
            except BlockingIOError:
                pass
            try:
                sent += sock.send(frame)
            except BlockingIOError:
                time.sleep(0.001)
            except (BrokenPipeError, ConnectionResetError):
                break
            peak = max(peak, rss_mb(pid)) if sent % (64 * 1024 * 64) == 0 else peak
        elapsed = time.monotonic() - started
        sock.setblocking(True)
        while b"\r\n\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    peak = max(peak, rss_mb(pid))
    print(
        f"\n600 MB chunked, key={bool(key)}: answered after {elapsed:.3f} s, {sent / 2**20:.1f} MB sent, RSS +{peak - before:.1f} MB"
    )
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert sent < 600 * 1024 * 1024  # refused before the body was sent
    assert peak - before < 50
    assert elapsed < 5  # the acceptance figure is 1 s; generous slack on a shared machine


# -- 3. the 1,000-term fuzzy search and the catastrophic regex, health answering meanwhile -----------


def test_expensive_searches_are_bounded_while_health_answers(server: Server) -> None:
    url = f"{server.url}/indexes/{INDEX}/docs/search"
    headers = {"api-key": QUERY_KEY}
    attacks = [
        {"search": " ".join(f"term{i}x~2" for i in range(1000)), "queryType": "full"},
        {"search": "/(.*a){20}/", "queryType": "full"},
        # within the bounds but as costly as they allow: they run, on the search workers
        {"search": " ".join(f"term{i}x~2" for i in range(20)), "queryType": "full"},
        {"search": "/.*a.*b.*c.*d/", "queryType": "full"},
    ]
    answers: list[tuple[int, float, str]] = []
    done = threading.Event()

    def attack() -> None:
        try:
            with httpx.Client(timeout=120) as client:
                for body in attacks * 2:
                    t = time.monotonic()
                    resp = client.post(url, json=body, headers=headers)
                    answers.append((resp.status_code, time.monotonic() - t, resp.text[:200]))
        finally:
            done.set()

    worker = threading.Thread(target=attack)
    worker.start()
    health: list[float] = []
    with httpx.Client(timeout=10) as client:
        while not done.is_set():
            t = time.monotonic()
            assert client.get(f"{server.url}/health").status_code == 200
            health.append(time.monotonic() - t)
            time.sleep(0.05)
    worker.join()
    print(
        f"\nhealth: {len(health)} probes, slowest {max(health, default=0):.3f} s; searches: "
        + ", ".join(f"{s} in {d:.2f} s" for s, d, _ in answers)
    )
    statuses = [s for s, _, _ in answers]
    assert statuses[0] == 400 and "search.max_clauses" in answers[0][2]
    assert statuses[1] == 400 and "search.max_regex_unbounded" in answers[1][2]
    assert statuses[2] == 200 and statuses[3] == 200
    assert max(health, default=0) < 5  # issue's figure: 1 s; generous slack


# -- 4. a hunt whose client disconnects stops ------------------------------------------------------


def test_a_hunt_whose_client_disconnects_stops(server: Server) -> None:
    pid = server.process.pid
    with pytest.raises(httpx.ReadTimeout):
        hunt(server, SLOW_HUNT, timeout=1.5)  # the client gives up and closes the connection
    deadline = time.monotonic() + 30
    while "hunt cancelled: the client disconnected" not in server.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the server never noticed the disconnect"
        time.sleep(0.1)
    time.sleep(0.5)
    cpu = cpu_seconds(pid)
    time.sleep(1.0)
    busy = cpu_seconds(pid) - cpu
    print(f"\nafter the disconnect the server used {busy:.2f} s of CPU in 1 s")
    assert busy < 0.5  # the hunt no longer runs (it used 2 threads while it did)
    # its slots are free again: two hunts at once with the same key are within the cap
    assert hunt(server, "print 1").status_code == 200


# -- 5. memory-heavy hunt stays under hunt.memory_limit + 500 MB -------------------------------------


def test_memory_heavy_hunt_stays_under_the_limit(server: Server) -> None:
    pid = server.process.pid
    peak = rss_mb(pid)
    result: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: result.append(hunt(server, HEAVY_HUNT, timeout=300)))
    worker.start()
    while worker.is_alive():
        peak = max(peak, rss_mb(pid))
        time.sleep(0.05)
    print(
        f"\nmemory-heavy hunt: {result[0].status_code}, server RSS peak {peak:.0f} MB (limit {MEMORY_LIMIT_MB} MB + 500)"
    )
    assert result[0].status_code in (200, 400), result[0].text[:300]
    if result[0].status_code == 200:
        assert result[0].json()["rows"] == [[8_000_000]]
    assert peak < MEMORY_LIMIT_MB + 500


# -- 6. SIGTERM with a hunt running ----------------------------------------------------------------


def test_sigterm_stops_the_server_promptly_with_a_hunt_running(tmp_path: Path) -> None:
    write_archive(
        tmp_path / "archive", "DeviceProcessEvents", generate_table("DeviceProcessEvents", 50, seed=2)
    )
    gen = _start(tmp_path)
    srv = next(gen)
    answer: list[httpx.Response | Exception] = []

    def run() -> None:
        try:
            answer.append(hunt(srv, SLOW_HUNT, timeout=120))
        except httpx.HTTPError as exc:
            answer.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(1.5)  # the hunt is running
    started = time.monotonic()
    srv.process.send_signal(signal.SIGTERM)
    code = srv.process.wait(timeout=60)
    stopped = time.monotonic() - started
    worker.join(30)
    print(f"\nSIGTERM with a hunt running: exited {code} after {stopped:.2f} s; the hunt got {answer}")
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after its graceful shutdown
    assert "Traceback" not in srv.log.read_text(errors="replace")
    assert stopped < 15  # shutdown_grace_seconds is 2; generous slack
    assert answer and (isinstance(answer[0], Exception) or answer[0].status_code == 400)
    gen.close()
