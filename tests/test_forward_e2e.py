"""End to end against the emulators on 127.0.0.1 under faults: every alert version arrives exactly once per sink."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from huntvault.archive import archived_tables, open_catalog
from huntvault.cli import main
from huntvault.emulator import log_analytics
from huntvault.emulator.serve import ServerThread
from huntvault.forward import Forwarder
from tests.support.forward import END, arrivals, emulators, forward_config, jsonl_arrivals, visible_versions

ROOT = Path(__file__).resolve().parents[1]


def drain(fw: Forwarder, rounds: int = 10) -> None:
    for _ in range(rounds):
        fw.run_once()
        if fw.state.pending_count() == 0:
            return
    raise AssertionError(f"still {fw.state.pending_count()} queued after {rounds} cycles")


def assert_exactly_once(
    counts: dict[tuple[str, str], int], expected: set[tuple[str, str]], sink: str
) -> None:
    dupes = {k: n for k, n in counts.items() if n != 1}
    assert not dupes, f"{sink}: delivered more than once: {list(dupes.items())[:5]}"
    missing = expected - set(counts)
    assert not missing, f"{sink}: never delivered: {sorted(missing)[:5]}"
    assert set(counts) == expected, f"{sink}: unexpected versions {sorted(set(counts) - expected)[:5]}"


@pytest.mark.slow
def test_every_version_arrives_exactly_once_per_sink_under_faults(tmp_path: Path) -> None:
    start = END - dt.timedelta(hours=40)
    with emulators(tmp_path / "emu", extra_alerts=90, now=start) as emu:
        cfg, _ = forward_config(
            emu, tmp_path, sinks=("sentinel", "legacy", "file"), batch_size=10, extra_forward=""
        )
        fw = Forwarder(cfg)
        expected: set[tuple[str, str]] = set()
        la_faults = emu.la.faults

        def sinks_down() -> None:
            la_faults["logs-ingestion"].down = True  # sinks down for a while
            la_faults["data-collector"].throttle_next = 50
            la_faults["data-collector"].retry_after = 0

        def sinks_back() -> None:
            la_faults["logs-ingestion"].down = False
            la_faults["data-collector"].throttle_next = 0
            restart_la(emu)
            la_faults["logs-ingestion"].reject_matching = bad_alert()  # one bad record
            la_faults["logs-ingestion"].throttle_next = 2
            la_faults["logs-ingestion"].retry_after = 0

        steps: list[Callable[[], object]] = [
            lambda: setattr(
                emu.defender.faults, "throttle_next", 2
            ),  # a 429 storm on the API (Retry-After 1)
            lambda: setattr(emu.defender.faults, "fail_next", 3),  # 500s
            sinks_down,
            lambda: emu.la_server.stop(),  # the whole Log Analytics endpoint is gone
            lambda: None,
            sinks_back,
            lambda: setattr(la_faults["data-collector"], "fail_next", 2),
            lambda: None,
            lambda: None,
        ]
        down_seen = False

        def bad_alert() -> str:  # an alert that still has a version queued for the sentinel sink
            return fw.state.pending("sentinel", 1)[0].alert_id

        for inject in steps:
            emu.defender.clock.advance(6 * 3600)
            inject()
            result = fw.run_once()
            expected |= visible_versions(emu)
            down_seen |= any(r.pending for r in result.sinks.values())
        assert down_seen  # the outage really held records back
        drain(fw)
        assert emu.defender.stats.throttled >= 2 and emu.defender.stats.failed >= 3
        # the rejected record went to the dead-letter folder; replaying it delivers it
        letters = fw.dead.list("sentinel")
        assert (
            letters and len({lt.keys[0][0] for lt in letters}) == 1
        )  # every queued version of the bad alert
        assert all(
            lt.status == 400 and "InvalidDataFormat" in lt.reason and len(lt.records) == 1 for lt in letters
        )
        li = arrivals(emu, "logs-ingestion")
        assert all(li[lt.keys[0][0], lt.records[0]["lastUpdateTime"]] == 0 for lt in letters)
        la_faults["logs-ingestion"].reject_matching = ""  # the receiver was fixed
        replay = fw.replay_dead_letters()
        assert replay["sentinel"].sent == len(letters) and not fw.dead.list()
        fw.close()

        assert len(expected) > len(emu.defender.alerts_now(False))  # updates, not only new alerts
        assert_exactly_once(arrivals(emu, "logs-ingestion"), expected, "sentinel")
        assert_exactly_once(arrivals(emu, "data-collector"), expected, "legacy")
        assert_exactly_once(jsonl_arrivals(tmp_path / "state" / "alerts.jsonl"), expected, "file")
        # what Log Analytics received is the prefixed merge with TimeGenerated and evidence as an array
        rec = emu.la.records("logs-ingestion")[0]
        assert rec["TimeGenerated"] == rec["lastUpdateTime"] and isinstance(rec["evidence"], list)
        assert "MachineId" not in rec and rec["machineId"] and "MachineComputerDnsName" in rec
        dc = emu.la.arrivals[-1]
        assert dc.table in ("MDATPAlerts_CL", "Custom-MDATPAlerts_CL")


def restart_la(emu: object) -> None:
    from huntvault.emulator.serve import Emulators

    assert isinstance(emu, Emulators)
    emu.la_server = ServerThread(log_analytics.create_app(emu.la), emu.la_server.port, emu.tls).start()


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_delivers_exactly_once(tmp_path: Path) -> None:
    with emulators(tmp_path / "emu", extra_alerts=80, now=END + dt.timedelta(hours=6)) as emu:
        _cfg, toml = forward_config(emu, tmp_path, sinks=("sentinel", "file"), batch_size=4, poll_seconds=0.2)
        expected = visible_versions(emu)
        la = emu.la.faults["logs-ingestion"]
        la.slow_seconds = 0.6
        env = {**os.environ, **emu.env(), "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
        cmd = [sys.executable, "-m", "huntvault.cli", "--config", str(toml), "forward", "--follow"]
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            # wait until a few units are in and the next one is being held by the slow intake
            while True:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "the forwarder never got going"
                done = len([a for a in emu.la.arrivals if a.endpoint == "logs-ingestion"])
                held = emu.la.stalled_for()
                if done >= 3 and held is not None and held < 0.2:
                    break
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)  # reaps it and closes its pipes
        time.sleep(0.8)  # the held request finishes on the server side and sees the client gone
        before = sum(arrivals(emu, "logs-ingestion").values())
        assert 0 < before < len(expected)  # killed mid-way through the batch
        assert not jsonl_arrivals(tmp_path / "state" / "alerts.jsonl")
        la.slow_seconds = 0.0
        again = subprocess.run([*cmd[:-1], "--once"], cwd=tmp_path, env=env, capture_output=True, timeout=120)
        assert again.returncode == 0, again.stderr.decode()
        assert_exactly_once(arrivals(emu, "logs-ingestion"), expected, "sentinel")
        assert_exactly_once(jsonl_arrivals(tmp_path / "state" / "alerts.jsonl"), expected, "file")
        status = CliRunner().invoke(
            main, ["--config", str(toml), "forward", "status", "--json"], env=emu.env()
        )
        assert status.exit_code == 0, status.output
        assert '"pending": 0' in status.output


def test_logicapp_mode_replaces_the_alert_id_with_the_machine_id(tmp_path: Path) -> None:
    with emulators(tmp_path / "emu", extra_alerts=20) as emu:
        _cfg, toml = forward_config(emu, tmp_path, sinks=("sentinel", "file"), merge="logicapp")
        result = CliRunner().invoke(main, ["--config", str(toml), "forward", "--once"], env=emu.env())
        assert result.exit_code == 0, result.output
        assert "sentinel: sent" in result.output
        versions = visible_versions(emu)
        machines = {d.id for d in emu.tenant.devices}
        records = emu.la.records("logs-ingestion")
        assert len(records) == len(versions)
        for rec in records:
            assert rec["id_"] == rec["machineId"] and rec["id_"] in machines  # the alert id is gone
            assert "osPlatform" in rec and "MachineId" not in rec
        alert_ids = {v[0] for v in versions}
        assert not alert_ids & {r["id_"] for r in records}


def test_archive_sink_writes_alert_and_machine_tables_joinable_with_events(tmp_path: Path) -> None:
    with emulators(tmp_path / "emu", extra_alerts=15) as emu:
        toml = emu.forward_toml(str(tmp_path / "state")).split("[[forward.sinks]]")[0]
        toml = toml.replace("[forward]", f'[archive]\npath = "{tmp_path / "archive"}"\n\n[forward]')
        toml += '[[forward.sinks]]\nname = "vault"\nkind = "archive"\n'
        (tmp_path / "hv.toml").write_text(toml)
        result = CliRunner().invoke(
            main, ["--config", str(tmp_path / "hv.toml"), "forward", "--once"], env=emu.env()
        )
        assert result.exit_code == 0, result.output
        archive = tmp_path / "archive"
        assert archived_tables(archive) == ["DefenderApiAlerts", "DefenderApiMachines"]
        con = open_catalog(archive)
        # the two tables are in the schema, so their fields are typed columns (nothing left in _Extra)
        join = """
            SELECT a.AlertId, a.DeviceId, m.computerDnsName FROM DefenderApiAlerts a
            JOIN (SELECT DISTINCT DeviceId, computerDnsName, Timestamp FROM DefenderApiMachines) m
              ON a.DeviceId = m.DeviceId AND a.Timestamp = m.Timestamp"""
        assert con.execute("SELECT count(*) FROM DefenderApiAlerts WHERE _Extra IS NOT NULL").fetchone() == (
            0,
        )
        rows = con.execute(join).fetchall()
        assert len(rows) == len(visible_versions(emu))
        names = {d.id: d.name for d in emu.tenant.devices}
        assert all(names[r[1]] == r[2] for r in rows)
        # a forwarder that re-sends the same versions (state lost) adds nothing to the archive
        import shutil

        shutil.rmtree(tmp_path / "state")
        again = CliRunner().invoke(
            main, ["--config", str(tmp_path / "hv.toml"), "forward", "--once"], env=emu.env()
        )
        assert again.exit_code == 0, again.output
        assert open_catalog(archive).execute("SELECT count(*) FROM DefenderApiAlerts").fetchone() == (
            len(rows),
        )


def test_a_bad_record_is_dead_lettered_and_replayed_through_the_cli(tmp_path: Path) -> None:
    with emulators(tmp_path / "emu", extra_alerts=6) as emu:
        _cfg, toml = forward_config(emu, tmp_path, sinks=("legacy",), batch_size=50)
        versions = visible_versions(emu)
        bad = sorted(versions)[0][0]
        emu.la.faults["data-collector"].reject_matching = bad  # the receiver refuses this one alert
        runner = CliRunner()
        first = runner.invoke(main, ["--config", str(toml), "forward", "--once"], env=emu.env())
        assert first.exit_code == 0, first.output
        n_bad = sum(1 for v in versions if v[0] == bad)
        assert f"sent {len(versions) - n_bad}, dead-lettered {n_bad}, pending 0" in first.output
        letters = list((tmp_path / "state" / "dead-letter" / "legacy").glob("*.json"))
        assert len(letters) == n_bad and "InvalidDataFormat" in letters[0].read_text()
        # polling again does not re-send or re-dead-letter the same versions
        second = runner.invoke(main, ["--config", str(toml), "forward", "--once"], env=emu.env())
        assert "sent 0, dead-lettered 0" in second.output
        emu.la.faults["data-collector"].reject_matching = ""
        replay = runner.invoke(
            main, ["--config", str(toml), "forward", "--replay-dead-letter"], env=emu.env()
        )
        assert replay.exit_code == 0, replay.output
        assert f"legacy: replayed {n_bad}" in replay.output
        assert_exactly_once(arrivals(emu, "data-collector"), versions, "legacy")
        assert not list((tmp_path / "state" / "dead-letter" / "legacy").glob("*.json"))
        status = runner.invoke(main, ["forward", "--config", str(toml), "status"], env=emu.env())
        assert f"replayed {n_bad}" in status.output and "sink legacy: ok" in status.output


@pytest.mark.slow
def test_emulate_serve_then_forward_with_its_sample_config(tmp_path: Path) -> None:
    from huntvault.emulator.serve import free_port

    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "huntvault.cli",
            "emulate",
            "serve",
            "--port",
            str(port),
            "--la-port",
            str(free_port()),
            "--dir",
            str(tmp_path / "emu"),
            "--devices",
            "6",
            "--alerts",
            "12",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        assert serve.stdout is not None
        while not any(line.startswith("Sample config:") for line in lines):
            line = serve.stdout.readline()
            assert line, serve.stderr.read() if serve.stderr else "emulate serve exited"
            lines.append(line.strip())
        # the secrets are printed as export lines; read the rest of them
        while sum(line.startswith("export ") for line in lines) < 3:
            lines.append(serve.stdout.readline().strip())
        secrets = dict(line[len("export ") :].split("=", 1) for line in lines if line.startswith("export "))
        sample = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Sample config:"))
        assert f"https://127.0.0.1:{port}" in Path(sample).read_text()
        run = subprocess.run(
            [sys.executable, "-m", "huntvault.cli", "--config", sample, "forward", "--once"],
            cwd=tmp_path,
            env={**env, **secrets},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert "retired on 2026-09-14" in run.stderr  # the Data Collector warning at start-up
        sent = [line for line in run.stdout.splitlines() if ": sent " in line]
        assert len(sent) == 3 and all("pending 0" in line for line in sent)
        assert all(int(line.split("sent ")[1].split(",")[0]) > 0 for line in sent)
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=15)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        for pipe in (serve.stdout, serve.stderr):
            if pipe is not None:
                pipe.close()


def test_graph_alerts_v2_source_delivers_every_version_with_its_device(tmp_path: Path) -> None:
    with emulators(tmp_path / "emu", extra_alerts=30, now=END - dt.timedelta(hours=20)) as emu:
        graph = (
            'source = "graph"\nscope = "https://graph.microsoft.com/.default"\npage_size = 7\n'
            "machine_full_refresh_pages = 0\n"
        )
        cfg, toml = forward_config(emu, tmp_path, sinks=("sentinel", "file"), merge="prefixed")
        text = toml.read_text().replace("[forward.defender]\n", f"[forward.defender]\n{graph}", 1)
        text = text.replace("page_size = 10000\n", "")
        toml.write_text(text)
        from huntvault import config as configmod

        cfg = configmod.load(toml, env=emu.env()).forward
        fw = Forwarder(cfg)
        expected: set[tuple[str, str]] = set()
        for _ in range(3):
            result = fw.run_once()
            assert not result.poll.error and result.sinks["sentinel"].pending == 0, result
            expected |= visible_versions(emu)
            emu.defender.clock.advance(8 * 3600)
        fw.close()
        routes = emu.defender.stats.by_route
        assert routes["graph_alerts"] > 3 and not routes.get("machines") and not routes.get("alerts")
        assert_exactly_once(arrivals(emu, "logs-ingestion"), expected, "sentinel")
        assert_exactly_once(jsonl_arrivals(tmp_path / "state" / "alerts.jsonl"), expected, "file")
        devices = {d.id: d for d in emu.tenant.devices}
        for rec in emu.la.records("logs-ingestion"):
            device = devices[rec["machineId"]]  # the machine came from the alert's deviceEvidence
            assert (
                rec["MachineOsPlatform"] == device.os_platform
                and rec["MachineRiskScore"] == device.risk_score
            )
            assert rec["status"] in ("New", "InProgress", "Resolved") and isinstance(rec["incidentId"], int)
        # the Defender API's default URL with source = "graph" is a start-up error naming the setting
        bad = text.replace(
            f'base_url = "{emu.defender_server.url}"', 'base_url = "https://api.securitycenter.microsoft.com"'
        )
        toml.write_text(bad)
        run = CliRunner().invoke(main, ["--config", str(toml), "forward", "--once"], env=emu.env())
        assert run.exit_code == 2 and "forward.defender.base_url" in run.stderr
