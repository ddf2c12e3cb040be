"""The web UI in real headless Chromium against `huntvault serve` (screenshots go to test-artifacts/browser/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from huntvault.web.ui import hunt_url, search_url
from tests.support.browser import (
    QUERY_KEY,
    VIEWPORT,
    Server,
    World,
    browser,
    build_world,
    chromium_available,
    screenshot,
    serve,
)
from tests.support.ingest import archive_counts

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium (make setup installs it)"),
]
TIMEOUT = 60_000
INDEX_DPE = "insights-logs-advancedhunting-deviceprocessevents"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("web-ui"))


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[Server]:
    with serve(world.config, world.archive, world.env, world.root / "serve.log", ready_key=QUERY_KEY) as srv:
        yield srv


@pytest.fixture(scope="module")
def page(server: Server) -> Iterator[Any]:
    """One tab for the whole module: the query key is typed into the key dialog once and kept in the session."""
    with browser() as b:
        context = b.new_context(viewport=VIEWPORT)
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(f"{server.url}/ui/status")
        dialog = pg.locator("#key-dialog")
        dialog.wait_for(state="visible")
        pg.fill("#key-input", "not-the-key")
        pg.keyboard.press("Enter")
        expect(pg.locator("#key-error")).not_to_be_empty(timeout=TIMEOUT)
        assert dialog.is_visible()
        pg.fill("#key-input", QUERY_KEY)
        pg.keyboard.press("Enter")
        pg.wait_for_selector("body[data-ready=true]")
        assert pg.evaluate("sessionStorage.getItem('huntvault.apiKey')") == QUERY_KEY
        assert "query key" in pg.inner_text("#session-info")
        yield pg
        assert not errors, errors
        context.close()


def goto(page: Any, server: Server, slug: str) -> None:
    page.goto(f"{server.url}/ui/{slug}")
    page.wait_for_selector("body[data-ready=true]")
    assert not page.locator("#key-dialog").is_visible()  # the key from the session was reused


def grid_column(page: Any, container: str, name: str) -> list[str]:
    return list(
        page.evaluate(
            """([box, name]) => {
            const heads = [...document.querySelectorAll(`${box} table.grid thead .name`)].map((n) => n.textContent);
            const i = heads.indexOf(name);
            return [...document.querySelectorAll(`${box} table.grid tbody tr`)].map((tr) => tr.children[i].textContent);
        }""",
            [container, name],
        )
    )


def test_search_with_select_and_facet_click(page: Any, server: Server, world: World) -> None:
    goto(page, server, "search")
    assert page.input_value("#index-picker").endswith("deviceprocessevents")
    page.fill(
        "#query-string",
        "search=*&$select=properties/DeviceName,properties/FileName&facet=properties/DeviceName",
    )
    page.press("#query-string", "Enter")
    total = archive_counts(world.archive)["DeviceProcessEvents"]
    expect(page.locator("#search-count")).to_have_text(f"{total:,} documents", timeout=TIMEOUT)
    heads = page.locator("#search-table thead .name").all_inner_texts()
    assert heads == ["@search.score", "properties/DeviceName", "properties/FileName"]
    facet = page.locator("#facets button.facet").first
    value = facet.get_attribute("data-value")
    count = int(facet.locator(".facet-count").inner_text().replace(",", ""))
    assert value and 0 < count < total
    facet.focus()
    page.keyboard.press("Enter")  # facets work from the keyboard
    expect(page.locator("#search-count")).to_have_text(f"{count:,} documents", timeout=TIMEOUT)
    assert f"$filter=properties/DeviceName eq '{value}'" in page.input_value("#query-string")
    shown = grid_column(page, "#search-table", "properties/DeviceName")
    assert shown and set(shown) == {value} and len(shown) == min(count, 50)
    screenshot(page, "search-facet")
    assert count > 50  # the busiest device has more than one page of process events
    page.click("#search-pager button:has-text('Next')")
    expect(page.locator("#search-pager .hint")).to_have_text(re.compile(r"^51–"), timeout=TIMEOUT)
    assert "$skip=50" in page.input_value("#query-string")
    assert set(grid_column(page, "#search-table", "properties/DeviceName")) == {value}
    page.click("#tab-json")
    assert f'"@odata.count": {count}' in page.inner_text("#search-json")
    screenshot(page, "search-json")
    page.click("#tab-table")


def test_hunt_renders_a_timechart(page: Any, server: Server, world: World) -> None:
    goto(page, server, "hunt")
    query = (
        "DeviceNetworkEvents\n| summarize Events = count() by bin(Timestamp, 1h), ActionType\n"
        '| render timechart with (title = "Network events per hour")'
    )
    page.fill("#kql", query)
    page.focus("#kql")
    page.keyboard.press("Control+Enter")
    svg = page.locator("#hunt-chart svg[data-kind=timechart]")
    svg.wait_for()
    assert page.get_attribute("#tab-chart", "aria-selected") == "true"
    series = page.locator("#hunt-chart svg g.series").evaluate_all("gs => gs.map((g) => g.dataset.series)")
    assert series and len(series) == len(set(series)) and all(re.fullmatch(r"[A-Za-z]+", s) for s in series)
    assert page.locator("#hunt-chart svg g.series path").count() == len(series)
    assert page.text_content("#hunt-chart svg .chart-title") == "Network events per hour"
    assert re.match(r"\d+ rows · ", page.inner_text("#hunt-summary"))
    # the KQL is highlighted: table, keywords, function, string
    for cls, text in (
        ("tok-table", "DeviceNetworkEvents"),
        ("tok-keyword", "summarize"),
        ("tok-function", "bin"),
        ("tok-string", '"Network events per hour"'),
    ):
        assert text in page.locator(f"#editor-hl .{cls}").all_inner_texts()
    screenshot(page, "hunt-timechart")
    # the grid behind the chart tab: sort by clicking a header, resize a column from the keyboard
    page.click("#tab-grid")
    page.click("#hunt-grid button.sort:has-text('Events')")
    values = [int(v) for v in grid_column(page, "#hunt-grid", "Events")]
    assert values == sorted(values)
    page.click("#hunt-grid button.sort:has-text('Events')")
    values = [int(v) for v in grid_column(page, "#hunt-grid", "Events")]
    assert values == sorted(values, reverse=True)
    assert page.get_attribute("#hunt-grid th:has(button:has-text('Events'))", "aria-sort") == "descending"
    col = "#hunt-grid colgroup col:nth-child(3)"
    before = page.evaluate(f"document.querySelector('{col}').getBoundingClientRect().width")
    page.keyboard.press("Alt+ArrowRight")
    page.keyboard.press("Alt+ArrowRight")
    after = page.evaluate(f"document.querySelector('{col}').getBoundingClientRect().width")
    assert after == pytest.approx(before + 48, abs=1)
    with page.expect_download() as dl:
        page.click("#dl-csv")
    lines = Path(dl.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Timestamp,ActionType,Events" and len(lines) == len(values) + 1


def test_hunt_syntax_error_is_shown_at_its_position(page: Any, server: Server) -> None:
    goto(page, server, "hunt")
    page.fill("#kql", "DeviceProcessEvents\n| wher FileName == 'x'\n| take 5")
    page.click("#hunt-run")
    mark = page.locator("#editor-hl mark.err-mark")
    mark.wait_for()
    assert mark.inner_text() == "wher"
    before = page.evaluate(
        "(() => { const r = document.createRange(); const hl = document.getElementById('editor-hl');"
        " r.setStart(hl, 0); r.setEndBefore(document.getElementById('err-mark')); return r.toString(); })()"
    )
    assert before == "DeviceProcessEvents\n| "
    assert page.inner_text("#hunt-error").startswith("line 2, column 3: expected a tabular operator")
    assert page.evaluate("document.getElementById('kql').selectionStart") == len("DeviceProcessEvents\n| ")
    assert page.get_attribute("#kql", "aria-invalid") == "true"
    # the mark is drawn where the text is: on the second line, under `wher`
    box = mark.bounding_box()
    line_height = page.evaluate(
        "parseFloat(getComputedStyle(document.getElementById('editor-hl')).lineHeight)"
    )
    top = page.locator("#editor-hl").bounding_box()["y"]
    assert line_height < box["y"] - top < 2 * line_height + 8
    screenshot(page, "hunt-syntax-error")
    # both runs are in the history, newest first
    options = page.locator("#history-picker option").all_inner_texts()
    assert "error" in options[1] and "DeviceProcessEvents" in options[1] and "rows" in options[2]
    page.fill("#kql", "DeviceProcessEvents | take 1")  # typing clears the marker
    assert page.locator("#editor-hl mark").count() == 0


def test_status_page(page: Any, server: Server, world: World) -> None:
    goto(page, server, "status")
    counts = archive_counts(world.archive)
    table = page.locator("#status-tables table")
    row = table.locator("tr", has_text="DeviceProcessEvents")
    assert f"{counts['DeviceProcessEvents']:,}" in row.inner_text()
    assert table.locator("tbody tr").count() == len(counts)
    assert page.locator("#status-sources tbody tr").count() == 1
    assert page.inner_text("#quarantine-count") == "3 quarantined lines"
    assert page.locator("#status-indexers tbody tr").count() == len(counts)
    sinks = {r.split("\t")[0]: r for r in page.locator("#status-forwarder tbody tr").all_inner_texts()}
    assert set(sinks) == {"sentinel", "file", "broken"}
    assert "healthy" in sinks["sentinel"] and f"{len(world.forwarded)} queued" in sinks["broken"]
    screenshot(page, "status")
    page.click("#quarantine-show")
    lines = page.locator("#quarantine-lines tbody tr")
    lines.first.wait_for()
    assert lines.count() == 3 and all("bad JSON" in t or "local" in t for t in lines.all_inner_texts())
    page.locator("#h-quarantine").scroll_into_view_if_needed()
    screenshot(page, "status-quarantine")
    # the open lines are a shareable view
    assert page.evaluate("location.hash") == "#quarantine=1"
    page.goto("about:blank")
    page.goto(f"{server.url}/ui/status#quarantine=1")
    page.wait_for_selector("body[data-ready=true]")
    page.locator("#quarantine-lines tbody tr").first.wait_for()
    assert page.locator("#quarantine-lines tbody tr").count() == 3


def test_alerts_page(page: Any, server: Server, world: World) -> None:
    goto(page, server, "alerts")
    cards = page.locator("article.alert-card")
    assert cards.count() == len(world.forwarded)
    assert {c.get_attribute("data-alert") for c in cards.all()} == {a for a, _ in world.forwarded}
    first = cards.first
    assert first.locator(".machine").inner_text()
    assert first.locator("li[data-sink=sentinel]").inner_text() == "sentinel delivered"
    assert first.locator("li[data-sink=file] .badge").inner_text() == "delivered"
    assert first.locator("li[data-sink=broken] .badge").inner_text() == "queued"
    first.locator("details.evidence summary").click()
    assert first.locator("details.evidence tbody tr").count() >= 1
    screenshot(page, "alerts")
    title = first.locator("h2").inner_text()
    page.fill("#alerts-filter", title)
    assert 1 <= cards.count() < len(world.forwarded) or cards.count() == len(world.forwarded)
    assert all(title in c.locator("h2").inner_text() for c in cards.all())
    page.fill("#alerts-filter", "")


@pytest.mark.parametrize("slug", ["search", "hunt"])
def test_narrow_window(page: Any, server: Server, slug: str) -> None:
    page.set_viewport_size({"width": 420, "height": 800})
    try:
        # the links the demo prints open the page with the query filled in, and run it
        if slug == "hunt":
            page.goto(
                hunt_url(
                    server.url, "DeviceProcessEvents | summarize n = count() by DeviceName | render piechart"
                )
            )
            page.locator("#hunt-chart svg[data-kind=piechart]").wait_for()
        else:
            page.goto(
                search_url(
                    server.url,
                    INDEX_DPE,
                    "search=powershell&$select=properties/FileName&facet=properties/FileName",
                )
            )
            page.locator("#facets button[data-value='powershell.exe']").wait_for()
            assert page.locator("#search-table thead .name").all_inner_texts() == [
                "@search.score",
                "properties/FileName",
            ]
        page.wait_for_selector("body[data-ready=true]")
        # the page itself does not scroll sideways (wide tables scroll inside their own box)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        screenshot(page, f"narrow-{slug}")
    finally:
        page.set_viewport_size(VIEWPORT)
