"""The `huntvault` command line: one command per stage, each a thin call into its stage."""

from __future__ import annotations

import json
import sys
import threading
from typing import TYPE_CHECKING, Any

import click

from huntvault import __version__
from huntvault.cliapp import HuntvaultGroup, allow_quick_exit, bars, load_config

if TYPE_CHECKING:
    from huntvault.detect import BacktestReport, Rule
    from huntvault.forward import ComponentStatus, CycleResult, Forwarder
    from huntvault.sources import IngestStats


@click.group(cls=HuntvaultGroup, name="huntvault")
@click.version_option(__version__, prog_name="huntvault")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="huntvault.toml to use (default: $HUNTVAULT_CONFIG, ./huntvault.toml, then .demo/huntvault.toml "
    "after `make demo`, else built-in defaults).",
)
@click.option(
    "--progress/--no-progress",
    "progress",
    default=None,
    help="Progress bars on stderr (default: only when stderr is a terminal).",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None, progress: bool | None) -> None:
    """Keep Defender advanced-hunting data for years: ingest, search, hunt, forward."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["progress"] = progress


@main.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
@click.pass_context
def config_show(ctx: click.Context, as_json: bool) -> None:
    """Print the effective configuration, secrets redacted."""
    from huntvault import config as configmod

    allow_quick_exit()
    cfg = load_config(ctx)
    data = configmod.as_dict(cfg)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(f"# effective configuration (from {cfg.source_file or 'built-in defaults'})")
        click.echo(configmod.to_toml(data))


@main.group("emulate")
def emulate_group() -> None:
    """The built-in Defender tenant emulator (export writer, REST API, Log Analytics)."""


@emulate_group.command("export")
@click.option(
    "--to",
    "to_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the export layout as folders.",
)
@click.option(
    "--to-azure",
    "azure",
    metavar="CONNECTION_STRING",
    default=None,
    help="Write append blobs to this account.",
)
@click.option(
    "--eventhub-format",
    "eventhub_dir",
    type=click.Path(file_okay=False),
    default=None,
    help='Write {"records":[...]} Event Hub messages as files.',
)
@click.option(
    "--eventhub-name", default="", help="One named hub for all tables (default: one hub per table)."
)
@click.option("--days", type=float, default=1.0, show_default=True)
@click.option("--devices", type=int, default=5, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--end", default="", help="ISO time closing the window (default: start of the current UTC hour)."
)
@click.option(
    "--dup-rate", type=float, default=0.002, show_default=True, help="Share of lines delivered twice."
)
@click.option(
    "--late-rate", type=float, default=0.02, show_default=True, help="Share of lines appended hours late."
)
@click.option("--events-per-device-day", type=int, default=2000, show_default=True)
@click.option("--unknown-column", default="EmulatorDriftField", show_default=True, help='"" disables it.')
@click.option("--unknown-table", default="EmulatorDriftEvents", show_default=True, help='"" disables it.')
@click.option(
    "--malformed", type=int, default=0, show_default=True, help="Broken lines to inject (quarantine tests)."
)
@click.option(
    "--manifest-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where manifest.json goes (default: --to, else <--eventhub-format>-manifest, else .).",
)
@click.option("--follow", is_flag=True, help="After the window, keep appending in real time.")
@click.option("--rate", type=float, default=100.0, show_default=True, help="Lines per second with --follow.")
@click.option("--max-events", type=int, default=None, help="Stop --follow after this many events.")
@click.option("--duration", type=float, default=None, help="Stop --follow after this many seconds.")
@click.option(
    "--overwrite", is_flag=True, help="Replace an export already in the targets (instead of refusing)."
)
def emulate_export(
    to_dir: str | None,
    azure: str | None,
    eventhub_dir: str | None,
    eventhub_name: str,
    days: float,
    devices: int,
    seed: int,
    end: str,
    dup_rate: float,
    late_rate: float,
    events_per_device_day: int,
    unknown_column: str,
    unknown_table: str,
    malformed: int,
    manifest_dir: str | None,
    follow: bool,
    rate: float,
    max_events: int | None,
    duration: float | None,
    overwrite: bool,
) -> None:
    """Write a deterministic emulated Defender streaming export (and manifest.json)."""
    from huntvault.emulator import write_export

    with bars(click.get_current_context()).bar("emulate", "hours") as bar:
        manifest = write_export(
            to_dir,
            azure_connection_string=azure,
            eventhub_dir=eventhub_dir,
            manifest_dir=manifest_dir,
            follow_rate=rate if follow else None,
            max_events=max_events,
            duration=duration,
            overwrite=overwrite,
            eventhub_name=eventhub_name,
            days=days,
            devices=devices,
            seed=seed,
            end=end,
            dup_rate=dup_rate,
            late_rate=late_rate,
            events_per_device_day=events_per_device_day,
            unknown_column=unknown_column,
            unknown_table=unknown_table,
            malformed=malformed,
            progress=bar.callback,
        )
    click.echo(
        f"tenant {manifest.tenant_id}: {manifest.total_events} events in {len(manifest.tables)} tables, "
        f"{manifest.total_duplicates} duplicates, {len(manifest.malformed)} malformed lines, "
        f"{len(manifest.stories)} planted stories ({manifest.start} .. {manifest.end})"
    )


@emulate_group.command("serve")
@click.option(
    "--port", type=int, default=8443, show_default=True, help="Defender API + token endpoint (HTTPS)."
)
@click.option("--la-port", type=int, default=0, help="Log Analytics endpoints (HTTPS); default --port + 1.")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False),
    default="huntvault-data/emulator",
    show_default=True,
    help="Where the self-signed CA and a sample forward config are written.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--devices", type=int, default=20, show_default=True)
@click.option(
    "--alerts",
    "extra_alerts",
    type=int,
    default=200,
    show_default=True,
    help="Background alerts added to the story alerts.",
)
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    help="Emulated seconds per real second (alerts change status as the clock moves).",
)
def emulate_serve(
    port: int, la_port: int, folder: str, seed: int, devices: int, extra_alerts: int, speed: float
) -> None:
    """Serve the Defender API and Log Analytics emulators on 127.0.0.1 until interrupted."""
    import time as _time
    from pathlib import Path

    from huntvault.emulator import start_emulators

    emu = start_emulators(
        folder,
        seed=seed,
        devices=devices,
        extra_alerts=extra_alerts,
        clock_speed=speed,
        port=port,
        la_port=la_port or port + 1,
    )
    sample = Path(folder) / "forward-emulator.toml"
    sample.write_text(emu.forward_toml(str(Path(folder) / "forward-state")), encoding="utf-8")
    click.echo(
        f"Defender API:   {emu.defender_server.url}  (token: {emu.defender_server.url}/{emu.creds.tenant_id}"
        "/oauth2/v2.0/token)"
    )
    click.echo(
        f"Log Analytics:  {emu.la_server.url}  (workspace {emu.creds.workspace_id}, "
        f"DCR {emu.creds.dcr_immutable_id}, stream {emu.creds.stream})"
    )
    click.echo(f"CA certificate: {emu.tls.ca}")
    click.echo(f"Sample config:  {sample}")
    for key, value in emu.env().items():
        click.echo(f"export {key}={value}")
    try:
        while True:
            _time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


@main.group("forward", invoke_without_command=True)
@click.option("--once", "mode", flag_value="once", help="One poll and one delivery pass, then exit.")
@click.option(
    "--follow", "mode", flag_value="follow", default=True, help="Poll every poll_seconds (default)."
)
@click.option(
    "--replay-dead-letter", "replay", is_flag=True, help="Retry the dead-lettered records, then exit."
)
@click.option("-v", "--verbose", is_flag=True, help="Log each cycle.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="huntvault.toml to use (same as the global --config).",
)
@click.pass_context
def forward_group(
    ctx: click.Context, mode: str, replay: bool, verbose: bool, config_path: str | None
) -> None:
    """Forward Defender alerts, enriched with their machines, to the configured sinks.

    --follow never exits on a remote fault (token endpoint, API, sink): it retries with backoff and
    shows the state in `forward status`. It exits 2 on a configuration error found at start-up.
    --once exits 0 when everything was delivered, 1 when a remote was down, 2 when one refused the
    configuration (the message names the setting)."""
    if config_path:
        ctx.find_root().obj["config_path"] = config_path
    if ctx.invoked_subcommand is not None:
        return
    from huntvault.forward import Forwarder
    from huntvault.runloop import configure_logging, stop_on_signals

    configure_logging(verbose)
    cfg = load_config(ctx)
    with stop_on_signals() as stop:  # before the state lock: a SIGTERM from then on is a clean stop
        fw = Forwarder(cfg.forward, cfg.archive.path)
        try:
            _forward_run(fw, mode, replay, stop)
        finally:
            fw.close()


def _forward_run(fw: Forwarder, mode: str, replay: bool, stop: threading.Event) -> None:
    import logging

    if replay:
        for name, res in fw.replay_dead_letters().items():
            click.echo(
                f"{name}: replayed {res.sent}, rejected again {res.dead}{'; ' + res.down if res.down else ''}"
            )
        return
    for warning in fw.check():
        click.echo(f"huntvault: warning: {warning}", err=True)
    if mode == "once":
        with bars(click.get_current_context()).bar("forward", "records") as bar:
            result = fw.run_once(stop, progress=bar.callback)
        sys.exit(_forward_once_report(result))

    def report(result: CycleResult) -> None:
        logging.getLogger("huntvault.forward").info(
            "polled %d versions (%d API calls), queued %d; %s",
            result.poll.alerts,
            result.poll.api_calls,
            result.poll.queued,
            ", ".join(f"{n}: sent {r.sent} pending {r.pending}" for n, r in result.sinks.items()),
        )

    fw.run(stop, report)


def _forward_once_report(result: CycleResult) -> int:
    """Print one cycle's outcome; the exit status: 0 all delivered, 1 a remote down, 2 one paused."""
    poll = result.poll
    click.echo(
        f"polled {poll.alerts} alert versions with {poll.api_calls} API calls; cursor {poll.cursor or '-'}"
    )
    status = 0
    if poll.error:
        click.echo(
            f"huntvault: {'paused' if poll.paused else 'down'}: the Defender API: {poll.error}", err=True
        )
        status = 2 if poll.paused else 1
    for name, res in result.sinks.items():
        click.echo(
            f"{name}: sent {res.sent}, dead-lettered {res.dead}, pending {res.pending}"
            + (f" ({'PAUSED' if res.paused else 'down'}: {res.down})" if res.down else "")
        )
        if res.down:
            click.echo(f"huntvault: sink {name} {'paused' if res.paused else 'down'}: {res.down}", err=True)
            status = max(status, 2 if res.paused else 1)
    return status


@forward_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def forward_status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Health, cursor, queued, sent and dead-lettered counts per sink."""
    from huntvault.forward import forward_status

    st = forward_status(load_config(ctx).forward)
    if as_json:
        click.echo(json.dumps(st.to_json(), indent=2))
        return
    running = "running" if st.running else "not running"
    click.echo(f"state:  {st.state or '(no forwarder has run here yet)'} ({running})")
    click.echo(f"cursor: {st.cursor or '(none yet)'}")
    click.echo(
        f"Defender API calls: {st.api_calls} for {st.alert_versions_polled} alert versions polled"
        + (f"; {st.stored_not_queued} stored, not queued yet" if st.stored_not_queued else "")
    )
    click.echo(_health_line("Defender API", st.defender))
    for name, s in st.sinks.items():
        click.echo(
            _health_line(f"sink {name}", s.health)
            + f"\n    sent {s.sent}, pending {s.pending}, dead-lettered {s.dead_lettered} "
            f"({s.dead_letter_files} files), replayed {s.replayed}"
        )


def _health_line(what: str, h: ComponentStatus) -> str:
    if h.state == "ok":
        return f"  {what}: ok"
    if h.state == "unknown":
        return f"  {what}: not tried yet"
    fix = f" -- fix {h.setting}" if h.setting else ""
    retry = f"; next try {h.retry_at}" if h.retry_at else ""
    return f"  {what}: {h.state.upper()} since {h.since} ({h.failures} failures{retry}){fix}\n    {h.error}"


@forward_group.command("init")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="huntvault-azure",
    show_default=True,
    help="Where the ARM template, Bicep, table schema and az script go.",
)
@click.option("--workspace", default="<workspace-name>", help="Log Analytics workspace name.")
@click.option("--resource-group", default="<resource-group>", help="Resource group of the workspace.")
@click.option("--location", default="<location>", help="Azure region of the workspace.")
@click.option("--dcr-name", default="huntvault-mdatp-alerts", show_default=True)
@click.pass_context
def forward_init_cmd(
    ctx: click.Context, out_dir: str, workspace: str, resource_group: str, location: str, dcr_name: str
) -> None:
    """Write what Azure needs for the Logs Ingestion sinks: custom table, DCR, role, az commands."""
    from huntvault.forward import azure_setup, write_azure_setup

    setups = azure_setup(
        load_config(ctx).forward,
        workspace=workspace,
        resource_group=resource_group,
        location=location,
        dcr_name=dcr_name,
    )
    for path in write_azure_setup(setups, out_dir):
        click.echo(f"wrote {path}")
    for st in setups:
        click.echo(
            f"sink {st.sink}: {len(st.columns)} columns ({st.merge} records) in {st.table}, stream {st.stream}; "
            f"role: Monitoring Metrics Publisher on the DCR for the forwarder's app. Run {out_dir}/{st.sink}.setup.sh"
        )


# --- ingest / archive (issue 3) -------------------------------------------------------------------


@main.command("ingest")
@click.option(
    "--from",
    "from_dir",
    type=click.Path(file_okay=False),
    help="A local export folder (emulator output, azcopy copy).",
)
@click.option(
    "--from-azure",
    "from_azure",
    help="Connection string, or account URL (optionally ?SAS); else azure-identity.",
)
@click.option("--from-jsonl", "from_jsonl", help="A jsonl file of envelopes or bare rows ('-' = stdin).")
@click.option(
    "--from-replay",
    "from_replay",
    type=click.Path(file_okay=False),
    help="A folder of Event Hub message files.",
)
@click.option("--source", "source_name", help="A [[sources]] entry of the configuration.")
@click.option("--table", help="Table of bare rows (jsonl).")
@click.option("--archive", "archive_dir", help="Archive folder or az:// URL (default: [archive].path).")
@click.option(
    "--once/--follow",
    default=True,
    help="One pass (default) or keep polling (SIGINT/SIGTERM stop it after a commit).",
)
@click.option("--poll-seconds", type=float, default=None, help="Seconds between polls in --follow.")
@click.option("--quiet", is_flag=True, help="No progress bar (same as the global --no-progress).")
@click.pass_context
def ingest_cmd(
    ctx: click.Context,
    from_dir: str | None,
    from_azure: str | None,
    from_jsonl: str | None,
    from_replay: str | None,
    source_name: str | None,
    table: str | None,
    archive_dir: str | None,
    once: bool,
    poll_seconds: float | None,
    quiet: bool,
) -> None:
    """Ingest the streaming export into the Delta Lake archive, incrementally and exactly once."""
    from huntvault.sources import run_ingest, source_from_options

    cfg = load_config(ctx)
    src = source_from_options(cfg.sources, from_dir, from_azure, source_name, from_jsonl, table, from_replay)
    if poll_seconds is not None:
        src.poll_seconds = poll_seconds
    target = archive_dir or cfg.archive.path
    shown = bars(ctx)
    shown.enabled = shown.enabled and not quiet
    with shown.bar(f"ingest {src.name}", "bytes") as bar:

        def progress(stats: IngestStats, unread: int) -> None:
            bar.info = (
                f"{stats.rows_written:,} rows, {stats.duplicates:,} dup, {stats.quarantined:,} quarantined"
            )
            bar(stats.bytes_read, stats.bytes_read + unread)

        from huntvault.runloop import stop_on_signals

        try:
            with stop_on_signals() as stop:
                stats = run_ingest(src, target, cfg.archive, follow=not once, progress=progress, stop=stop)
        except KeyboardInterrupt:
            click.echo("stopped", err=True)
            return
    click.echo(
        f"ingested {stats.rows_written:,} rows ({stats.bytes_read:,} bytes read), "
        f"{stats.duplicates:,} duplicates dropped, {stats.quarantined:,} lines quarantined, {stats.commits} commits"
    )
    for name, n in sorted(stats.per_table.items()):
        click.echo(f"  {name}: {n:,}")


@main.command("status")
@click.option("--archive", "archive_dir", help="Archive folder or az:// URL (default: [archive].path).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status_cmd(ctx: click.Context, archive_dir: str | None, as_json: bool) -> None:
    """Rows, bytes, partitions and time range per table; per-source lag; quarantine count."""
    from huntvault.archive import archive_location, status

    allow_quick_exit()
    data = status(archive_location(load_config(ctx).archive, archive_dir))
    if as_json:
        click.echo(json.dumps(data.to_json(), indent=2))
        return
    click.echo(
        f"archive {data.archive}: {data.total_rows:,} rows, {data.total_bytes:,} bytes, "
        f"{data.quarantined:,} quarantined lines"
    )
    for t in data.tables:
        click.echo(
            f"  {t.table:<32} {t.rows:>12,} rows {t.bytes:>14,} B {t.partitions:>5} days "
            f"{t.parts:>5} parts  {t.min_timestamp} .. {t.max_timestamp}  (version {t.version})"
        )
    for s in data.sources:
        click.echo(
            f"  source {s.source}: {s.rows:,} rows, {s.duplicates:,} dup, {s.quarantined:,} quarantined, "
            f"{s.streams} streams, unread {s.unread_bytes or 0:,} B, last commit {s.last_commit}, "
            f"newest event {s.newest_event}"
        )


@main.command("compact")
@click.option("--archive", "archive_dir", help="Archive folder (default: [archive].path).")
@click.option(
    "--target-rows",
    type=int,
    default=None,
    help="Rows per merged part (default: [archive].target_part_rows).",
)
@click.pass_context
def compact_cmd(ctx: click.Context, archive_dir: str | None, target_rows: int | None) -> None:
    """Merge small parts of each partition."""
    from huntvault.archive import archive_location, compact

    cfg = load_config(ctx)
    rep = compact(
        archive_location(cfg.archive, archive_dir),
        target_rows or cfg.archive.target_part_rows,
        cfg.archive.compression,
        cfg.archive.vacuum_grace_hours,
    )
    click.echo(
        f"compacted {rep.partitions} groups: {rep.parts_before} parts -> {rep.parts_after} ({rep.rows:,} rows); "
        f"vacuumed {rep.vacuumed} files removed more than {cfg.archive.vacuum_grace_hours:g} h ago"
    )


@main.group("retention")
def retention_group() -> None:
    """Archive retention."""


@retention_group.command("apply")
@click.option("--archive", "archive_dir", help="Archive folder (default: [archive].path).")
@click.option("--dry-run", is_flag=True, help="Only list what would be dropped.")
@click.pass_context
def retention_apply_cmd(ctx: click.Context, archive_dir: str | None, dry_run: bool) -> None:
    """Drop partitions older than each table's retention ([retention]; 0 keeps forever)."""
    from huntvault.archive import archive_location, retention_apply

    cfg = load_config(ctx)
    dropped = retention_apply(
        archive_location(cfg.archive, archive_dir),
        cfg.retention.default_days,
        cfg.retention.tables,
        dry_run=dry_run,
        grace_hours=cfg.archive.vacuum_grace_hours,
    )
    verb = "would drop" if dry_run else "dropped"
    for d in dropped:
        click.echo(f"{verb} {d.table} {d.date}: {d.parts} parts, {d.rows:,} rows")
    click.echo(f"{verb} {len(dropped)} partitions")


@main.group("archive")
def archive_group() -> None:
    """Archive maintenance."""


@archive_group.command("migrate")
@click.option("--archive", "archive_dir", help="Archive folder (default: [archive].path).")
@click.pass_context
def archive_migrate_cmd(ctx: click.Context, archive_dir: str | None) -> None:
    """Convert a Parquet + manifest archive (before Delta Lake) into Delta tables in place, verified row by row."""
    from huntvault.archive import migrate_archive

    rep = migrate_archive(archive_dir or load_config(ctx).archive.path)
    for table, rows in rep.tables.items():
        click.echo(f"  {table}: {rows:,} rows verified")
    click.echo(
        f"migrated {len(rep.tables)} tables ({rep.parts} parts), {rep.quarantined} quarantined lines, "
        f"{rep.sources} sources in {rep.seconds:.1f}s"
    )


@main.command("index")
@click.option("--archive", "archive_dir", help="Archive folder or az:// URL (default: [archive].path).")
@click.option(
    "--verify",
    is_flag=True,
    help="Compare each index's documents per archive part with the part's rows, and repair what differs.",
)
@click.option("--no-repair", is_flag=True, help="With --verify: only report.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def index_cmd(
    ctx: click.Context, archive_dir: str | None, verify: bool, no_repair: bool, as_json: bool
) -> None:
    """Bring the search indexes in step with the archive once (the server also does this continuously);
    rebuild indexes whose definition changed; with --verify, check them part by part against the archive."""
    from pathlib import Path

    from huntvault.cliapp import config_label, fail
    from huntvault.search import SearchService

    cfg = load_config(ctx)
    where = archive_dir or cfg.archive.path
    if "://" not in where and not Path(where).is_dir():
        fail(f"the archive {where} does not exist (config: {config_label(cfg)})")
    svc = SearchService(cfg, archive_dir, sync_now=False, background=False)
    if verify:
        reports = svc.verify(repair=not no_repair)
        if as_json:
            click.echo(json.dumps({name: r.as_json() for name, r in reports.items()}, indent=2))
        else:
            if not reports:
                click.echo(f"nothing to verify: the archive {where} holds no table yet")
            for name, r in reports.items():
                data = r.as_json()
                state = "ok" if r.ok else ("repaired" if r.repaired else "DIFFERS")
                click.echo(
                    f"{name}: {state}: {r.parts} parts, {r.archive_rows:,} archive rows, {r.documents:,} documents"
                    f" ({len(r.mismatched)} parts differ, {len(r.missing)} missing, {len(r.orphans)} orphaned)"
                    f"{f', {r.documents_after:,} after repair' if r.repaired else ''}; index "
                    f"{data['indexBytesPerDocument']} B/document, archive {data['archiveBytesPerRow']} B/row"
                )
        if any(not r.ok and not r.repaired for r in reports.values()):
            sys.exit(1)
        return
    with bars(ctx).bar("index", "documents") as bar:
        results = svc.sync(progress=bar.callback)
    rebuilt: dict[str, Any] = {}
    if svc.rebuilds_pending():
        with bars(ctx).bar("rebuild", "documents") as bar:
            rebuilt = svc.rebuild(progress=bar.callback)
    if as_json:
        out = {name: r.as_json() for name, r in results.items()}
        out.update({f"{name} (rebuild)": r.as_json() for name, r in rebuilt.items()})
        click.echo(json.dumps(out, indent=2))
        return
    if not svc.index_names():
        click.echo(f"nothing to index: the archive {where} holds no table yet")
    for label, runs in (("", results), (" rebuilt", rebuilt)):
        for name, run in runs.items():
            click.echo(
                f"{name}{label}: {run.status}, +{run.added_files} -{run.removed_files} parts, "
                f"{run.items_processed} documents, {run.items_failed} failed, {run.seconds:.2f}s"
                + (f" ({run.error})" if run.error else "")
            )


@main.command("search")
@click.argument("querystring")
@click.option("--index", "index_name", default=None, help="Index or table name (default: every index).")
@click.option("--archive", "archive_dir", help="Archive folder or az:// URL (default: [archive].path).")
@click.option("--json", "as_json", is_flag=True, help="Print Azure's JSON response.")
@click.option(
    "--no-sync", is_flag=True, help="Query the indexes as they are, without syncing with the archive first."
)
@click.pass_context
def search_cmd(
    ctx: click.Context,
    querystring: str,
    index_name: str | None,
    archive_dir: str | None,
    as_json: bool,
    no_sync: bool,
) -> None:
    """Search like the portal: QUERYSTRING is e.g. 'search=pf3tern&$select=properties/EventTime'.

    --index takes an index name or a table name (any case). Without --index, every index that has the
    fields the query names is searched (the others are skipped, and listed on stderr)."""
    from huntvault.cliapp import archive_problem, fail
    from huntvault.search import SearchService, from_query_string, render_results

    req = from_query_string(querystring)
    cfg = load_config(ctx)
    svc = SearchService(cfg, archive_dir, sync_now=False, background=False)
    chosen = svc.resolve_index(index_name) if index_name else None  # a wrong name fails before a sync
    if not no_sync:
        with bars(ctx).bar("index", "documents") as bar:
            synced = svc.sync(progress=bar.callback)
        for name, r in synced.items():
            if r.items_processed or r.removed_files or r.error:
                click.echo(
                    f"indexed {name}: +{r.added_files} -{r.removed_files} parts, {r.items_processed:,} documents "
                    f"in {r.seconds:.1f}s{' (' + r.error + ')' if r.error else ''}",
                    err=True,
                )
        if svc.rebuilds_pending():
            with bars(ctx).bar("rebuild", "documents") as bar:
                svc.rebuild(progress=bar.callback)
    names = [chosen] if chosen else svc.index_names()
    if not names:
        fail(f"nothing to search: no index yet; {archive_problem(archive_dir, cfg) or 'run huntvault index'}")
    if index_name:
        results = {names[0]: svc.search(names[0], req)}
    else:
        results, skipped = svc.search_all(req)
        for name, why in skipped.items():
            click.echo(f"skipped {name}: {why}", err=True)
    if as_json:
        click.echo(json.dumps(results if not index_name else results[names[0]], indent=2))
    else:
        click.echo(render_results(results))


@main.command("serve")
@click.option("--archive", "archive_dir", help="Archive folder or az:// URL (default: [archive].path).")
@click.option("--host", default=None, help="Bind address (default: [server].host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: [server].port, 8080).")
@click.option(
    "--no-auth", is_flag=True, help="No api-key needed (loopback hosts only: refused on any other address)."
)
@click.pass_context
def serve_cmd(
    ctx: click.Context, archive_dir: str | None, host: str | None, port: int | None, no_auth: bool
) -> None:
    """Serve the search API, the hunt/status/alerts APIs and the UI (keys: HUNTVAULT_ADMIN_KEY, HUNTVAULT_QUERY_KEY)."""
    import dataclasses

    from huntvault.cliapp import fail, free_port_near, port_problem
    from huntvault.runloop import configure_logging
    from huntvault.web import create_app, page_urls, serve

    configure_logging(verbose=False)
    cfg = load_config(ctx)
    server = dataclasses.replace(
        cfg.server,
        host=host or cfg.server.host,
        port=port or cfg.server.port,
        no_auth=cfg.server.no_auth or no_auth,
    )
    cfg = dataclasses.replace(cfg, server=server)
    why = port_problem(server.host, server.port)
    if why:  # before the index sync, which can take minutes
        other = free_port_near(server.host, server.port)
        fail(f"port {server.host}:{server.port} is not free ({why}); pick another: --port {other}")
    from huntvault.search import SearchService

    click.echo("bringing the search indexes in step with the archive...")
    svc = SearchService(cfg, archive_dir, sync_now=False)
    with bars(ctx).bar("index", "documents") as bar:
        svc.sync(progress=bar.callback)
    app = create_app(cfg, archive_dir=archive_dir, service=svc, start_indexer=True)
    base = f"http://{server.host}:{server.port}"
    click.echo(
        f"huntvault on {base} (search API at {base}/indexes, indexes in {cfg.index.path})"
        + (
            " -- NO api-key required (--no-auth): anyone who can reach this loopback port has admin "
            "rights; only Host names localhost, 127.0.0.1 and [::1] are answered"
            if server.no_auth
            else ""
        )
    )
    for title, url in page_urls(base).items():
        click.echo(f"  {title:<16} {url}")
    serve(app)


@main.command("hunt")
@click.option(
    "--archive",
    "archive",
    type=click.Path(file_okay=False),
    default=None,
    help="Archive folder (default: [archive].path when it exists; none for literal-only queries).",
)
@click.option(
    "--engine", type=click.Choice(["duckdb", "spark"]), default=None, help="Backend (default: [hunt].engine)."
)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "jsonl"]), default="table")
@click.option("--explain", is_flag=True, help="Print the SQL instead of running the query.")
@click.option(
    "-f",
    "--file",
    "query_file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Read the query from a file.",
)
@click.argument("query", required=False)
@click.pass_context
def hunt(
    ctx: click.Context,
    archive: str | None,
    engine: str | None,
    fmt: str,
    explain: bool,
    query_file: Any,
    query: str | None,
) -> None:
    """Run a KQL hunting query over the archive (QUERY, -f FILE, or - for stdin)."""
    from pathlib import Path

    from huntvault import kql
    from huntvault.cliapp import with_archive_hint
    from huntvault.errors import KqlError

    cfg = load_config(ctx)
    text = query_file.read() if query_file else (sys.stdin.read() if query == "-" else query)
    if not text:
        raise click.UsageError("give a QUERY, -f FILE or - (stdin)")
    remote = cfg.archive.path.startswith(("az://", "abfs://", "abfss://", "https://"))
    if archive is None and (remote or Path(cfg.archive.path).is_dir()):
        archive = cfg.archive.path  # object-store credentials: HUNTVAULT_ARCHIVE_* variables
    chosen = engine or cfg.hunt.engine
    if chosen == "duckdb":  # (Spark's JVM is stopped by its own exit hooks)
        allow_quick_exit()
    if explain:
        click.echo(kql.explain(text, archive, engine=chosen))
        return
    try:
        result = kql.execute(
            text,
            archive,
            engine=chosen,
            row_cap=cfg.hunt.row_cap,
            timeout=cfg.hunt.timeout_seconds,
            limits=kql.HuntLimits.from_config(cfg.hunt),
        )
    except KqlError as exc:
        raise with_archive_hint(exc, archive, cfg) from None
    click.echo(kql.render(result, fmt), nl=False)


@main.group("detect", invoke_without_command=True)
@click.option("--once", "mode", flag_value="once", help="Run every due window once, then exit.")
@click.option(
    "--follow", "mode", flag_value="follow", default=True, help="Keep running rules on their schedules."
)
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Rules folder (default: [detect].rules_dir).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log each window.")
@click.pass_context
def detect_group(ctx: click.Context, mode: str, rules_dir: str | None, verbose: bool) -> None:
    """Scheduled KQL detection rules over the archive (default: --follow)."""
    if ctx.invoked_subcommand is None:
        _detect_run(ctx, mode, rules_dir, verbose)


def _detect_run(ctx: click.Context, mode: str, rules_dir: str | None, verbose: bool) -> None:
    from huntvault.detect import CycleReport, open_scheduler
    from huntvault.runloop import configure_logging, stop_on_signals

    configure_logging(verbose)
    cfg = load_config(ctx)

    def show(report: CycleReport) -> None:
        for w in report.windows:
            click.echo(
                f"{w.rule_id}: [{w.start.isoformat()}, {w.end.isoformat()}) rows {w.rows}, alerts {w.alerts}"
                + (f", suppressed {w.suppressed}" if w.suppressed else "")
            )
        for rid, why in report.errors.items():
            click.echo(f"{rid}: error: {why}", err=True)
        if verbose:
            for rid, why in report.waiting.items():
                click.echo(f"{rid}: waiting: {why}")
        for name, res in report.sinks.items():
            click.echo(f"sink {name}: sent {res.sent}, pending {res.pending}")

    sched = open_scheduler(cfg, rules_dir, on_cycle=show)
    try:
        if mode == "once":
            with bars(ctx).bar("detect", "windows") as bar:
                report = sched.run_once(progress=bar.callback)
            show(report)
            return
        with stop_on_signals() as stop:
            sched.run(stop)
    finally:
        sched.store.close()
        sched.state.close()


@detect_group.command("run")
@click.option(
    "--once", "mode", flag_value="once", default=True, help="Run every due window once, then exit (default)."
)
@click.option("--follow", "mode", flag_value="follow", help="Keep running rules on their schedules.")
@click.option("--rules", "rules_dir", type=click.Path(file_okay=False), default=None)
@click.option("-v", "--verbose", is_flag=True)
@click.pass_context
def detect_run_cmd(ctx: click.Context, mode: str, rules_dir: str | None, verbose: bool) -> None:
    """Run due detection windows (once by default)."""
    _detect_run(ctx, mode, rules_dir, verbose)


@detect_group.command("check")
@click.argument("rules_dir", type=click.Path(file_okay=False), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def detect_check_cmd(ctx: click.Context, rules_dir: str | None, as_json: bool) -> None:
    """Parse every rule (native, Sentinel, Sigma) and its KQL against the schema; file:line:column [field] of each
    error. Exit 1 on errors."""
    from huntvault.detect import check_rules, sigma_defaults

    cfg = load_config(ctx)
    report = check_rules(rules_dir or cfg.detect.rules_dir, sigma_defaults=sigma_defaults(cfg))
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        for problem in report.problems:
            click.echo(problem.render())
        click.echo(
            f"{len(report.rules)} rules ok, {len(report.errors)} errors, "
            f"{len(report.problems) - len(report.errors)} warnings"
        )
    if report.errors:
        sys.exit(1)


@detect_group.command("convert")
@click.argument("rule_file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the rule as huntvault reads it (JSON).")
@click.pass_context
def detect_convert_cmd(ctx: click.Context, rule_file: str, as_json: bool) -> None:
    """Print the KQL of a rule file (a Sigma rule converted with pySigma's Kusto backend, Microsoft XDR pipeline)."""
    from huntvault.detect import load_rule, rule_summary, sigma_defaults

    rule = load_rule(rule_file, sigma_defaults(load_config(ctx)))
    if as_json:
        click.echo(json.dumps(rule_summary(rule), indent=2))
    else:
        click.echo(rule.query.rstrip("\n"))


@detect_group.command("backtest")
@click.argument("rule", required=False)
@click.option("--all", "all_rules", is_flag=True, help="Backtest every rule of the rules folder.")
@click.option("--from", "from_", required=True, help="First day (YYYY-MM-DD) or ISO 8601 instant.")
@click.option(
    "--to", "to", required=True, help="Last day, included (YYYY-MM-DD), or ISO 8601 instant (excluded)."
)
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to look RULE up by id, or the folder of --all (default: [detect].rules_dir); RULE may be a file.",
)
@click.option("--archive", "archive_dir", type=click.Path(file_okay=False), default=None)
@click.option(
    "--mode",
    type=click.Choice(["auto", "one-pass", "window-by-window"]),
    default="auto",
    help="auto: one pass over the range when the query allows it, else window by window.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def detect_backtest_cmd(
    ctx: click.Context,
    rule: str | None,
    all_rules: bool,
    from_: str,
    to: str,
    rules_dir: str | None,
    archive_dir: str | None,
    mode: str,
    as_json: bool,
) -> None:
    """Replay RULE (or --all rules) over history as the scheduler would: alerts per day, entities, busiest windows."""
    from huntvault.detect import (
        ArchiveRunner,
        backtest,
        backtest_all,
        find_rule,
        load_rules,
        parse_when,
        render,
        render_folder,
        sigma_defaults,
    )
    from huntvault.kql import HuntLimits

    if all_rules == (rule is not None):
        raise click.UsageError("give either RULE or --all")
    cfg = load_config(ctx)
    folder = rules_dir or cfg.detect.rules_dir
    defaults = sigma_defaults(cfg)
    runner = ArchiveRunner(archive_dir or cfg.archive.path, cfg.hunt.engine, HuntLimits.from_config(cfg.hunt))
    start, end = parse_when(from_), parse_when(to, end_of_day=True)
    if rule is not None:
        found = find_rule(folder, rule, defaults)
        with bars(ctx).bar(f"backtest {found.id}", "windows") as bar:
            report = backtest(found, runner, start, end, mode=mode, progress=bar.callback)
        click.echo(json.dumps(report.to_json(), indent=2) if as_json else render(report))
        return
    rules, errors = load_rules(folder, defaults)
    chosen = [r for r in rules if r.enabled]
    with bars(ctx).bar("backtest", "rules") as bar:
        done = iter(range(1, len(chosen) + 1))
        bar(0, len(chosen))

        def advance(rule: Rule, _report: BacktestReport | None) -> None:
            bar.info = rule.id
            bar(next(done), len(chosen))

        folder_report = backtest_all(chosen, runner, start, end, mode=mode, progress=advance)
    for err in errors:
        folder_report.errors[err.path] = err.message
    click.echo(json.dumps(folder_report.to_json(), indent=2) if as_json else render_folder(folder_report))


@detect_group.command("status")
@click.option("--rules", "rules_dir", type=click.Path(file_okay=False), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def detect_status_cmd(ctx: click.Context, rules_dir: str | None, as_json: bool) -> None:
    """Per rule: last completed window, windows run, alerts raised; and the ingestion watermark."""
    from huntvault.detect import detect_status

    status = detect_status(load_config(ctx), rules_dir)
    if as_json:
        click.echo(json.dumps(status.to_json(), indent=2))
        return
    click.echo(
        f"ingestion watermark: {status.watermark.isoformat() if status.watermark else '(nothing ingested)'}"
    )
    for rid, r in status.rules.items():
        last = r.last_window_end.isoformat() if r.last_window_end else "-"
        click.echo(
            f"  {rid}: last window end {last}, {r.windows} windows, "
            f"{r.alerts} alerts, {r.undelivered_windows} undelivered"
        )
    for err in status.rule_errors:
        click.echo(f"  rule error: {err}", err=True)


def run() -> None:
    """The `huntvault` console script."""
    from huntvault.cliapp import run as run_cli

    run_cli(main)


if __name__ == "__main__":
    run()
