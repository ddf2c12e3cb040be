"""`make demo`: the newcomer's tour over a demo folder, one plain step after another, each with its progress.

check the ports -> emulate the export -> start the Defender API and Log Analytics emulators -> ingest it
into the archive -> index it -> forward the tenant's alerts -> run the detection rules (rules/) -> run the
example hunts -> serve the UI on 127.0.0.1:8080 and print its links and one CLI line to copy.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from huntvault import config as configmod
from huntvault.cliapp import free_port_near, port_problem
from huntvault.emulator import Manifest, default_end, write_export
from huntvault.errors import HuntvaultError
from huntvault.progress import Bars

if TYPE_CHECKING:
    from huntvault.emulator import Emulators
    from huntvault.sources import IngestStats

#: The example hunts: planted story -> sample query (shipped with the UI) that finds it.
STORY_HUNTS: dict[str, str] = {
    "phish_powershell_cradle": "02-powershell-download-cradle.kql",
    "lsass_credential_dump": "03-lsass-credential-dump.kql",
    "scheduled_task_persistence": "10-scheduled-task-persistence.kql",
    "psexec_lateral_movement": "04-psexec-lateral-movement.kql",
    "ransomware_encryption": "08-ransomware-file-renames.kql",
    "brute_force_logons": "06-brute-force-logons.kql",
    "antivirus_detections": "11-antivirus-detections-by-device.kql",
}

#: Three portal-style searches (index or table name, query string) that land on planted activity.
EXAMPLE_SEARCHES: tuple[tuple[str, str], ...] = (
    (
        "DeviceProcessEvents",
        "search=psexec&$select=properties/Timestamp,properties/DeviceName,properties/ProcessCommandLine&$count=true",
    ),
    (
        "DeviceProcessEvents",
        'search="shadows /all"&$select=properties/Timestamp,properties/DeviceName,properties/ProcessCommandLine'
        "&$orderby=properties/Timestamp desc",
    ),
    (
        "DeviceLogonEvents",
        "search=*&$filter=properties/ActionType eq 'LogonFailed'&facet=properties/DeviceName&$count=true&$top=5",
    ),
)

#: The three hunts printed as links (the others are on the Hunting page's sample list).
PRINTED_HUNTS = ("phish_powershell_cradle", "psexec_lateral_movement", "lsass_credential_dump")

#: The detection alerts the demo's rules raised, as a hunt (printed as a link).
ALERTS_HUNT = (
    "HuntvaultAlerts\n| project Timestamp, Severity, Title, DeviceName, RuleId, RowCount\n"
    "| order by Timestamp desc"
)

#: The CLI line the demo prints at the end (one line to copy).
CLI_EXAMPLE = (
    "DeviceProcessEvents | where ProcessCommandLine has 'psexec' "
    "| project Timestamp, DeviceName, ProcessCommandLine | take 5"
)

#: What the demo owns inside its folder (removed when a demo folder is reused).
DEMO_ENTRIES = ("export", "archive", "index", "forward", "detect", "emulator", "huntvault.toml")
MARKER = ".huntvault-demo"

#: Detection runs over the export's last day (where the planted attacks are); the week is for backtests.
DETECT_DAYS = 1.0


def sample_query(name: str) -> str:
    """The text of one shipped sample hunt."""
    return resources.files("huntvault.web").joinpath(f"static/samples/{name}").read_text(encoding="utf-8")


def default_rules_dir() -> Path | None:
    """rules/ of the current folder (`make demo` runs in the repository), else the repository's own."""
    for candidate in (Path("rules"), Path(__file__).resolve().parents[2] / "rules"):
        if candidate.is_dir() and any(candidate.glob("*.y*ml")):
            return candidate.resolve()
    return None


@dataclass
class DemoOptions:
    root: Path
    devices: int = 50
    days: float = 7.0
    seed: int = 1
    end: datetime | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    api_port: int = 0  # Defender API emulator (0 = any free port)
    la_port: int = 0  # Log Analytics emulator (0 = any free port)
    serve: bool = True
    rules_dir: Path | None = None  # None = default_rules_dir()
    stop: threading.Event | None = None  # set it to stop serving (the demo's main sets it on Ctrl-C)
    on_serving: Callable[[DemoState], None] | None = None  # called once the UI serves and the links are out


@dataclass
class DemoState:
    """What the steps hand to each other."""

    opts: DemoOptions
    console: Console
    bars: Bars = field(init=False)  # progress on `console`
    manifest: Manifest | None = None
    config: configmod.Config | None = None
    emulators: Emulators | None = None
    hunt_rows: dict[str, int] = field(default_factory=dict)
    rule_alerts: dict[str, int] = field(default_factory=dict)  # rule id -> alerts raised
    timings: dict[str, float] = field(default_factory=dict)  # step -> wall seconds
    cpu: dict[str, float] = field(default_factory=dict)  # step -> CPU seconds of this process
    url: str = ""  # where the UI serves
    links: list[tuple[str, str]] = field(default_factory=list)  # (title, URL) as printed

    def __post_init__(self) -> None:
        self.bars = Bars(self.console)

    @property
    def root(self) -> Path:
        return self.opts.root

    @property
    def export_dir(self) -> Path:
        return self.root / "export"

    @property
    def archive_dir(self) -> Path:
        return self.root / "archive"


# -- before any work ------------------------------------------------------------------------------------


def check_ports(opts: DemoOptions) -> None:
    """Every fixed port the demo will listen on must be free before any work starts."""
    wanted = [("UI", opts.port, "PORT", "--port"), ("Defender API emulator", opts.api_port, "", "--api-port")]
    wanted.append(("Log Analytics emulator", opts.la_port, "", "--la-port"))
    for what, port, make_var, flag in wanted:
        if not port or (what == "UI" and not opts.serve):
            continue
        why = port_problem(opts.host, port)
        if why:
            other = free_port_near(opts.host, port)
            how = f"make demo {make_var}={other}, or " if make_var else ""
            raise HuntvaultError(
                f"the {what} port {opts.host}:{port} is not free ({why}); nothing was done. "
                f"Pick another: {how}python -m huntvault.demo {flag} {other}"
            )


def prepare_folder(root: Path) -> None:
    """An empty or new folder, or a demo folder from an earlier run (its demo entries are removed)."""
    if root.exists() and not root.is_dir():
        raise HuntvaultError(
            f"{root} is a file, not a folder; pick another with --dir (make demo DEMO_DIR=...)"
        )
    if root.is_dir() and any(root.iterdir()):
        earlier = (root / MARKER).is_file() or (
            (root / "huntvault.toml").is_file() and (root / "export" / "manifest.json").is_file()
        )
        if not earlier:
            raise HuntvaultError(
                f"{root} is not empty and holds no earlier demo; pick another folder with --dir "
                "(make demo DEMO_DIR=...)"
            )
        for name in DEMO_ENTRIES:
            p = root / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(
        "a huntvault demo folder: `make demo` replaces what it holds\n", encoding="utf-8"
    )


# -- the steps ------------------------------------------------------------------------------------------


def step_emulate(state: DemoState) -> None:
    """Emulate the tenant's streaming export (folder layout, as Defender writes it to Azure Storage)."""
    o = state.opts
    end = o.end or default_end()
    state.opts.end = end
    with state.bars.bar("emulate", "hours") as bar:
        state.manifest = m = write_export(
            state.export_dir,
            devices=o.devices,
            days=o.days,
            seed=o.seed,
            end=end.isoformat(),
            overwrite=True,
            progress=bar.callback,
        )
    state.console.print(
        f"tenant {m.tenant_id}, {m.start} .. {m.end}: {m.total_events:,} events, "
        f"{m.total_duplicates:,} duplicates injected, folder {state.export_dir}"
    )
    table = Table(title="Streaming export per table")
    for col in ("table", "events", "duplicates", "late lines", "blobs"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for name in sorted(m.tables):
        t = m.tables[name]
        label = name if t.known else f"{name} (unknown: schema drift)"
        table.add_row(label, f"{t.events:,}", f"{t.duplicates:,}", f"{t.late:,}", f"{len(t.blobs):,}")
    state.console.print(table)
    stories = Table(title="Planted attack stories")
    for col in ("story", "device", "user", "start (UTC)", "alerts"):
        stories.add_column(col, no_wrap=True)
    for s in m.stories:
        stories.add_row(
            s["name"],
            s["device_name"].split(".")[0],
            s["user"].split("\\")[-1],
            s["start"][5:16].replace("T", " "),
            str(len(s["alert_ids"])),
        )
    state.console.print(stories)


def _write_config(state: DemoState, forward_toml: str, secrets: dict[str, str]) -> configmod.Config:
    root = state.root.resolve()
    rules = state.opts.rules_dir
    end = state.opts.end or default_end()
    detect = f'[detect]\nstate_dir = "{root / "detect"}"\n'
    if rules is not None:
        start = end - timedelta(days=min(DETECT_DAYS, state.opts.days))
        detect += f'rules_dir = "{rules}"\nstart_from = "{start.isoformat()}"\n'
    text = (
        "# written by the huntvault demo (python -m huntvault.demo); `huntvault` run from the repository\n"
        "# reads it when there is no --config, $HUNTVAULT_CONFIG or ./huntvault.toml\n\n"
        f'[archive]\npath = "{root / "archive"}"\nflush_seconds = 2.0\n\n'
        f'[index]\npath = "{root / "index"}"\n\n'
        f'[[sources]]\nname = "demo-export"\nkind = "local"\npath = "{root / "export"}"\n\n'
        f"{detect}\n" + forward_toml
    )
    path = root / "huntvault.toml"
    path.write_text(text, encoding="utf-8")
    # the forwarder's secrets come only from HUNTVAULT_* variables: the emulator's go into this load's
    # environment, not into the process's (os.environ stays as the user left it)
    return configmod.load(path, env={**os.environ, **secrets})


def step_start_emulators(state: DemoState) -> None:
    """Start the Defender API and Log Analytics emulators for the same tenant, and write huntvault.toml."""
    from huntvault.emulator import start_emulators

    o = state.opts
    emu = start_emulators(
        state.root / "emulator",
        seed=o.seed,
        devices=o.devices,
        end=o.end,
        days=o.days,
        extra_alerts=20,
        port=o.api_port,
        la_port=o.la_port,
    )
    state.emulators = emu
    forward_toml = emu.forward_toml(str((state.root / "forward").resolve()))
    state.config = _write_config(state, forward_toml, emu.env())
    state.console.print(
        f"Defender API emulator {emu.defender_server.url}, Log Analytics emulator {emu.la_server.url}; "
        f"config {state.root / 'huntvault.toml'}"
    )


def step_ingest(state: DemoState) -> None:
    """Ingest the export folder into the Delta Lake archive (exactly once, duplicates dropped)."""
    from huntvault.sources import run_ingest

    assert state.config is not None
    with state.bars.bar("ingest", "bytes") as bar:

        def progress(stats: IngestStats, unread: int) -> None:
            bar.info = f"{stats.rows_written:,} rows"
            bar(stats.bytes_read, stats.bytes_read + unread)

        stats = run_ingest(
            state.config.sources[0], str(state.archive_dir), state.config.archive, progress=progress
        )
    state.console.print(
        f"{stats.rows_written:,} rows archived, {stats.duplicates:,} duplicates dropped, "
        f"{stats.quarantined:,} lines quarantined, {stats.commits} commits"
    )
    if state.manifest is not None and stats.rows_written != state.manifest.total_events:
        state.console.print(
            f"[red]archived {stats.rows_written:,} rows but the export holds "
            f"{state.manifest.total_events:,} distinct events[/red]"
        )


def step_index(state: DemoState) -> None:
    """Build the full-text indexes (one per table, Azure AI Search compatible) from the archive."""
    from huntvault.search import SearchService

    assert state.config is not None
    svc = SearchService(state.config, str(state.archive_dir), sync_now=False)
    with state.bars.bar("index", "documents") as bar:
        results = svc.store.sync(progress=bar.callback)
    docs = sum(r.items_processed for r in results.values())
    state.console.print(f"{len(results)} indexes, {docs:,} documents indexed")


def step_forward(state: DemoState) -> None:
    """Poll the Defender API emulator, enrich alerts with their machines, send them to every sink."""
    from huntvault.forward import Forwarder

    assert state.config is not None
    fw = Forwarder(state.config.forward, str(state.archive_dir))
    try:
        with state.bars.bar("forward", "records") as bar:
            result = fw.run_once(progress=bar.callback)
    finally:
        fw.close()
    sent = "; ".join(
        f"{name}: {r.sent} sent, {r.pending} pending, {r.dead} dead-lettered"
        for name, r in result.sinks.items()
    )
    state.console.print(
        f"{result.poll.alerts} alert versions with {result.poll.api_calls} Defender API calls; {sent}"
    )


def step_detect(state: DemoState) -> None:
    """Run the detection rules (rules/) over the export's last day, where the planted attacks are."""
    from huntvault.detect import open_scheduler

    assert state.config is not None
    if state.opts.rules_dir is None:
        state.console.print("no rules/ folder found: detection skipped (give one with --rules)")
        return
    sched = open_scheduler(state.config)
    try:
        with state.bars.bar("detect", "windows") as bar:
            report = sched.run_once(progress=bar.callback)
    finally:
        sched.store.close()
        sched.state.close()
    windows: dict[str, int] = {}
    devices: dict[str, set[str]] = {}
    for w in report.windows:
        windows[w.rule_id] = windows.get(w.rule_id, 0) + 1
        state.rule_alerts[w.rule_id] = state.rule_alerts.get(w.rule_id, 0) + w.alerts
    for rule in sched.rules:
        state.rule_alerts.setdefault(rule.id, 0)
    for alert in _alerts(state):
        devices.setdefault(str(alert["RuleId"]), set()).add(str(alert["DeviceName"]).split(".")[0])
    table = Table(title=f"Detection rules over the last {DETECT_DAYS:g} day ({state.opts.rules_dir})")
    for col in ("rule", "windows", "alerts", "devices"):
        table.add_column(col, justify="right" if col in ("windows", "alerts") else "left")
    names = {r.id: r.name for r in sched.rules}
    for rid in sorted(state.rule_alerts):
        shown = ", ".join(sorted(d for d in devices.get(rid, set()) if d)) or "-"
        table.add_row(names.get(rid, rid), str(windows.get(rid, 0)), str(state.rule_alerts[rid]), shown)
    state.console.print(table)
    for rid, why in report.errors.items():
        state.console.print(f"[red]{rid}: {why}[/red]")
    total = sum(state.rule_alerts.values())
    state.console.print(
        f"{len(report.windows):,} windows, {total} alerts into the archive's HuntvaultAlerts table"
    )


def _alerts(state: DemoState) -> list[dict[str, Any]]:
    from huntvault.kql import execute

    try:
        return execute("HuntvaultAlerts | project RuleId, DeviceName", state.archive_dir).rows()
    except HuntvaultError:  # no alert at all: the table does not exist
        return []


def step_hunt(state: DemoState) -> None:
    """Run each planted story's example hunt over the archive."""
    from huntvault.kql import execute

    table = Table(title="Example hunts over the archive")
    for col in ("story", "hunt", "rows"):
        table.add_column(col)
    with state.bars.bar("hunt", "hunts") as bar:
        for i, (story, sample) in enumerate(STORY_HUNTS.items()):
            bar(i, len(STORY_HUNTS))
            result = execute(sample_query(sample), state.archive_dir)
            state.hunt_rows[story] = result.table.num_rows
            table.add_row(story, sample, f"{result.table.num_rows:,}")
        bar(len(STORY_HUNTS), len(STORY_HUNTS))
    state.console.print(table)


def _shown_path(p: Path) -> str:
    """`p` relative to the current folder when it is inside it (shorter to copy), else absolute."""
    absolute = p.resolve()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def cli_line(state: DemoState) -> str:
    """One command line that runs a hunt over the demo's data with the installed `huntvault`."""
    exe = Path(sys.executable).with_name("huntvault")
    program = _shown_path(exe) if exe.is_file() else "huntvault"
    if program != "huntvault" and "/" not in program:
        program = "./" + program
    config = _shown_path(state.root / "huntvault.toml")
    return f'{program} --config {config} hunt "{CLI_EXAMPLE}"'


def print_links(state: DemoState) -> None:
    """The UI's pages, three searches, three hunts, the detection alerts and one CLI line; kept in `links`."""
    from huntvault.web import hunt_url, page_urls, search_url

    c = state.console
    for title, url in page_urls(state.url).items():
        state.links.append((title, url))
        c.print(f"  {title:<16} {url}", markup=False, highlight=False)
    c.print("\n[bold]Three example searches[/bold] (Azure AI Search query strings, also usable with curl):")
    for table, qs in EXAMPLE_SEARCHES:
        url = search_url(state.url, table, qs)
        state.links.append((f"search {table}", url))
        c.print(f"  {table}: {qs}", markup=False, highlight=False)
        c.print(f"    {url}", soft_wrap=True, markup=False, highlight=False)
    c.print("\n[bold]Three example hunts[/bold] (KQL, each finds a planted attack):")
    for story in PRINTED_HUNTS:
        url = hunt_url(state.url, sample_query(STORY_HUNTS[story]))
        state.links.append((f"hunt {story}", url))
        c.print(f"  {story} ({STORY_HUNTS[story]}):", markup=False)
        c.print(f"    {url}", soft_wrap=True, markup=False, highlight=False)
    if state.rule_alerts:
        url = hunt_url(state.url, ALERTS_HUNT)
        state.links.append(("detection alerts", url))
        c.print(f"\n[bold]Detection alerts[/bold] ({sum(state.rule_alerts.values())} raised by the rules):")
        c.print(f"    {url}", soft_wrap=True, markup=False, highlight=False)
    c.print("\n[bold]The CLI on the demo's data[/bold] (copy this line):")
    c.print(f"  {cli_line(state)}", soft_wrap=True, markup=False, highlight=False)
    default_dir = state.root.resolve() == (Path.cwd() / ".demo").resolve()
    c.print(
        "  (`source .venv/bin/activate` puts `huntvault` on the PATH"
        + ("; from this folder it reads .demo/huntvault.toml without --config" if default_dir else "")
        + "; docs: README.md, Commands)",
        markup=False,
        highlight=False,
    )


def step_serve(state: DemoState) -> None:
    """Serve the search API, the hunt API and the UI until Ctrl-C (or `opts.stop`)."""
    from huntvault.runloop import stop_on_signals
    from huntvault.web import start_background_server

    assert state.config is not None
    o = state.opts
    server = start_background_server(state.config, state.archive_dir, host=o.host, port=o.port, no_auth=True)
    state.url = server.url
    c = state.console
    try:
        c.print(
            f"[bold green]huntvault is serving on {server.url}[/bold green] "
            "(--no-auth: bound to 127.0.0.1 only, no key needed)"
        )
        print_links(state)
        c.print("\nPress Ctrl-C to stop.")
        with stop_on_signals(o.stop) as stop:
            if o.on_serving is not None:
                o.on_serving(state)
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


#: The demo, in order.
STEPS: list[tuple[str, Callable[[DemoState], None]]] = [
    ("emulate the Defender streaming export", step_emulate),
    ("start the Defender API and Log Analytics emulators", step_start_emulators),
    ("ingest the export into the Delta Lake archive", step_ingest),
    ("index the archive for search", step_index),
    ("forward the alerts to Log Analytics", step_forward),
    ("run the detection rules", step_detect),
    ("hunt the planted attacks with KQL", step_hunt),
]


def run(opts: DemoOptions, console: Console | None = None) -> DemoState:
    """Check the ports, then run every step (and serve, when `opts.serve`); the emulators stop at the end."""
    check_ports(opts)
    prepare_folder(opts.root)
    if opts.rules_dir is None:
        opts.rules_dir = default_rules_dir()
    console = console or Console()
    state = DemoState(opts, console)
    steps = [*STEPS, ("serve the UI", step_serve)] if opts.serve else STEPS
    started_all, cpu_all = time.perf_counter(), _cpu()
    try:
        for i, (title, step) in enumerate(steps, 1):
            state.console.rule(f"step {i}/{len(steps)}: {title}")
            started, cpu = time.perf_counter(), _cpu()
            step(state)
            state.timings[title] = time.perf_counter() - started
            state.cpu[title] = _cpu() - cpu
            if step is not step_serve:
                state.console.print(f"[dim]{state.timings[title]:.1f} s (CPU {state.cpu[title]:.1f} s)[/dim]")
            if i == len(STEPS):
                state.timings["total before serving"] = time.perf_counter() - started_all
                state.cpu["total before serving"] = _cpu() - cpu_all
                _summary(state)
    finally:
        if state.emulators is not None:
            state.emulators.stop()
    return state


def _cpu() -> float:
    """CPU seconds of this process so far (all its threads: DuckDB's and tantivy's included)."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


#: step title -> its short name in the timing summary
_SHORT = {title: step.__name__.removeprefix("step_").removeprefix("start_") for title, step in STEPS}


def _summary(state: DemoState) -> None:
    """One line with every step's wall and CPU time (what the README quotes), and the machine's load."""
    parts = [
        f"{_SHORT[t]} {state.timings[t]:.0f} s"
        for t, _ in STEPS
        if t in state.timings and state.timings[t] >= 0.5
    ]
    total = state.timings["total before serving"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    state.console.print(
        f"[bold]ready in {total:.0f} s[/bold] (CPU {state.cpu['total before serving']:.0f} s, "
        f"{os.cpu_count()} cores, load average {load:.1f}): {', '.join(parts)}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m huntvault.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(".demo"), help="demo folder (default: .demo)")
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=8080, help="UI port (default 8080; make demo PORT=...)")
    parser.add_argument(
        "--api-port", type=int, default=0, help="Defender API emulator port (default: any free)"
    )
    parser.add_argument(
        "--la-port", type=int, default=0, help="Log Analytics emulator port (default: any free)"
    )
    parser.add_argument("--rules", type=Path, default=None, help="detection rules folder (default: rules/)")
    parser.add_argument(
        "--no-serve", action="store_true", help="stop after the hunts instead of serving the UI"
    )
    args = parser.parse_args(argv)
    opts = DemoOptions(
        args.dir,
        args.devices,
        args.days,
        args.seed,
        port=args.port,
        api_port=args.api_port,
        la_port=args.la_port,
        serve=not args.no_serve,
        rules_dir=args.rules.resolve() if args.rules else None,
    )
    try:
        run(opts)
    except HuntvaultError as exc:
        print(f"huntvault demo: error: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("huntvault demo: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
