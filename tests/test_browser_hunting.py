"""The hunting UI in real headless Chromium: schema browser, autocomplete, time range, hit histogram, grid and record
inspector, shareable URLs, keyboard, device timeline, alert -> hunt pivots (screenshots: test-artifacts/browser/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from huntvault.archive import open_catalog
from huntvault.web import start_background_server
from tests.support.azurite import free_port
from tests.support.browser import QUERY_KEY, browser, chromium_available, screenshot
from tests.support.hunting import DETECT_WINDOWS, HuntingWorld, build_hunting_world, hunting_config

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium (make setup installs it)"),
]
TIMEOUT = 60_000
WIDE = {"width": 1400, "height": 900}
NARROW = {"width": 420, "height": 900}
ROW_CAP = 400  # [hunt].row_cap: results past it are truncated, the histogram still counts every hit
expect.set_options(timeout=TIMEOUT)  # hunts on a loaded 2-core machine can take seconds


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> HuntingWorld:
    return build_hunting_world(tmp_path_factory.mktemp("hunting-ui"), days=0.5, detect=True)


@pytest.fixture(scope="module")
def base(world: HuntingWorld) -> Iterator[str]:
    cfg = hunting_config(world)
    cfg.hunt.row_cap = ROW_CAP
    srv = start_background_server(cfg, world.archive, port=free_port(), start_indexer=False)
    try:
        yield srv.url
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def page(base: str) -> Iterator[Any]:
    """One tab for the module, holding the query key in its session (the key dialog is tested elsewhere)."""
    with browser() as b:
        context = b.new_context(viewport=WIDE)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        context.add_init_script(
            f"if (location.protocol === 'http:') sessionStorage.setItem('huntvault.apiKey', {QUERY_KEY!r})"
        )
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        yield pg
        assert not errors, errors
        context.close()


def direct(world: HuntingWorld, sql: str) -> list[tuple[Any, ...]]:
    con = open_catalog(world.archive)
    try:
        return [tuple(r) for r in con.sql(sql).fetchall()]
    finally:
        con.close()


def iso(t: Any) -> str:
    return (
        str(t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC))
        .replace(" ", "T")
        .replace("+00:00", "Z")
    )


def open_page(page: Any, url: str) -> None:
    """A fresh load of `url` (a link differing only in its fragment would not reload the page)."""
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")


def ran(page: Any, before: str | None) -> None:
    """Waits for the next finished hunt and its histogram (the page counts its runs in data attributes)."""
    page.wait_for_function(
        "([b]) => document.body.dataset.ran && document.body.dataset.ran !== b && "
        "document.body.dataset.histogram === document.body.dataset.ran",
        arg=[before or ""],
    )


def run_count(page: Any) -> str | None:
    value = page.evaluate("document.body.dataset.ran || null")
    return str(value) if value is not None else None


def column(page: Any, box: str, name: str) -> list[str]:
    return list(
        page.evaluate(
            """([box, name]) => {
            const heads = [...document.querySelectorAll(`${box} table.grid thead .name`)].map((n) => n.textContent);
            const i = heads.indexOf(name);
            return [...document.querySelectorAll(`${box} table.grid tbody tr[data-pos]`)].map((tr) => tr.children[i].textContent);
        }""",
            [box, name],
        )
    )


def test_schema_browser_autocomplete_and_keyboard_run(page: Any, base: str, world: HuntingWorld) -> None:
    open_page(page, f"{base}/ui/hunt#q=")
    page.fill("#kql", "")
    # the schema browser: tables with data, their row counts, columns with KQL types; filtering by a column
    tables = page.locator("#schema-tables details")
    assert tables.count() > 10
    dpe = page.locator("#schema-tables details[data-table=DeviceProcessEvents]")
    ((rows,),) = direct(world, 'SELECT count(*) FROM "DeviceProcessEvents"')
    assert dpe.locator(".rows").inner_text() == f"{rows:,}"
    page.fill("#schema-filter", "RemoteIP")
    expect(page.locator("#schema-tables details[data-table=DeviceNetworkEvents]")).to_have_attribute(
        "open", ""
    )
    net_cols = page.locator(
        "#schema-tables details[data-table=DeviceNetworkEvents] .col-name"
    ).all_inner_texts()
    assert "RemoteIP" in net_cols and "RemoteIPType" in net_cols and "DeviceName" not in net_cols
    screenshot(page, "hunting-schema-filter")
    page.fill("#schema-filter", "")
    # click-to-insert: the table (on an empty editor it starts a query), then a column from the keyboard
    page.click("#schema-tables button.table-name[data-table=DeviceNetworkEvents]")
    assert page.input_value("#kql") == "DeviceNetworkEvents\n| "
    page.keyboard.type("where RemoteP")  # the editor has the focus back
    suggestions = page.locator("#ac-list li")
    expect(suggestions.first).to_be_visible()
    assert suggestions.first.inner_text().split("\n") == [
        "RemotePort",
        "column · int",
    ]  # the table's column, typed
    page.keyboard.press("Enter")  # accepts
    assert page.input_value("#kql") == "DeviceNetworkEvents\n| where RemotePort"
    page.keyboard.type(" == 443\n| summarize n = dco")
    expect(suggestions.first).to_contain_text("dcount")
    assert "aggregate" in suggestions.first.inner_text()
    page.keyboard.press("Tab")
    assert page.input_value("#kql").endswith("summarize n = dcount()")  # the caret is inside the parentheses
    page.keyboard.type("RemoteI")
    page.keyboard.press("Control+Space")
    expect(page.locator("#ac-list li[aria-selected=true]")).to_contain_text("RemoteIP")
    screenshot(page, "hunting-autocomplete")
    page.keyboard.press("Enter")
    page.keyboard.press("End")
    page.keyboard.type(" by RemoteIPType\n| ")
    expect(suggestions.first).to_be_hidden()
    page.keyboard.press("Control+Space")  # after a pipe: the engine's tabular operators
    ops = [w.split("\n")[0] for w in suggestions.all_inner_texts()]
    assert {"where", "summarize", "project", "join"} <= set(ops)
    page.keyboard.press("Escape")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    before = run_count(page)
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "([b]) => document.body.dataset.ran && document.body.dataset.ran !== b", arg=[before or ""]
    )
    assert page.inner_text("#hunt-error") == ""
    ((n443,),) = direct(
        world,
        'SELECT count(DISTINCT "RemoteIP") FROM "DeviceNetworkEvents" WHERE "RemotePort" = 443',
    )
    grid_n = sum(int(v.replace(",", "")) for v in column(page, "#hunt-grid", "n"))
    assert grid_n >= n443 > 0  # distinct IPs per IP type add up to at least the distinct IPs


def test_time_range_histogram_grid_inspector_and_url(page: Any, base: str, world: HuntingWorld) -> None:
    ((lo, hi),) = direct(world, 'SELECT min("Timestamp"), max("Timestamp") FROM "DeviceNetworkEvents"')
    ((total,),) = direct(world, 'SELECT count(*) FROM "DeviceNetworkEvents" WHERE "RemoteIP" <> \'\'')
    assert total > ROW_CAP
    query = (
        "DeviceNetworkEvents\n| where isnotempty(RemoteIP)\n"
        "| project Timestamp, DeviceName, RemoteIP, RemoteUrl, InitiatingProcessCommandLine"
    )
    open_page(page, f"{base}/ui/hunt#q={quote(query)}&run=1")
    ran(page, None)
    # a truncated result: the grid holds the first rows, the histogram counts every hit with the engine
    assert page.inner_text("#hunt-summary").startswith(f"{ROW_CAP} rows (truncated)")
    bars = page.locator("#hist-chart rect.bar")
    counts = [int(c) for c in bars.evaluate_all("rs => rs.map((r) => r.dataset.count)")]
    assert sum(counts) == total and len(counts) > 5
    assert f"{total:,} hits over Timestamp (all of them" in page.inner_text("#hist-summary")
    # values are shown whole: no IP or URL is cut, command lines up to the cap, then wrapping shows them
    for name in ("RemoteIP", "DeviceName"):
        cut = page.evaluate(
            """(name) => { const heads = [...document.querySelectorAll('#hunt-grid thead .name')].map((n) => n.textContent);
            const i = heads.indexOf(name);
            return [...document.querySelectorAll('#hunt-grid tbody tr[data-pos]')].filter((tr) => tr.children[i].scrollWidth > tr.children[i].clientWidth).length; }""",
            name,
        )
        assert cut == 0, name
    grid_width = page.evaluate(
        "document.querySelector('#hunt-grid .grid-wrap').getBoundingClientRect().width"
    )
    assert grid_width > 1000  # full width: the grid spans the page beside the schema
    screenshot(page, "hunting-histogram-grid")
    page.keyboard.press("w")  # wrap long values
    assert page.get_attribute("#wrap-toggle", "aria-pressed") == "true"
    assert page.evaluate("document.querySelector('#hunt-grid table.grid').classList.contains('wrap')")
    assert "wrap=1" in page.evaluate("location.hash")
    # keyboard: g focuses the grid, arrows move, Enter opens the inspector on that record
    page.keyboard.press("g")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    active = page.locator("#hunt-grid td.active")
    ip = active.inner_text()
    assert re.fullmatch(r"[0-9a-f.:]+", ip), ip
    page.keyboard.press("Enter")
    insp = page.locator("#inspector")
    expect(insp).to_be_visible()
    assert insp.locator("#inspector-title").inner_text() == f"Record 3 of {ROW_CAP}"
    field = insp.locator(".field[data-field=RemoteIP]")
    assert field.locator("pre.value").inner_text() == ip
    assert field.locator("a[data-pivot=ip]").inner_text() == "Hunt this IP address"
    cmd = insp.locator(".field[data-field=InitiatingProcessCommandLine] pre.value").inner_text()
    screenshot(page, "hunting-inspector")
    # copy the record as JSON
    page.click("#inspector-copy")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert f'"RemoteIP": "{ip}"' in copied and cmd.replace("\\", "\\\\").replace('"', '\\"') in copied
    insp.locator("#insp-tab-json").click()
    assert f'"RemoteIP": "{ip}"' in insp.locator("#insp-json").inner_text()
    page.keyboard.press("Escape")
    expect(insp).to_be_hidden()
    # + on a cell keeps only rows with its value: a where is added to the query and run
    before = run_count(page)
    page.keyboard.press("+")
    ran(page, before)
    assert page.input_value("#kql").endswith(f'| where RemoteIP == "{ip}"')
    ((with_ip,),) = direct(world, f'SELECT count(*) FROM "DeviceNetworkEvents" WHERE "RemoteIP" = \'{ip}\'')
    assert page.inner_text("#hunt-summary").startswith(f"{with_ip} rows")
    # the time range: a custom UTC range is applied as a where on Timestamp, shown, and kept in the URL
    start, end = lo + (hi - lo) / 4, lo + (hi - lo) / 2
    page.fill("#kql", query)
    page.select_option("#hunt-time-range", "custom")
    page.fill("#hunt-time-from", start.strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#hunt-time-to", end.strftime("%Y-%m-%dT%H:%M:%S"))
    before = run_count(page)
    page.click("#hunt-run")
    ran(page, before)
    s, e = iso(start.replace(microsecond=0)), iso(end.replace(microsecond=0))
    # the filter the server applied (it echoes the window): a where on each table's time column
    assert (
        page.inner_text("#applied-filter")
        == f"where Timestamp >= datetime({s}) and Timestamp < datetime({e})"
    )
    ((in_range,),) = direct(
        world,
        f'SELECT count(*) FROM "DeviceNetworkEvents" WHERE "RemoteIP" <> \'\' '
        f"AND \"Timestamp\" >= '{s}'::TIMESTAMPTZ AND \"Timestamp\" < '{e}'::TIMESTAMPTZ",
    )
    shown = column(page, "#hunt-grid", "Timestamp")
    assert all(s[:19] <= t[:19] < e[:19] for t in shown)
    counts = [int(c) for c in bars.evaluate_all("rs => rs.map((r) => r.dataset.count)")]
    assert sum(counts) == in_range
    url = page.evaluate("location.href")
    assert "from=" in url and "to=" in url and "run=1" in url and "wrap=1" in url
    # the histogram zooms: keyboard picks the busiest bar, Enter narrows the range to it and runs again
    busiest = max(range(1, len(counts) - 1), key=lambda i: counts[i])  # whole bins (the ends may be cut)
    page.focus("#hist-chart svg")
    for _ in range(busiest + 1):
        page.keyboard.press("ArrowRight")
    before = run_count(page)
    page.keyboard.press("Enter")
    ran(page, before)
    assert page.inner_text("#hunt-summary").startswith(f"{counts[busiest]} rows")
    screenshot(page, "hunting-time-range")
    # the shared address opens the same view in a new tab: query, range, wrap, results
    shared = page.evaluate("location.href")
    other = page.context.new_page()
    other.goto(shared)
    other.wait_for_selector("body[data-ready=true]")
    ran(other, None)
    assert other.input_value("#kql") == query
    assert other.input_value("#hunt-time-range") == "custom"
    assert other.inner_text("#hunt-summary").startswith(f"{counts[busiest]} rows")
    assert other.get_attribute("#wrap-toggle", "aria-pressed") == "true"
    other.close()
    # ? lists the shortcuts
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("?")
    dialog = page.locator("#keys-dialog")
    expect(dialog).to_be_visible()
    listed = dialog.inner_text()
    for needle in (
        "Ctrl+Enter",
        "Ctrl+Space",
        "Inspect the record",
        "Copy the cell",
        "Keep only",
        "zoom the time range",
    ):
        assert needle in listed, needle
    screenshot(page, "hunting-shortcuts")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.keyboard.press("w")  # back to one-line cells for the next tests


def test_fork_results_are_one_button_per_table(page: Any, base: str, world: HuntingWorld) -> None:
    open_page(page, f"{base}/ui/hunt#q=")
    page.fill("#kql", "DeviceProcessEvents\n| fork (count) Names=(summarize n = count() by DeviceName)")
    before = run_count(page)
    page.click("#hunt-run")
    page.wait_for_function(
        "([b]) => document.body.dataset.ran && document.body.dataset.ran !== b", arg=[before or ""]
    )
    assert page.inner_text("#hunt-error") == ""
    ((total,),) = direct(world, 'SELECT count(*) FROM "DeviceProcessEvents"')
    buttons = page.locator("#hunt-tables button")
    expect(buttons).to_have_count(2)
    assert buttons.nth(0).get_attribute("aria-pressed") == "true"
    assert [int(v.replace(",", "")) for v in column(page, "#hunt-grid", "Count")] == [total]
    buttons.nth(1).click()  # the second table: its own columns and rows
    expect(buttons.nth(1)).to_have_attribute("aria-pressed", "true")
    assert sum(int(v.replace(",", "")) for v in column(page, "#hunt-grid", "n")) == total
    screenshot(page, "hunting-fork-tables")
    page.fill("#kql", "DeviceProcessEvents | count")
    before = run_count(page)
    page.click("#hunt-run")
    page.wait_for_function(
        "([b]) => document.body.dataset.ran && document.body.dataset.ran !== b", arg=[before or ""]
    )
    expect(page.locator("#hunt-tables")).to_be_hidden()  # one table: no buttons


def test_device_timeline(page: Any, base: str, world: HuntingWorld) -> None:
    device_tables = direct(
        world,
        "SELECT DISTINCT table_name FROM information_schema.columns WHERE column_name = 'DeviceName' "
        "AND table_name IN (SELECT table_name FROM information_schema.columns WHERE column_name = 'Timestamp')",
    )
    tables = sorted(t for (t,) in device_tables if direct(world, f'SELECT count(*) FROM "{t}"')[0][0])
    per_device: dict[str, int] = {}
    for t in tables:
        for name, n in direct(
            world, f'SELECT "DeviceName", count(*) FROM "{t}" WHERE "DeviceName" <> \'\' GROUP BY 1'
        ):
            per_device[name] = per_device.get(name, 0) + n
    # without a device: the devices seen, busiest first by last activity; a row opens its timeline
    open_page(page, f"{base}/ui/device")
    page.wait_for_function("() => document.body.dataset.loaded")
    listed = dict(
        zip(column(page, "#device-grid", "DeviceName"), column(page, "#device-grid", "Events"), strict=True)
    )
    assert {k: int(v.replace(",", "")) for k, v in listed.items()} == per_device
    screenshot(page, "device-list")
    device = max(per_device, key=lambda d: per_device[d])
    row = [d for d in column(page, "#device-grid", "DeviceName")].index(device)
    page.locator("#device-grid tbody tr[data-pos]").nth(row).locator("td").first.click()
    page.wait_for_function(
        "([d]) => location.hash.includes(encodeURIComponent(d)) && document.body.dataset.loaded !== '1'",
        arg=[device],
    )
    expect(page.locator("#device-summary")).to_contain_text(f"newest events of {device}")
    times = column(page, "#device-grid", "Timestamp")
    assert len(times) == 100 and times == sorted(times, reverse=True)  # newest first, 100 per grid page
    ((newest,),) = direct(
        world,
        " UNION ALL ".join(
            f'SELECT max("Timestamp") FROM "{t}" WHERE "DeviceName" = \'{device}\'' for t in tables
        ).join(["SELECT max(m) FROM (", ") AS x(m)"]),
    )
    assert times[0] == iso(newest)
    shown_tables = set(column(page, "#device-grid", "Table"))
    assert len(shown_tables) >= 3 and shown_tables <= set(tables)
    # the histogram counts every event of the device in the range (not only the page shown)
    page.wait_for_function("() => !document.getElementById('device-histogram').hidden")
    bars = page.locator("#device-hist-chart rect.bar").evaluate_all(
        "rs => rs.map((r) => Number(r.dataset.count))"
    )
    assert sum(bars) == per_device[device]
    # older events page in below; nothing is shown twice
    page.click("#device-older")
    # (the next page starts at the oldest instant shown, so an event sharing it is read again and dropped)
    expect(page.locator("#device-summary")).to_contain_text(re.compile(r"^(399|400) newest events"))
    assert (
        page.locator("#device-grid .pager .hint").inner_text().startswith("rows 201–300")
    )  # where it went on
    # the inspector shows the whole event, with pivots to hunts and a ±5 min timeline
    page.locator("#device-grid tbody tr[data-pos]").nth(1).locator("td").nth(3).click()
    insp = page.locator("#inspector")
    expect(insp).to_be_visible()
    assert insp.locator(".field[data-field=DeviceName] pre.value").inner_text() == device
    assert insp.locator("[data-action=hunt-event]").count() == 1
    screenshot(page, "device-timeline")
    before = page.evaluate("document.body.dataset.loaded")
    insp.locator("[data-action=zoom]").click()
    page.wait_for_function("([b]) => document.body.dataset.loaded !== b", arg=[before])
    h = page.evaluate("location.hash")
    assert "from=" in h and "to=" in h
    zoomed = column(page, "#device-grid", "Timestamp")
    assert zoomed and all(t[:19] >= zoomed[-1][:19] for t in zoomed)
    # "Open the query in Hunting" shows the very KQL the timeline ran
    href = page.get_attribute("#device-hunt", "href")
    assert href.startswith("/ui/hunt#q=") and "union%20withsource%3DTable" in href


def test_alert_to_hunt_pivot(page: Any, base: str, world: HuntingWorld) -> None:
    with_hash = [a for a in world.alerts if any(e.get("sha1") for e in a["evidence"])]
    open_page(page, f"{base}/ui/alerts")
    cards = page.locator("article.alert-card")
    assert cards.count() == len(world.alerts)
    # the filter is kept in the URL
    alert = (
        next(a for a in with_hash if "LSASS" in a["title"])
        if any("LSASS" in a["title"] for a in with_hash)
        else with_hash[0]
    )
    page.fill("#alerts-filter", alert["id"])
    assert page.evaluate("location.hash") == f"#filter={alert['id']}"
    card = page.locator(f"article.alert-card[data-alert='{alert['id']}']")
    expect(card).to_be_visible()
    assert (
        card.locator("a[data-pivot=timeline]")
        .get_attribute("href")
        .startswith(f"/ui/device#device={quote(alert['computerDnsName'], safe='')}&from=")
    )
    screenshot(page, "alerts-pivots")
    card.locator("a[data-pivot=hunt]").click()
    page.wait_for_selector("body[data-ready=true]")
    ran(page, None)
    query = page.input_value("#kql")
    assert (
        query.startswith(f"// Alert {alert['id']}") and f'DeviceName =~ "{alert["computerDnsName"]}"' in query
    )
    sha1s = {e["sha1"] for e in alert["evidence"] if e.get("sha1")}
    assert all(s in query for s in sha1s)
    assert page.input_value("#hunt-time-range") == "custom"
    shown = page.evaluate(
        "() => [...document.querySelectorAll('#hunt-grid tbody tr[data-pos]')].map((tr) => tr.textContent)"
    )
    assert shown and any(any(s in row for s in sha1s) for row in shown)  # the evidence is in the archive
    assert set(column(page, "#hunt-grid", "DeviceName")) == {alert["computerDnsName"]}
    screenshot(page, "alerts-pivot-hunt")


def test_rules_page_last_run_alerts_and_their_hunts(page: Any, base: str, world: HuntingWorld) -> None:
    raised = direct(
        world,
        'SELECT "RuleId", "AlertId", "WindowStart", "WindowEnd" FROM "HuntvaultAlerts" ORDER BY "Timestamp" DESC',
    )
    open_page(page, f"{base}/ui/rules")
    page.wait_for_function("() => document.body.dataset.detections !== undefined")
    rows = page.locator("#rules-list tbody tr")
    assert rows.count() == 2
    for rule_id in ("hv-lsass-memory-access", "hv-psexec-remote-service"):
        row = page.locator("#rules-list tbody tr", has_text=rule_id)
        cells = row.locator("td").all_inner_texts()
        assert cells[6].startswith("2026-10-31 ")  # the last window the scheduler ran
        assert cells[7] == str(DETECT_WINDOWS) and cells[8] == "1"
    # the alerts raised: per day (one series per rule) and listed, newest first
    assert page.inner_text("#detections-count") == f"{len(raised)} alerts"
    assert column(page, "#detections-grid", "RuleId") == [r[0] for r in raised]
    series = page.locator("#detections-chart svg g.series").evaluate_all(
        "gs => gs.map((g) => g.dataset.series)"
    )
    assert sorted(series) == sorted({r[0] for r in raised})
    screenshot(page, "rules-last-run-alerts")
    # a rule's Alerts count filters the list, and the URL keeps it
    page.click("#rules-list button[data-alerts=hv-lsass-memory-access]")
    page.wait_for_function("() => document.body.dataset.detections === '1'")
    assert "alerts=hv-lsass-memory-access" in page.evaluate("location.hash")
    assert column(page, "#detections-grid", "RuleId") == ["hv-lsass-memory-access"]
    # alert -> hunt: the rule's query over the window that raised it
    page.locator("#detections-grid tbody tr[data-pos]").first.locator("td").nth(2).click()
    link = page.locator("#inspector a[data-action=hunt-window]")
    expect(link).to_be_visible()
    window = next(r for r in raised if r[0] == "hv-lsass-memory-access")
    link.click()
    page.wait_for_selector("body[data-ready=true]")
    ran(page, None)
    assert page.input_value("#kql").startswith("// Rule hv-lsass-memory-access: LSASS memory accessed")
    assert page.inner_text("#applied-filter") == (
        f"where Timestamp >= datetime({iso(window[2])}) and Timestamp < datetime({iso(window[3])})"
    )
    stamps = column(page, "#hunt-grid", "Timestamp")
    assert stamps and all(iso(window[2]) <= t < iso(window[3]) for t in stamps)
    assert set(column(page, "#hunt-grid", "DeviceName")) == {"wks-0001.contoso.com"}
    screenshot(page, "rules-alert-hunt")
    # a backtest is a shareable view too: the link opens the page and runs it
    open_page(page, f"{base}/ui/rules#rule=hv-psexec-remote-service&from=2026-10-31&to=2026-10-31&backtest=1")
    page.wait_for_selector("body[data-backtest=done]")
    expect(page.locator("#backtest-summary")).to_contain_text("1 alerts in 24 windows")
    assert page.locator("#backtest-chart svg[data-kind=columnchart]").count() == 1
    hunt_window = page.locator("#backtest-busiest a.pivot").first
    assert hunt_window.get_attribute("href").startswith("/ui/hunt#q=%2F%2F%20Rule%20hv-psexec-remote-service")
    page.locator("#backtest-chart").scroll_into_view_if_needed()
    screenshot(page, "rules-backtest-from-link")


@pytest.mark.parametrize("slug", ["hunt", "device", "alerts"])
def test_narrow_window(page: Any, base: str, slug: str) -> None:
    page.set_viewport_size(NARROW)
    try:
        if slug == "hunt":
            open_page(page, f"{base}/ui/hunt#q={quote('DeviceProcessEvents | take 50')}&run=1")
            ran(page, None)
            page.locator("#hunt-grid tbody tr[data-pos]").first.locator("td").nth(5).click()
            expect(page.locator("#inspector")).to_be_visible()
            assert (
                page.get_attribute("#schema-toggle", "aria-expanded") == "false"
            )  # folded on narrow screens
        elif slug == "device":
            open_page(page, f"{base}/ui/device#device=srv-0001.contoso.com")
            page.wait_for_function("() => document.body.dataset.loaded")
        else:
            open_page(page, f"{base}/ui/alerts")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        screenshot(page, f"narrow-{slug}-timeline" if slug == "device" else f"narrow-{slug}-hunting")
    finally:
        page.set_viewport_size(WIDE)
