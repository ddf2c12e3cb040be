"""Setting the forwarder up from the docs: config errors named at start-up, refusals that pause a sink
(nothing dead-lettered, nothing lost), token URL, proxies, per-sink secrets, classic columns, forward init."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from huntvault import config as configmod
from huntvault.cli import main
from huntvault.config import DefenderApiConfig, SinkConfig
from huntvault.emulator.serve import Emulators
from huntvault.errors import ConfigError, RemoteConfigError
from huntvault.forward import Forwarder, forward_status, logs_ingestion_columns
from huntvault.forward.auth import ClientCredentials, TokenProvider, make_session
from huntvault.forward.loganalytics import DataCollectorSink, LogsIngestionSink
from huntvault.forward.testhook import KillHook
from tests.support.forward import arrivals, emulators, fast_toml, visible_versions
from tests.support.proxy import connect_proxy

DOCS = Path(__file__).resolve().parents[1] / "docs" / "forward.md"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    with emulators(tmp_path_factory.mktemp("fwd-setup"), extra_alerts=10, devices=4) as e:
        yield e


def write(
    tmp: Path,
    emu: Emulators,
    sinks: tuple[str, ...],
    edits: dict[str, str] | None = None,
    name: str = "hv.toml",
) -> Path:
    """A huntvault.toml for the emulators with `sinks`, each `old -> new` text edit applied."""
    text = fast_toml(emu, tmp / "state", sinks=sinks)
    for old, new in (edits or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def once(path: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--config", str(path), "forward", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


# -- start-up: configuration errors name the setting, exit 2 -------------------------------------------


@pytest.mark.parametrize(
    ("sinks", "old", "new", "named"),
    [
        (
            "legacy",
            'kind = "data-collector"\n',
            'kind = "data-collector"\nproxy = "http://u:p@h:1"\n',
            "proxy",
        ),
        (
            "sentinel",
            'stream = "Custom-MDATPAlerts_CL"',
            'stream = "MDATPAlerts_CL"',
            "sinks.sentinel.stream",
        ),
        ("sentinel", 'dcr_immutable_id = "dcr-', 'dcr_immutable_id = "x-dcr-', "dcr_immutable_id"),
        ("sentinel", 'ca_bundle = "', 'ca_bundle = "/nonexistent', "sinks.sentinel.ca_bundle"),
        (
            "sentinel",
            'kind = "logs-ingestion"\n',
            'kind = "logs-ingestion"\nsecret_env = "LA_SECRET"\n',
            "secret_env",
        ),
        ("sentinel", 'kind = "logs-ingestion"\n', 'kind = "logs-ingestion"\nmerge = "union"\n', "merge"),
        ("file", "overlap_seconds = 300.0", "overlap_seconds = -1.0", "forward.overlap_seconds"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    emu: Emulators, tmp_path: Path, sinks: str, old: str, new: str, named: str
) -> None:
    code, out, err = once(write(tmp_path, emu, (sinks,), {old: new}), emu.env(), "--once")
    assert code == 2, out + err
    assert err.startswith("huntvault: error:") and named in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_full_url_as_an_endpoint_is_caught(emu: Emulators, tmp_path: Path) -> None:
    url = emu.la_server.url
    for sink, full in (
        ("legacy", f"{url}/api/logs?api-version=2016-04-01"),
        ("sentinel", f"{url}/dataCollectionRules/{emu.creds.dcr_immutable_id}/streams/Custom-MDATPAlerts_CL"),
    ):
        path = write(tmp_path, emu, (sink,), {f'endpoint = "{url}"': f'endpoint = "{full}"'})
        code, _, err = once(path, emu.env(), "--once")
        assert code == 2 and f"forward.sinks.{sink}.endpoint" in err and "base URL only" in err
    assert not arrivals(emu, "data-collector") and not arrivals(emu, "logs-ingestion")


def test_config_secret_env_and_test_hook_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"forward.sinks\[0\].secret_env"):
        _load_text('[[forward.sinks]]\nname = "x"\nkind = "data-collector"\nsecret_env = "lower_case"\n')
    with pytest.raises(ConfigError, match="HUNTVAULT_FORWARD_TEST_KILL"):
        KillHook("page-received:0")
    with pytest.raises(ConfigError, match="HUNTVAULT_FORWARD_TEST_KILL"):
        KillHook("nowhere:1")
    assert KillHook("queued:2,unit-acked:1").targets == {"queued": 2, "unit-acked": 1}


def _load_text(text: str, env: dict[str, str] | None = None) -> configmod.Config:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "huntvault.toml"
        path.write_text(text, encoding="utf-8")
        return configmod.load(path, env=env or {})


def test_one_credential_per_sink_from_its_own_variable() -> None:
    cfg = _load_text(
        '[[forward.sinks]]\nname = "a"\nkind = "data-collector"\nsecret_env = "HUNTVAULT_KEY_A"\n'
        '[[forward.sinks]]\nname = "b"\nkind = "logs-ingestion"\nsecret_env = "HUNTVAULT_SECRET_B"\n'
        '[[forward.sinks]]\nname = "c"\nkind = "data-collector"\n',
        env={"HUNTVAULT_KEY_A": "a2V5LWE=", "HUNTVAULT_SECRET_B": "sb", "HUNTVAULT_LA_SHARED_KEY": "ZGVm"},
    )
    a, b, c = cfg.forward.sinks
    assert (a.shared_key, b.client_secret, c.shared_key) == ("a2V5LWE=", "sb", "ZGVm")
    shown = configmod.as_dict(cfg)["forward"]["sinks"]
    assert shown[0]["shared_key"] == "*** (from HUNTVAULT_KEY_A)"


# -- the token endpoint: refusals name the setting; token_url needs no discovery --------------------------


def _token(emu: Emulators, **over: str) -> TokenProvider:
    cfg = DefenderApiConfig(
        authority=emu.defender_server.url,
        tenant_id=emu.creds.tenant_id,
        client_id=emu.creds.client_id,
        client_secret=emu.creds.client_secret,
        ca_bundle=str(emu.tls.ca),
    )
    for key, value in over.items():
        setattr(cfg, key, value)
    creds = ClientCredentials.from_config(cfg, "forward.defender", "HUNTVAULT_DEFENDER_CLIENT_SECRET")
    return TokenProvider(creds, cfg.scope, make_session(cfg.ca_bundle), 5.0)


@pytest.mark.parametrize(
    ("over", "setting"),
    [
        ({"client_secret": "wrong"}, "HUNTVAULT_DEFENDER_CLIENT_SECRET"),
        ({"client_id": "00000000-0000-0000-0000-00000000dead"}, "forward.defender.client_id"),
        ({"tenant_id": "00000000-0000-0000-0000-00000000beef"}, "forward.defender.tenant_id"),
        ({"scope": "https://nothing.example/.default"}, "forward.defender.scope"),
    ],
)
def test_token_refusals_name_the_setting(emu: Emulators, over: dict[str, str], setting: str) -> None:
    with pytest.raises(RemoteConfigError) as err:
        _token(emu, **over).token()
    assert err.value.setting == setting and err.value.status in (400, 401)


def test_a_token_url_works_without_discovery(emu: Emulators) -> None:
    before = emu.defender.issuer.discoveries
    url = f"{emu.defender_server.url}/{emu.creds.tenant_id}/oauth2/v2.0/token"
    provider = _token(emu, authority="https://nowhere.invalid", token_url=url)
    assert provider.token() and provider.token() == provider.token()
    assert provider.acquired == 1 and emu.defender.issuer.discoveries == before


# -- proxies ---------------------------------------------------------------------------------------------


def test_https_proxy_from_the_environment_and_the_setting(
    emu: Emulators, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = {emu.defender_server.port, emu.la_server.port}
    with connect_proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        code, out, err = once(write(tmp_path / "a", emu, ("sentinel",)), emu.env(), "--once")
        assert code == 0, out + err
        assert {int(t.rsplit(":", 1)[1]) for t in proxy.tunnels} == ports  # API, token and sink
        seen = len(proxy.tunnels)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        code, out, err = once(write(tmp_path / "b", emu, ("sentinel",)), emu.env(), "--once")
        assert code == 0 and len(proxy.tunnels) == seen  # bypassed
        # the setting, without any variable
        monkeypatch.delenv("HTTPS_PROXY")
        monkeypatch.delenv("NO_PROXY")
        edits = {"[forward.defender]\n": f'[forward.defender]\nproxy = "{proxy.url}"\n'}
        code, out, err = once(write(tmp_path / "c", emu, ("file",), edits), emu.env(), "--once")
        assert code == 0, out + err
        assert len(proxy.tunnels) > seen
        assert all(int(t.rsplit(":", 1)[1]) == emu.defender_server.port for t in proxy.tunnels[seen:])


# -- refusals pause the sink: nothing dead-lettered, nothing lost, it goes once fixed ---------------------


def _all_delivered(emu: Emulators, endpoint: str) -> None:
    counts = arrivals(emu, endpoint)
    assert set(counts) == visible_versions(emu) and set(counts.values()) == {1}


def test_a_wrong_key_pauses_the_sink_then_it_delivers_once_fixed(tmp_path: Path) -> None:
    with emulators(tmp_path / "emu", extra_alerts=6, devices=3) as emu:
        path = write(tmp_path, emu, ("legacy",))
        wrong = {**emu.env(), "HUNTVAULT_LA_SHARED_KEY": base64.b64encode(b"not the key").decode()}
        code, out, err = once(path, wrong, "--once")
        assert code == 2 and "huntvault: sink legacy paused: HUNTVAULT_LA_SHARED_KEY" in err, out + err
        assert f"pending {len(visible_versions(emu))}" in out and "dead-lettered 0" in out
        assert not (tmp_path / "state" / "dead-letter").exists()
        st = forward_status(configmod.load(path, env=wrong).forward).sinks["legacy"]
        assert st.health.state == "paused" and st.health.setting == "HUNTVAULT_LA_SHARED_KEY"
        code, out, err = once(path, emu.env(), "--once")  # the right key
        assert code == 0, out + err
        _all_delivered(emu, "data-collector")
        assert (
            forward_status(configmod.load(path, env=emu.env()).forward).sinks["legacy"].health.state == "ok"
        )


@pytest.mark.parametrize("fault", ["dcr", "endpoint", "role", "schema", "secret"])
def test_a_broken_logs_ingestion_sink_is_paused_not_dead_lettered(tmp_path: Path, fault: str) -> None:
    with emulators(tmp_path / "emu", extra_alerts=12, devices=3) as emu:
        good = write(tmp_path, emu, ("sentinel",))
        env = dict(emu.env())
        path, setting = good, ""
        if fault == "dcr":
            path = write(
                tmp_path, emu, ("sentinel",), {emu.creds.dcr_immutable_id: "dcr-" + "0" * 32}, "bad.toml"
            )
            setting = "forward.sinks.sentinel.dcr_immutable_id"
        elif fault == "endpoint":  # the Defender API's host: no Logs Ingestion there
            path = write(
                tmp_path,
                emu,
                ("sentinel",),
                {f'endpoint = "{emu.la_server.url}"': f'endpoint = "{emu.defender_server.url}"'},
                "bad.toml",
            )
            setting = "forward.sinks.sentinel.dcr_immutable_id"
        elif fault == "role":
            emu.la.publishers[emu.creds.dcr_immutable_id] = set()
            setting = "forward.sinks.sentinel.client_id"
        elif fault == "schema":  # every record refused: the DCR's stream does not fit the records
            emu.la.faults["logs-ingestion"].reject_matching = "TimeGenerated"
            setting = "forward.sinks.sentinel.stream"
        else:  # a wrong secret is found at start-up: exit 2 before anything is polled
            env["HUNTVAULT_LA_CLIENT_SECRET"] = "wrong"
        code, out, err = once(path, env, "--once")
        assert code == 2, out + err
        if fault == "secret":
            assert "HUNTVAULT_LA_CLIENT_SECRET" in err and "Traceback" not in err
            assert forward_status(configmod.load(path, env=env).forward).cursor is None  # nothing polled
        else:
            assert f"sink sentinel paused: {setting}" in err
            assert "dead-lettered 0" in out and not (tmp_path / "state" / "dead-letter").exists()
            st = forward_status(configmod.load(path, env=env).forward).sinks["sentinel"]
            assert st.pending == len(visible_versions(emu)) and st.health.state == "paused"
        assert not arrivals(emu, "logs-ingestion")
        emu.la.publishers.clear()  # fixed
        emu.la.faults["logs-ingestion"].reject_matching = ""
        code, out, err = once(good, emu.env(), "--once")
        assert code == 0, out + err
        _all_delivered(emu, "logs-ingestion")


# -- one unit is one request, sized by the bytes sent ------------------------------------------------------


def test_logs_ingestion_units_are_single_requests_of_the_exact_body(emu: Emulators) -> None:
    cfg = SinkConfig(
        name="s",
        kind="logs-ingestion",
        endpoint=emu.la_server.url,
        dcr_immutable_id=emu.creds.dcr_immutable_id,
        authority=emu.defender_server.url,
        tenant_id=emu.creds.tenant_id,
        client_id=emu.creds.client_id,
        client_secret=emu.creds.client_secret,
        ca_bundle=str(emu.tls.ca),
        max_request_bytes=50_000,
        batch_size=10_000,
    )
    sink = LogsIngestionSink(cfg)
    records = [
        {"id": f"a{i}", "lastUpdateTime": "2026-10-31T10:00:00Z", "title": "Ü" * (i % 7 * 300)}
        for i in range(400)
    ]
    units = sink.units(records)
    before = len([a for a in emu.la.arrivals if a.endpoint == "logs-ingestion"])
    for unit in units:
        body = sink.body([records[i] for i in unit])
        assert len(body) <= 50_000
        if len(units) > 1 and unit is not units[-1]:  # full: one more record would not have fitted
            nxt = records[unit[-1] + 1]
            assert len(sink.body([*(records[i] for i in unit), nxt])) > 50_000
        sink.send([records[i] for i in unit])
    got = [a for a in emu.la.arrivals if a.endpoint == "logs-ingestion"][before:]
    assert len(got) == len(units) == sink.requests and len(units) > 3
    assert [len(a.records) for a in got] == [len(u) for u in units]
    assert got[0].headers["content-encoding"] == "gzip" and got[0].records[0]["id_"] == "a0"
    sink.close()


def test_a_record_over_the_limit_is_rejected_as_a_bad_record(emu: Emulators) -> None:
    from huntvault.errors import SinkRejected

    sink = DataCollectorSink(
        SinkConfig(
            name="d", kind="data-collector", workspace_id="w", shared_key="a2V5", endpoint="https://h:1"
        )
    )
    sink.close()
    li = LogsIngestionSink(
        SinkConfig(
            name="s",
            kind="logs-ingestion",
            endpoint=emu.la_server.url,
            dcr_immutable_id=emu.creds.dcr_immutable_id,
            tenant_id="t",
            client_id="c",
            client_secret="x",
        )
    )
    with pytest.raises(SinkRejected, match="over the 1 MB"):
        li.send([{"id": "a", "lastUpdateTime": "2026-10-31T10:00:00Z", "blob": "x" * 1_100_000}])
    li.close()


# -- classic: the Logic App's MDATPAlerts_CL columns -------------------------------------------------------


def test_classic_records_keep_the_logic_app_columns_on_both_paths(tmp_path: Path) -> None:
    with emulators(tmp_path / "emu", extra_alerts=8, devices=3) as emu:
        path = write(tmp_path, emu, ("sentinel", "legacy"), {'merge = "prefixed"': 'merge = "classic"'})
        code, out, err = once(path, emu.env(), "--once")
        assert code == 0, out + err
        machines = {d.id: d for d in emu.tenant.devices}
        versions = visible_versions(emu)
        dc = emu.la.records("data-collector")  # the service adds the suffixes itself
        assert {(r["AlertId"], r["lastUpdateTime"]) for r in dc} == versions
        for r in dc:
            assert (
                r["id"] == r["machineId"] in machines and "osPlatform" in r and "MachineOsPlatform" not in r
            )
        li = emu.la.records("logs-ingestion")  # the same columns, suffixed by the forwarder
        assert {(r["AlertId_s"], r["lastUpdateTime_t"]) for r in li} == versions
        declared = {c.name for c in logs_ingestion_columns("classic")}
        for r in li:
            assert r["id_s"] == r["machineId_s"] and isinstance(r["incidentId_d"], float)
            assert (
                isinstance(r["isAadJoined_b"], bool)
                and r["computerDnsName_s"] == machines[r["id_s"]].to_api()["computerDnsName"]
            )
            assert set(r) <= declared, sorted(set(r) - declared)  # forward init declared every column
            assert json.loads(r["evidence_s"]) == json.loads(r["evidence_s"])
        # the same alert on both paths: DC column + suffix == LI column
        one = dc[0]
        twin = next(
            r
            for r in li
            if (r["AlertId_s"], r["lastUpdateTime_t"]) == (one["AlertId"], one["lastUpdateTime"])
        )
        assert {k for k in twin if k != "TimeGenerated"} <= {
            k + s for k in one for s in ("_s", "_d", "_t", "_b", "_g")
        }


# -- forward init --------------------------------------------------------------------------------------------


def test_forward_init_writes_table_dcr_role_and_commands(emu: Emulators, tmp_path: Path) -> None:
    path = write(tmp_path, emu, ("sentinel", "file"))
    out = tmp_path / "azure"
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(path),
            "forward",
            "init",
            "--out",
            str(out),
            "--workspace",
            "ws1",
            "--resource-group",
            "rg1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "sentinel.dcr.bicep",
        "sentinel.dcr.json",
        "sentinel.setup.sh",
        "sentinel.table.json",
    ]
    arm = json.loads((out / "sentinel.dcr.json").read_text())
    table, dcr, role = arm["resources"]
    columns = table["properties"]["schema"]["columns"]
    assert table["properties"]["schema"]["name"] == "MDATPAlerts_CL" and columns[0] == {
        "name": "TimeGenerated",
        "type": "dateTime",
    }
    stream = dcr["properties"]["streamDeclarations"]["Custom-MDATPAlerts_CL"]["columns"]
    assert [c["name"] for c in stream] == [c["name"] for c in columns]
    assert (
        dcr["kind"] == "Direct"
        and dcr["properties"]["dataFlows"][0]["outputStream"] == "Custom-MDATPAlerts_CL"
    )
    assert "3913510d-42f4-4e42-8a64-420c390055eb" in role["properties"]["roleDefinitionId"]
    assert set(arm["outputs"]) == {"dcr_immutable_id", "endpoint"}
    bicep = (out / "sentinel.dcr.bicep").read_text()
    assert all(f"name: '{c['name']}'" in bicep for c in columns) and "kind: 'Direct'" in bicep
    script = out / "sentinel.setup.sh"
    assert subprocess.run(["sh", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    assert 'RG="${RG:-rg1}"' in text and "az deployment group create" in text and emu.creds.client_id in text
    # every column the sink really sends is declared
    code, out_text, err = once(path, emu.env(), "--once")
    assert code == 0, out_text + err
    declared = {c["name"] for c in columns}
    for rec in emu.la.records("logs-ingestion"):
        assert set(rec) <= declared, sorted(set(rec) - declared)


def test_the_documented_example_sets_ca_bundle_and_proxy_on_every_remote_sink() -> None:
    block = DOCS.read_text(encoding="utf-8").split("## Complete `[forward]` example")[1].split("```toml")[1]
    block = block.split("```")[0]
    cfg = _load_text(block)
    remote = [s for s in cfg.forward.sinks if s.kind in ("logs-ingestion", "data-collector")]
    assert remote and all(f'name = "{s.name}"' in block for s in remote)
    for part in block.split("[[forward.sinks]]")[1:]:
        if 'kind = "logs-ingestion"' in part or 'kind = "data-collector"' in part:
            assert "ca_bundle =" in part and "proxy =" in part and "secret_env =" in part
    assert "token_url =" in block.split("[[forward.sinks]]")[0]


def test_status_reads_without_creating_anything(tmp_path: Path) -> None:
    cfg = configmod.ForwardConfig(
        state_dir=str(tmp_path / "none"), sinks=[SinkConfig(name="x", kind="stdout")]
    )
    st = forward_status(cfg)
    assert st.state is None and not st.running and st.sinks["x"].health.state == "unknown"
    assert not (tmp_path / "none").exists()
    fw = Forwarder(cfg)
    try:
        assert forward_status(cfg).running
    finally:
        fw.close()
    assert not forward_status(cfg).running
    assert orjson.loads(orjson.dumps(forward_status(cfg).to_json()))["sinks"]["x"]["pending"] == 0
