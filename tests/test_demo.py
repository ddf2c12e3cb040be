"""The `make demo` pipeline end to end at a small size: every planted attack is found by its example hunt, the
detection rules raise alerts, and every link the demo prints opens in Chromium and shows data."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pytest
from playwright.sync_api import expect
from rich.console import Console

from huntvault.demo import STORY_HUNTS, DemoOptions, DemoState, run, sample_query
from huntvault.kql import execute
from huntvault.web import PAGES
from tests.support.azurite import free_port
from tests.support.browser import browser, chromium_available, screenshot

pytestmark = pytest.mark.slow
TIMEOUT = 60_000
#: os.environ before the demo ran and while it serves (the demo must not write it)
ENVIRON: dict[str, dict[str, str]] = {}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoState, Path]]:
    """The demo at a small size, serving its UI on a free port until the module's tests are done."""
    root = tmp_path_factory.mktemp("demo")
    stop, ready = threading.Event(), threading.Event()
    got: dict[str, Any] = {}

    def serving(state: DemoState) -> None:
        got["state"] = state
        ENVIRON["serving"] = dict(os.environ)
        ready.set()

    opts = DemoOptions(
        root / "demo", devices=6, days=1.0, seed=3, port=free_port(), stop=stop, on_serving=serving
    )
    saved_env = dict(os.environ)
    ENVIRON["before"] = saved_env
    log_path = root / "demo.log"
    log = log_path.open("w")

    def go() -> None:
        try:
            run(opts, console=Console(file=log, width=120))
        except BaseException as exc:  # handed to the test thread
            got["error"] = exc
            ready.set()

    thread = threading.Thread(target=go, name="demo")
    thread.start()
    try:
        ready.wait(900)
        if "error" in got:
            raise got["error"]
        assert "state" in got, "the demo did not start serving"
        log.flush()
        yield got["state"], log_path
    finally:
        stop.set()
        thread.join(60)
        log.close()
        os.environ.clear()
        os.environ.update(saved_env)


def test_demo_pipeline_finds_every_planted_attack(demo: tuple[DemoState, Path]) -> None:
    state, log_path = demo
    manifest = state.manifest
    assert manifest is not None
    # every story the emulator planted has an example hunt, and the hunt's rows name the story's device
    assert {s["name"] for s in manifest.stories} == set(STORY_HUNTS)
    for story in manifest.stories:
        rows = state.hunt_rows[story["name"]]
        assert rows > 0, f"{story['name']}: its example hunt found nothing"
        result = execute(sample_query(STORY_HUNTS[story["name"]]), state.archive_dir)
        cells = {str(v).lower() for col in result.table.columns for v in col.to_pylist()}
        short = story["device_name"].split(".")[0].lower()
        times = [
            v for col in result.table.columns if pa.types.is_timestamp(col.type) for v in col.to_pylist()
        ]
        start = datetime.fromisoformat(story["start"][:19]).replace(tzinfo=UTC) - timedelta(minutes=5)
        end = datetime.fromisoformat(story["end"][:19]).replace(tzinfo=UTC) + timedelta(minutes=5)
        # a row names the story's device, or (for charts binned by time) falls inside the story's window
        assert any(short in c for c in cells) or any(t and start <= t <= end for t in times), story["name"]
    # the archive holds exactly the export's distinct events, and the forwarder delivered to every sink
    from huntvault.archive import status

    archived = {t.table: t.rows for t in status(state.archive_dir).tables}
    for name, t in manifest.tables.items():
        assert archived.get(name) == t.events, name
    log = log_path.read_text()
    assert "dead-lettered" in log and "0 pending" in log
    # progress lines for the long steps, even in a log file (no terminal)
    for what in ("emulate:", "ingest:", "index:", "forward:", "detect:"):
        assert re.search(rf"^{what} .*\(100%\)", log, re.M), what


def test_demo_leaves_the_process_environment_alone(demo: tuple[DemoState, Path]) -> None:
    """The emulator's secrets reach the forwarder through the config's environment, not os.environ."""
    state, _ = demo
    assert state.config is not None and state.config.forward.defender.client_secret  # the forwarder has it
    assert ENVIRON["serving"] == ENVIRON["before"]


def test_demo_runs_every_detection_rule(demo: tuple[DemoState, Path]) -> None:
    state, log_path = demo
    rules = sorted(p.stem for p in Path(__file__).resolve().parents[1].joinpath("rules").glob("*.yaml"))
    assert len(state.rule_alerts) == len(rules)
    # each shipped rule catches its planted attack in the last day
    assert all(n > 0 for n in state.rule_alerts.values()), state.rule_alerts
    alerts = execute("HuntvaultAlerts | summarize n = count() by RuleId", state.archive_dir).rows()
    assert {r["RuleId"]: r["n"] for r in alerts} == state.rule_alerts
    assert "Detection rules over the last 1 day" in log_path.read_text()


def test_demo_prints_one_cli_line_that_works(demo: tuple[DemoState, Path]) -> None:
    import shlex

    from click.testing import CliRunner

    from huntvault.cli import main

    state, log_path = demo
    lines = [ln.strip() for ln in log_path.read_text().splitlines() if " --config " in ln and " hunt " in ln]
    assert len(lines) == 1, lines
    argv = shlex.split(lines[0])
    assert argv[0].endswith("huntvault") and argv[1] == "--config" and argv[3] == "hunt"
    assert Path(argv[2]).resolve() == (state.root / "huntvault.toml").resolve()
    res = CliRunner().invoke(main, argv[1:])
    assert res.exit_code == 0, res.output
    assert "(0 rows)" not in res.output and "psexec" in res.output.lower()


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium (make setup installs it)")
def test_every_printed_link_shows_data(demo: tuple[DemoState, Path]) -> None:
    state, _ = demo
    titles = [t for t, _ in state.links]
    assert len(titles) == len(PAGES) + 3 + 3 + 1, titles  # pages, searches, hunts, detection alerts
    errors: list[str] = []
    with browser() as b:
        for i, (title, url) in enumerate(state.links):
            page = b.new_page(viewport={"width": 1400, "height": 900})  # as a click on a printed link
            page.set_default_timeout(TIMEOUT)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]")
            assert not page.locator("#key-dialog").is_visible()  # the demo serves with --no-auth
            if url.endswith("/ui/status"):
                assert page.locator("#status-tables tbody tr").count() > 0, title
            elif url.endswith("/ui/alerts"):
                assert page.locator("article.alert-card").count() > 0, title
            elif url.endswith("/ui/rules"):  # the demo's rules folder, every rule listed
                rules = len(list(Path(__file__).resolve().parents[1].joinpath("rules").glob("*.y*ml")))
                assert page.locator("#rules-list tbody tr").count() == rules, title
            elif url.endswith("/ui/hunt"):
                assert page.input_value("#kql").strip(), title  # a sample query is ready to run
                assert page.locator("#sample-picker option").count() > 1, title
            elif url.endswith("/ui/device"):  # without a device: the devices seen, each opening its timeline
                page.wait_for_function("() => document.body.dataset.loaded")
                assert page.locator("#device-grid tbody tr[data-pos]").count() > 0, title
            elif "/ui/search" in url:
                table = (
                    title.removeprefix("search ") if title.startswith("search ") else "DeviceProcessEvents"
                )
                # the link's index (a table name for the printed searches) is the one searched, never another
                assert page.locator("#index-picker option:checked").inner_text() == table, title
                assert page.inner_text("#search-error") == "", title
                count = page.inner_text("#search-count")
                assert re.fullmatch(r"[1-9][\d,]* documents", count), (title, count)
                assert page.locator("#search-table tbody tr").count() > 0, title
            else:
                assert "/ui/hunt#" in url, title
                summary = page.inner_text("#hunt-summary")
                assert re.match(r"[1-9][\d,]* rows", summary), (
                    title,
                    summary,
                    page.inner_text("#hunt-error"),
                )
                linked = unquote(url.split("#q=", 1)[1].split("&", 1)[0])
                assert page.input_value("#kql").strip() == linked.strip(), title
            screenshot(page, f"demo-link-{i:02d}")
            page.close()
    assert not errors, errors


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium (make setup installs it)")
def test_search_link_with_an_unknown_index_says_so(demo: tuple[DemoState, Path]) -> None:
    from huntvault.web.ui import search_url

    state, _ = demo
    with browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(TIMEOUT)
        page.goto(search_url(state.url, "DeviceLogonEvent", "search=*"))
        page.wait_for_selector("body[data-ready=true]")
        assert 'No index or table named "DeviceLogonEvent"' in page.inner_text("#search-error")
        assert page.inner_text("#search-count") == ""  # nothing was searched in its place
        # a link followed from the open page (only the #fragment changes) is opened too
        page.goto(search_url(state.url, "devicelogonevents", "search=*&$count=true"))
        expect(page.locator("#search-count")).to_have_text(re.compile(r"documents$"))
        assert page.locator("#index-picker option:checked").inner_text() == "DeviceLogonEvents"
        assert re.fullmatch(r"[1-9][\d,]* documents", page.inner_text("#search-count"))
