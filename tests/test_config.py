"""huntvault.toml: defaults, a full file, errors naming the key, secrets only from the environment."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from huntvault import config as configmod
from huntvault.cli import main
from huntvault.errors import ConfigError

FULL = """
[archive]
path = "/data/archive"
flush_rows = 5000
flush_seconds = 2
compression = "snappy"

[retention]
default_days = 730
tables = { DeviceNetworkEvents = 365, DeviceInfo = 90 }

[[sources]]
name = "prod"
kind = "azure-blob"
account_url = "https://acct.blob.core.windows.net"
containers = ["insights-logs-advancedhunting-deviceprocessevents"]

[[sources]]
name = "copy"
kind = "local"
path = "/mnt/export"

[index]
enabled = false

[server]
host = "127.0.0.1"
port = 9000

[hunt]
engine = "spark"
row_cap = 500

[forward]
merge = "logicapp"
[forward.defender]
tenant_id = "tid"
client_id = "cid"

[[forward.sinks]]
name = "la"
kind = "logs-ingestion"
endpoint = "https://dce.example"

[detect]
rules_dir = "my-rules"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "huntvault.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = configmod.load(env={})
    assert cfg.source_file == ""
    assert cfg.archive.path == "huntvault-data/archive" and cfg.server.port == 8080
    assert cfg.sources == [] and cfg.forward.sinks == []
    assert cfg.server.admin_key == ""


def test_a_full_file(tmp_path: Path) -> None:
    cfg = configmod.load(
        _write(tmp_path, FULL), env={"HUNTVAULT_AZURE_CONNECTION_STRING": "UseDevelopmentStorage=true"}
    )
    assert cfg.archive.path == "/data/archive" and cfg.archive.flush_rows == 5000
    assert cfg.archive.flush_seconds == 2.0 and isinstance(cfg.archive.flush_seconds, float)
    assert cfg.retention.tables == {"DeviceNetworkEvents": 365, "DeviceInfo": 90}
    assert [s.name for s in cfg.sources] == ["prod", "copy"]
    assert cfg.sources[0].containers == ["insights-logs-advancedhunting-deviceprocessevents"]
    assert cfg.sources[0].connection_string == "UseDevelopmentStorage=true"  # secrets from the environment
    assert cfg.index.enabled is False and cfg.server.port == 9000 and cfg.hunt.engine == "spark"
    assert cfg.forward.merge == "logicapp" and cfg.forward.defender.tenant_id == "tid"
    assert cfg.forward.sinks[0].kind == "logs-ingestion" and cfg.detect.rules_dir == "my-rules"


def test_env_variable_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[server]\nport = 9100\n")
    cfg = configmod.load(env={"HUNTVAULT_CONFIG": str(path)})
    assert cfg.server.port == 9100 and cfg.source_file == str(path)


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[archive]\nflush_rowz = 5\n", "archive.flush_rowz", "unknown setting"),
        ("[nope]\nx = 1\n", "nope", "unknown setting"),
        ('[archive]\nflush_rows = "many"\n', "archive.flush_rows", "whole number"),
        ("[index]\nenabled = 1\n", "index.enabled", "true or false"),
        ("[server]\nport = 70000\n", "server.port", "between"),
        ('[[sources]]\nkind = "ftp"\n', "sources[0].kind", "must be one of"),
        ('[[sources]]\nname = "a"\n[[sources]]\nname = "a"\n', "sources", "unique"),
        ("[retention]\ntables = { DeviceInfo = -1 }\n", "retention.tables.DeviceInfo", ">= 0"),
        ("[archive]\npath = 5\n", "archive.path", "expected str"),
        ("archive = 3\n", "archive", "expected a table"),
        ("[archive]\nvacuum_grace_hours = -1\n", "archive.vacuum_grace_hours", ">= 0"),
        ('[hunt]\nspark_master = " "\n', "hunt.spark_master", "Spark master URL"),
        ("[hunt]\nspark_conf = 3\n", "hunt.spark_conf", "expected a table"),
    ],
)
def test_invalid_files_name_the_key(tmp_path: Path, text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as exc:
        configmod.load(_write(tmp_path, text), env={})
    assert exc.value.key == key
    assert words in str(exc.value)


@pytest.mark.parametrize(
    ("text", "key", "env"),
    [
        ('[server]\nadmin_key = "hunter2"\n', "server.admin_key", "HUNTVAULT_ADMIN_KEY"),
        (
            '[[sources]]\nname = "x"\nconnection_string = "AccountKey=abc"\n',
            "sources[0].connection_string",
            "HUNTVAULT_AZURE_CONNECTION_STRING",
        ),
        (
            '[forward.defender]\nclient_secret = "s"\n',
            "forward.defender.client_secret",
            "HUNTVAULT_DEFENDER_CLIENT_SECRET",
        ),
        ('[archive]\naccount_key = "k"\n', "archive.account_key", "HUNTVAULT_ARCHIVE_ACCOUNT_KEY"),
    ],
)
def test_secrets_in_the_file_are_rejected(tmp_path: Path, text: str, key: str, env: str) -> None:
    with pytest.raises(ConfigError) as exc:
        configmod.load(_write(tmp_path, text), env={})
    assert exc.value.key == key and env in str(exc.value)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        configmod.load(tmp_path / "absent.toml", env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        configmod.load(_write(tmp_path, "[archive\n"), env={})


def test_config_show_redacts_env_secrets(tmp_path: Path) -> None:
    path = _write(
        tmp_path, '[server]\nport = 9200\n[[forward.sinks]]\nname = "la"\nkind = "data-collector"\n'
    )
    env = {"HUNTVAULT_ADMIN_KEY": "supersecret-admin", "HUNTVAULT_LA_SHARED_KEY": "supersecret-la"}
    runner = CliRunner()
    res = runner.invoke(main, ["--config", str(path), "config", "show"], env=env)
    assert res.exit_code == 0, res.output
    assert "supersecret" not in res.output
    assert "*** (from HUNTVAULT_ADMIN_KEY)" in res.output
    assert "(unset: HUNTVAULT_QUERY_KEY)" in res.output
    body = tomllib.loads(res.output)  # the TOML it prints parses
    assert body["server"]["port"] == 9200 and body["forward"]["sinks"][0]["name"] == "la"
    res = runner.invoke(main, ["--config", str(path), "config", "show", "--json"], env=env)
    assert res.exit_code == 0 and "supersecret" not in res.output
    data = json.loads(res.output)
    assert data["forward"]["sinks"][0]["shared_key"] == "*** (from HUNTVAULT_LA_SHARED_KEY)"


def test_config_show_reports_an_invalid_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[archive]\nflush_rows = "x"\n')
    res = CliRunner().invoke(main, ["--config", str(path), "config", "show"])
    assert res.exit_code == 2
    assert "config: archive.flush_rows: expected a whole number" in res.output


def test_secrets_reach_sections_absent_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "huntvault.toml"
    path.write_text('[archive]\npath = "x"\n', encoding="utf-8")
    cfg = configmod.load(path, env={"HUNTVAULT_ADMIN_KEY": "adm", "HUNTVAULT_DEFENDER_CLIENT_SECRET": "s3"})
    assert cfg.server.admin_key == "adm"
    assert cfg.forward.defender.client_secret == "s3"
