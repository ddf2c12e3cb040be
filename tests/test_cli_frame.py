"""The CLI for people: one-line errors with exit 2, the demo config fallback, progress only where asked,
an unknown table over a missing archive, and index names resolved from table names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from huntvault import config as configmod
from huntvault.cli import main
from tests.support.search import crafted_table, write_archive

ERROR = re.compile(r"^huntvault: error: \S")


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert ERROR.match(lines[0]), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config over a one-table archive (DeviceProcessEvents) with its indexes in `index/`."""
    root = tmp_path_factory.mktemp("cli-frame")
    write_archive(root / "archive", "DeviceProcessEvents", crafted_table(40))
    (root / "huntvault.toml").write_text(
        f'[archive]\npath = "{(root / "archive").as_posix()}"\n[index]\npath = "{(root / "index").as_posix()}"\n'
    )
    return root / "huntvault.toml"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["hunt"], "give a QUERY, -f FILE or - (stdin) (see 'huntvault hunt --help')"),
        (["hunt", "--bogus", "x"], "No such option '--bogus'"),
        (["nosuchcommand"], "No such command 'nosuchcommand'"),
        (["hunt", "-f", "/nonexistent/q.kql"], "'/nonexistent/q.kql': No such file or directory"),
        (
            ["--config", "/nonexistent/hv.toml", "status"],
            "config: (file): /nonexistent/hv.toml does not exist",
        ),
        (["emulate", "export", "--days", "1"], "give at least one target"),
        (["hunt", "print x = "], "line 1, column"),
    ],
)
def test_every_error_is_one_line_with_exit_2(args: list[str], expected: str) -> None:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    first = res.stderr.splitlines()[0]
    assert ERROR.match(first) and expected in first, res.stderr
    if args[0] != "hunt" or "print" not in args[-1]:  # KQL errors add the query line and a caret
        one_error_line(res.stderr)
    assert res.stdout == ""


def test_search_errors_print_on_one_line(world: Path) -> None:
    res = CliRunner().invoke(main, ["--config", str(world), "search", "search=(psexec", "--no-sync"])
    line = one_error_line(res.stderr)
    assert res.exit_code == 2
    assert "unbalanced '('" in line and line.endswith("Parameter name: search")


def test_unknown_index_names_the_closest_table(world: Path) -> None:
    res = CliRunner().invoke(
        main, ["--config", str(world), "search", "search=*", "--index", "DeviceProcessEvent"]
    )
    line = one_error_line(res.stderr)
    assert "no index or table named 'DeviceProcessEvent' (did you mean DeviceProcessEvents?)" in line
    assert "must be" not in line and "lower case" not in line
    # the table name in any case is the index (as in the REST API)
    ok = CliRunner().invoke(
        main,
        [
            "--config",
            str(world),
            "search",
            "search=*&$count=true&$top=1",
            "--index",
            "deviceprocessEVENTS",
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["@odata.count"] == 40


def test_an_internal_error_is_one_line_too(monkeypatch: pytest.MonkeyPatch) -> None:
    import huntvault.kql

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(huntvault.kql, "execute", broken)
    res = CliRunner().invoke(main, ["hunt", "print 1"])
    line = one_error_line(res.stderr)
    assert (
        res.exit_code == 2
        and "internal error: ZeroDivisionError: boom" in line
        and "HUNTVAULT_DEBUG=1" in line
    )
    monkeypatch.setenv("HUNTVAULT_DEBUG", "1")
    res = CliRunner().invoke(main, ["hunt", "print 1"])
    assert isinstance(res.exception, ZeroDivisionError)  # the traceback, when asked


def test_unknown_table_over_a_missing_or_empty_archive_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./huntvault.toml: built-in defaults, archive huntvault-data/archive
    res = CliRunner().invoke(main, ["hunt", "DeviceProcessEvents | take 1"])
    assert res.exit_code == 2
    first = res.stderr.splitlines()[0]
    assert "unknown table 'DeviceProcessEvents': the archive huntvault-data/archive does not exist" in first
    assert "config: built-in defaults" in first
    cfg = tmp_path / "hv.toml"
    (tmp_path / "empty").mkdir()
    cfg.write_text('[archive]\npath = "empty"\n')
    res = CliRunner().invoke(main, ["--config", str(cfg), "hunt", "--archive", "empty", "Nope | take 1"])
    first = res.stderr.splitlines()[0]
    assert "unknown table 'Nope': the archive empty is empty (config: " in first and str(cfg) in first


def test_the_demo_config_is_the_last_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world: Path
) -> None:
    monkeypatch.setattr(configmod, "DEMO_FILE", ".demo/huntvault.toml")
    monkeypatch.delenv("HUNTVAULT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".demo").mkdir()
    (tmp_path / ".demo" / "huntvault.toml").write_text(world.read_text())
    res = CliRunner().invoke(main, ["hunt", "--format", "json", "DeviceProcessEvents | count"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["rows"] == [{"Count": 40}]  # stdout stays clean JSON
    assert res.stderr.splitlines() == [
        "huntvault: using the demo's configuration .demo/huntvault.toml "
        "(no --config, $HUNTVAULT_CONFIG or ./huntvault.toml)"
    ]
    # ./huntvault.toml and $HUNTVAULT_CONFIG come first, silently
    (tmp_path / "huntvault.toml").write_text('[archive]\npath = "elsewhere"\n')
    res = CliRunner().invoke(main, ["config", "show", "--json"])
    assert json.loads(res.stdout)["archive"]["path"] == "elsewhere" and res.stderr == ""
    (tmp_path / "huntvault.toml").unlink()
    monkeypatch.setenv("HUNTVAULT_CONFIG", str(world))
    res = CliRunner().invoke(main, ["config", "show"])
    assert res.stderr == "" and f"(from {world})" in res.stdout


def test_progress_goes_to_stderr_only_when_asked(world: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "hv.toml"
    cfg.write_text(world.read_text().replace("/index", "/index-progress"))
    quiet = CliRunner().invoke(main, ["--config", str(cfg), "index", "--json"])  # not a terminal: no bars
    assert quiet.exit_code == 0 and quiet.stderr == ""
    json.loads(quiet.stdout)
    cfg.write_text(world.read_text().replace("/index", "/index-progress-2"))
    shown = CliRunner().invoke(main, ["--config", str(cfg), "--progress", "index", "--json"])
    assert shown.exit_code == 0, shown.output
    json.loads(shown.stdout)  # --json stays clean
    assert shown.stderr.splitlines()[-1] == "index: 40 / 40 documents (100%)"


def test_serve_checks_its_port_before_any_work(world: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = CliRunner().invoke(main, ["--config", str(world), "serve", "--port", str(port), "--no-auth"])
    line = one_error_line(res.stderr)
    assert res.exit_code == 2 and f"port 127.0.0.1:{port} is not free" in line and "--port " in line
    assert "bringing the search indexes" not in res.stdout  # nothing was done


def test_search_and_index_without_an_archive_say_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["index"])
    line = one_error_line(res.stderr)
    assert (
        res.exit_code == 2 and "the archive huntvault-data/archive does not exist (config: built-in" in line
    )
    res = CliRunner().invoke(main, ["search", "search=x"])
    line = one_error_line(res.stderr)
    assert (
        res.exit_code == 2 and "nothing to search: no index yet; the archive huntvault-data/archive" in line
    )


def test_quick_exit_keeps_every_byte_of_output(tmp_path: Path) -> None:
    """`hunt` ends the process without the interpreter's teardown: its output still arrives whole."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "huntvault.cli", "hunt", "--format", "csv", "range x from 1 to 50000 step 1"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 50001 and lines[-1] == "50000" and done.stderr == ""
    # a reader that stops early (| head -1) gets no traceback
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"x\n"
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.wait(60)
    assert "Traceback" not in err
    bad = subprocess.run([*cmd[:4], "print x ="], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("huntvault: error: line 1, column")


def test_a_bare_command_shows_its_help_not_an_error() -> None:
    res = CliRunner().invoke(main, [])
    assert res.stderr.startswith("Usage: huntvault [OPTIONS] COMMAND") and "Commands:" in res.stderr
    assert "huntvault: error" not in res.stderr
    assert CliRunner().invoke(main, ["--help"]).exit_code == 0
