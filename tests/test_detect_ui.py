"""The Rules page and its API: rules of the rules folder (and files that do not load), backtests with alerts per
day drawn as a chart, in process through FastAPI and in real headless Chromium against `huntvault serve`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from huntvault import config as configmod
from huntvault.web.app import create_app
from tests.support.browser import (
    ADMIN_KEY,
    QUERY_KEY,
    VIEWPORT,
    browser,
    chromium_available,
    screenshot,
    serve,
)
from tests.support.detect import FIXTURES, RULES_DIR, EmulatedArchive, build_archive

QUERY = {"api-key": QUERY_KEY}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[EmulatedArchive, Path]:
    root = tmp_path_factory.mktemp("detect-ui")
    story = build_archive(root / "archive")
    rules = root / "rules"
    shutil.copytree(RULES_DIR, rules)
    shutil.copy(FIXTURES / "sigma" / "proc_creation_shadow_copy_deletion.yml", rules)
    shutil.copy(FIXTURES / "sigma-broken" / "proc_creation_unknown_field.yml", rules)
    config = root / "huntvault.toml"
    config.write_text(
        f'[archive]\npath = "{story.path.as_posix()}"\n\n[index]\npath = "{(root / "index").as_posix()}"\n\n'
        f'[detect]\nrules_dir = "{rules.as_posix()}"\n',
        encoding="utf-8",
    )
    return story, config


@pytest.fixture(scope="module")
def client(site: tuple[EmulatedArchive, Path]) -> Iterator[TestClient]:
    story, config = site
    cfg = configmod.load(config, env={})
    cfg.server.admin_key, cfg.server.query_key = ADMIN_KEY, QUERY_KEY
    with TestClient(create_app(cfg, archive_dir=story.path)) as c:
        yield c


def test_rules_api_lists_rules_and_the_files_that_do_not_load(client: TestClient) -> None:
    resp = client.get("/api/detect/rules", headers=QUERY)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    ids = {r["id"] for r in body["rules"]}
    assert len(ids) == 9 and "3c1a6f02-5b7e-4d0c-9e55-0a1f2b3c4d04" in ids
    sigma = next(r for r in body["rules"] if r["shape"] == "sigma")
    assert sigma["tactics"] == ["Impact"] and sigma["query"].startswith("DeviceProcessEvents")
    (problem,) = body["problems"]
    assert problem["field"] == "detection.selection.ServiceSignature|contains" and problem["line"] == 13
    assert client.get("/api/detect/rules").status_code == 401


def test_backtest_api_returns_the_report(client: TestClient) -> None:
    body = {"rule": "hv-brute-force-public-ip", "from": "2026-10-31", "to": "2026-10-31"}
    resp = client.post("/api/detect/backtest", json=body, headers=QUERY)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["path"] == "one-pass" and report["alerts"] == 1 and report["windows"] == 24
    assert report["daily"] == [{"day": "2026-10-31", "alerts": 1}, {"day": "2026-11-01", "alerts": 0}]
    assert report["entities"]["ip"] == {"192.0.2.200": 1} and report["busiest_windows"][0]["alerts"] == 1


@pytest.mark.parametrize(
    "body,words",
    [
        ({"rule": "nope", "from": "2026-10-31", "to": "2026-10-31"}, "no rule with id 'nope'"),
        (
            {"rule": "rules/antivirus-detection.yaml", "from": "2026-10-31", "to": "2026-10-31"},
            "no rule with id",
        ),
        ({"rule": "hv-antivirus-detection", "from": "soon", "to": "2026-10-31"}, "not a date"),
        ({"rule": "hv-antivirus-detection", "from": "2026-10-31", "to": "2026-10-30"}, "--to must be after"),
        ({"rule": "hv-antivirus-detection", "from": "2026-10-31"}, "to"),
        ({"rule": "hv-antivirus-detection", "from": "2026-10-31", "to": "2026-10-31", "mode": "x"}, "mode"),
    ],
)
def test_backtest_api_bad_input_is_a_400(client: TestClient, body: dict[str, Any], words: str) -> None:
    resp = client.post("/api/detect/backtest", json=body, headers=QUERY)
    assert resp.status_code == 400, resp.text
    assert words in resp.json()["error"]["message"]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium (make setup installs it)")
def test_rules_page_backtests_and_draws_alerts_per_day(site: tuple[EmulatedArchive, Path]) -> None:
    story, config = site
    env = {"HUNTVAULT_ADMIN_KEY": ADMIN_KEY, "HUNTVAULT_QUERY_KEY": QUERY_KEY}
    with (
        serve(config, story.path, env, config.parent / "serve.log", ready_key=QUERY_KEY) as srv,
        browser() as b,
    ):
        context = b.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{srv.url}/ui/rules")
        page.locator("#key-dialog").wait_for(state="visible")
        page.fill("#key-input", QUERY_KEY)
        page.keyboard.press("Enter")
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("#rules-list tbody tr").count() == 9
        expect(page.locator("#rules-problems")).to_contain_text("ServiceSignature")
        page.select_option("#backtest-rule", "3c1a6f02-5b7e-4d0c-9e55-0a1f2b3c4d04")
        page.fill("#backtest-from", "2026-10-30")
        page.fill("#backtest-to", "2026-10-31")
        page.click("#backtest-run")
        page.wait_for_selector("body[data-backtest=done]")
        expect(page.locator("#backtest-summary")).to_contain_text("1 alerts in 48 windows · one-pass")
        chart = page.locator("#backtest-chart svg[data-kind=columnchart]")
        assert chart.count() == 1 and "Alerts per day" in chart.inner_html()
        expect(page.locator("#backtest-entities")).to_contain_text("srv-0001.contoso.com")
        assert page.locator("#backtest-busiest tbody tr").count() >= 1
        chart.scroll_into_view_if_needed()
        screenshot(page, "rules-backtest")
        page.select_option("#backtest-rule", "hv-antivirus-detection")
        page.fill("#backtest-from", "2026-11-02")
        page.click("#backtest-run")
        expect(page.locator("#backtest-error")).to_contain_text("--to must be after --from")
        context.close()
        assert not errors, errors
