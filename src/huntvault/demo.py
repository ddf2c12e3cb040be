"""`make demo`: the newcomer's tour over a demo folder, one plain step after another.

emulate the export -> ingest it into the archive -> index it -> forward the tenant's alerts through the
Defender API and Log Analytics emulators -> run the example hunts -> serve the UI on 127.0.0.1:8080.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from huntvault import config as configmod
from huntvault.emulator import Manifest, default_end, write_export

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

#: Three portal-style searches (index, query string) that land on planted activity.
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


def sample_query(name: str) -> str:
    """The text of one shipped sample hunt."""
    return resources.files("huntvault.web").joinpath(f"static/samples/{name}").read_text(encoding="utf-8")


@dataclass
class DemoOptions:
    root: Path
    devices: int = 50
    days: float = 7.0
    seed: int = 1
    end: datetime | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    serve: bool = True


@dataclass
class DemoState:
    """What the steps hand to each other."""

    opts: DemoOptions
    console: Console
    manifest: Manifest | None = None
    config: configmod.Config | None = None
    emulators: Any = None
    hunt_rows: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.opts.root

    @property
    def export_dir(self) -> Path:
        return self.root / "export"

    @property
    def archive_dir(self) -> Path:
        return self.root / "archive"


def step_emulate(state: DemoState) -> None:
    """Emulate the tenant's streaming export (folder layout, as Defender writes it to Azure Storage)."""
    o = state.opts
    end = o.end or default_end()
    state.opts.end = end
    state.manifest = m = write_export(
        state.export_dir, devices=o.devices, days=o.days, seed=o.seed, end=end.isoformat(), overwrite=True
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


def _write_config(state: DemoState, forward_toml: str) -> configmod.Config:
    root = state.root.resolve()
    text = (
        f'[archive]\npath = "{root / "archive"}"\nflush_seconds = 2.0\n\n'
        f'[index]\npath = "{root / "index"}"\n\n'
        f'[[sources]]\nname = "demo-export"\nkind = "local"\npath = "{root / "export"}"\n\n'
        f'[detect]\nstate_dir = "{root / "detect"}"\n\n' + forward_toml
    )
    path = root / "huntvault.toml"
    path.write_text(text, encoding="utf-8")
    return configmod.load(path)


def step_start_emulators(state: DemoState) -> None:
    """Start the Defender API and Log Analytics emulators for the same tenant, and write huntvault.toml."""
    from huntvault.emulator.serve import start_emulators

    o = state.opts
    emu = start_emulators(
        state.root / "emulator",
        seed=o.seed,
        devices=o.devices,
        end=o.end,
        days=o.days,
        extra_alerts=20,
        port=0,
        la_port=0,
    )
    state.emulators = emu
    os.environ.update(emu.env())  # the forwarder's secrets come from HUNTVAULT_* variables, never the file
    forward_toml = emu.forward_toml(str((state.root / "forward").resolve()))
    state.config = _write_config(state, forward_toml)
    state.console.print(
        f"Defender API emulator {emu.defender_server.url}, Log Analytics emulator {emu.la_server.url}; "
        f"config {state.root / 'huntvault.toml'}"
    )


def step_ingest(state: DemoState) -> None:
    """Ingest the export folder into the Delta Lake archive (exactly once, duplicates dropped)."""
    from huntvault.sources.ingest import run_ingest

    assert state.config is not None
    stats = run_ingest(state.config.sources[0], str(state.archive_dir), state.config.archive)
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
    results = svc.store.sync()
    docs = sum(r.items_processed for r in results.values())
    state.console.print(f"{len(results)} indexes, {docs:,} documents indexed")


def step_forward(state: DemoState) -> None:
    """Poll the Defender API emulator, enrich alerts with their machines, send them to every sink."""
    from huntvault.forward import Forwarder

    assert state.config is not None
    fw = Forwarder(state.config.forward, str(state.archive_dir))
    try:
        result = fw.run_once()
    finally:
        fw.close()
    sent = "; ".join(
        f"{name}: {r.sent} sent, {r.pending} pending, {r.dead} dead-lettered"
        for name, r in result.sinks.items()
    )
    state.console.print(
        f"{result.poll.alerts} alert versions with {result.poll.api_calls} Defender API calls; {sent}"
    )


def step_hunt(state: DemoState) -> None:
    """Run each planted story's example hunt over the archive."""
    from huntvault.kql import execute

    table = Table(title="Example hunts over the archive")
    for col in ("story", "hunt", "rows"):
        table.add_column(col)
    for story, sample in STORY_HUNTS.items():
        result = execute(sample_query(sample), state.archive_dir)
        state.hunt_rows[story] = result.table.num_rows
        table.add_row(story, sample, f"{result.table.num_rows:,}")
    state.console.print(table)


def step_serve(state: DemoState) -> None:
    """Serve the search API, the hunt API and the UI until Ctrl-C."""
    from huntvault.web import hunt_url, page_urls, search_url, start_background_server

    assert state.config is not None
    o = state.opts
    server = start_background_server(state.config, state.archive_dir, host=o.host, port=o.port, no_auth=True)
    c = state.console
    c.print(
        f"[bold green]huntvault is serving on {server.url}[/bold green] "
        "(--no-auth: bound to 127.0.0.1 only, no key needed)"
    )
    for title, url in page_urls(server.url).items():
        c.print(f"  {title:<16} {url}")
    c.print("\n[bold]Three example searches[/bold] (Azure AI Search query strings, also usable with curl):")
    for table, qs in EXAMPLE_SEARCHES:
        c.print(f"  {table}: {qs}", markup=False, highlight=False)
        c.print(f"    {search_url(server.url, table, qs)}", soft_wrap=True, markup=False, highlight=False)
    c.print("\n[bold]Three example hunts[/bold] (KQL, each finds a planted attack):")
    for story in PRINTED_HUNTS:
        c.print(f"  {story} ({STORY_HUNTS[story]}):", markup=False)
        c.print(
            f"    {hunt_url(server.url, sample_query(STORY_HUNTS[story]))}",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    c.print("\nPress Ctrl-C to stop.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
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
    ("hunt the planted attacks with KQL", step_hunt),
]


def run(opts: DemoOptions, console: Console | None = None) -> DemoState:
    """Run every step (and serve, when `opts.serve`); the emulators are stopped at the end."""
    opts.root.mkdir(parents=True, exist_ok=True)
    state = DemoState(opts, console or Console())
    steps = [*STEPS, ("serve the UI", step_serve)] if opts.serve else STEPS
    try:
        for i, (title, step) in enumerate(steps, 1):
            state.console.rule(f"step {i}/{len(steps)}: {title}")
            started = time.perf_counter()
            step(state)
            state.timings[title] = time.perf_counter() - started
            state.console.print(f"[dim]{time.perf_counter() - started:.1f} s[/dim]")
    finally:
        if state.emulators is not None:
            state.emulators.stop()
    return state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m huntvault.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(".demo"), help="demo folder (default: .demo)")
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--no-serve", action="store_true", help="stop after the hunts instead of serving the UI"
    )
    args = parser.parse_args(argv)
    run(DemoOptions(args.dir, args.devices, args.days, args.seed, port=args.port, serve=not args.no_serve))


if __name__ == "__main__":
    main()
