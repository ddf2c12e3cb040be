"""The `huntvault` command line: one command per stage, each a thin call into its stage."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from huntvault import __version__
from huntvault import config as configmod
from huntvault.errors import HuntvaultError


class _Group(click.Group):
    """Turns any HuntvaultError into one clear line and exit status 2 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HuntvaultError as exc:
            click.echo(f"huntvault: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="huntvault")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="huntvault.toml to use (default: $HUNTVAULT_CONFIG, ./huntvault.toml, built-in defaults).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Keep Defender advanced-hunting data for years: ingest, search, hunt, forward."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def load_config(ctx: click.Context) -> configmod.Config:
    return configmod.load(ctx.find_root().obj.get("config_path"))


@main.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
@click.pass_context
def config_show(ctx: click.Context, as_json: bool) -> None:
    """Print the effective configuration, secrets redacted."""
    cfg = load_config(ctx)
    data = configmod.as_dict(cfg)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(f"# effective configuration (from {cfg.source_file or 'built-in defaults'})")
        click.echo(configmod.to_toml(data))


if __name__ == "__main__":
    main()
