"""The CLI's frame: one-line errors (exit 2) for every failure, the config lookup, progress bars on stderr, and
the free-port check made before serving."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from huntvault.errors import HuntvaultError, KqlError

if TYPE_CHECKING:
    from huntvault.config import Config
    from huntvault.progress import Bars

#: Exit status of every CLI error (bad input, bad config, unreachable service, internal error).
ERROR_EXIT = 2

#: Set to 1 to get the Python traceback of an unexpected error instead of its one line.
DEBUG_ENV = "HUNTVAULT_DEBUG"


def one_line(text: str) -> str:
    """Azure-style messages carry `\\nParameter name: x`; the CLI prints them on one line."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _kql(exc: BaseException) -> str:
    # line, column and message on the first line; the query line and a caret under the culprit follow
    return exc.render() if isinstance(exc, KqlError) else str(exc)


def _os(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return one_line(str(exc))


#: error class -> how its message is shown (the most specific class listed wins; else one line of str()).
RENDERERS: dict[type[BaseException], Callable[[BaseException], str]] = {
    KqlError: _kql,
    OSError: _os,
}


def error_text(exc: BaseException) -> str:
    for cls in type(exc).__mro__:
        if cls in RENDERERS:
            return RENDERERS[cls](exc)
    return one_line(str(exc)) or type(exc).__name__


def fail(message: str, code: int = ERROR_EXIT) -> NoReturn:
    click.echo(f"huntvault: error: {message}", err=True)
    sys.exit(code)


class HuntvaultGroup(click.Group):
    """The root command: every error is one line on stderr (`huntvault: error: ...`) and exit status 2.

    Usage mistakes name the command's --help instead of printing the usage block; an unexpected error shows
    its type and message (HUNTVAULT_DEBUG=1 shows the traceback).
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.UsageError as exc:
            if (
                type(exc).__name__ == "NoArgsIsHelpError"
            ):  # a bare `huntvault` (or group): the help, as click shows it
                exc.show()
                sys.exit(exc.exit_code)
            where = exc.ctx.command_path if exc.ctx is not None else self.name or "huntvault"
            fail(f"{one_line(exc.format_message())} (see '{where} --help')")
        except click.ClickException as exc:
            fail(one_line(exc.format_message()), exc.exit_code or ERROR_EXIT)
        except click.Abort:
            fail("interrupted", 130)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except HuntvaultError as exc:
            fail(error_text(exc))
        except OSError as exc:
            fail(error_text(exc))
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            fail(
                f"internal error: {type(exc).__name__}: {error_text(exc)} (set {DEBUG_ENV}=1 for the traceback)"
            )


def port_problem(host: str, port: int) -> str:
    """Why `port` cannot be served on `host` ("" when it can), tested the way uvicorn binds."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return ""


def free_port_near(host: str, port: int) -> int:
    """The first free port after `port` (for the message that says how to pick another)."""
    for candidate in range(port + 1, min(port + 50, 65535)):
        if not port_problem(host, candidate):
            return candidate
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


#: Set by read-only commands (`allow_quick_exit`): the process may end without the interpreter's teardown.
_QUICK_EXIT: list[bool] = [False]


def allow_quick_exit() -> None:
    """This command leaves nothing to flush or close but stdout/stderr: `run` may end the process at once.

    Python's teardown (module clean-up, the engines' objects) costs a short command ~0.1 s of CPU. Only
    commands that write nothing but their output call this (`hunt` on DuckDB, `status`, `config show`)."""
    _QUICK_EXIT[0] = True


def run(group: click.Group) -> None:
    """The `huntvault` console script: `group.main()`, then a quick exit when the command allowed it."""
    try:
        group.main()
    except SystemExit as exc:
        if not _QUICK_EXIT[0]:
            raise
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (BrokenPipeError, ValueError):  # a reader that went away, or a closed stream
            code = code or 1
        os._exit(code)


def root_obj(ctx: click.Context) -> dict[str, Any]:
    root = ctx.find_root()
    root.ensure_object(dict)
    return root.obj  # type: ignore[no-any-return]


def load_config(ctx: click.Context) -> Config:
    """The configuration of this invocation: --config, $HUNTVAULT_CONFIG, ./huntvault.toml, then the demo's
    `.demo/huntvault.toml` (announced on stderr), else the built-in defaults."""
    from huntvault import config as configmod

    obj = root_obj(ctx)
    if "config" in obj:
        return obj["config"]  # type: ignore[no-any-return]
    explicit = obj.get("config_path")
    chosen = configmod.choose_file(explicit, demo_fallback=True)
    demo = chosen is not None and Path(chosen) == Path(configmod.DEMO_FILE)
    if demo and not explicit and not os.environ.get(configmod.ENV_FILE):
        click.echo(
            f"huntvault: using the demo's configuration {chosen} "
            f"(no --config, ${configmod.ENV_FILE} or ./{configmod.DEFAULT_FILE})",
            err=True,
        )
    cfg = configmod.load(chosen)
    obj["config"] = cfg
    return cfg


def config_label(cfg: Config) -> str:
    """Where the configuration came from, for messages."""
    return cfg.source_file or "built-in defaults, no --config, $HUNTVAULT_CONFIG or ./huntvault.toml"


def archive_problem(archive: str | None, cfg: Config) -> str:
    """Why a hunt sees no archived table ("" when the archive has data): missing or empty, and which config."""
    path = archive or cfg.archive.path
    if "://" in path:  # an object-store archive: the engine's own error says what is wrong with it
        return ""
    if not Path(path).is_dir():
        state = f"the archive {path} does not exist"
    else:
        from huntvault.archive import archived_tables

        try:
            if archived_tables(path):
                return ""
        except HuntvaultError:  # not an archive at all (no table log): as empty as it gets
            pass
        state = f"the archive {path} is empty"
    return f"{state} (config: {config_label(cfg)}); ingest first, or pass --config / --archive"


def with_archive_hint(exc: KqlError, archive: str | None, cfg: Config) -> KqlError:
    """An "unknown table" error over a missing or empty archive says so, instead of blaming the table."""
    if not exc.message.startswith("unknown table"):
        return exc
    problem = archive_problem(archive, cfg)
    if not problem:
        return exc
    return type(exc)(f"{exc.message}: {problem}", exc.line, exc.column, exc.query)


def bars(ctx: click.Context) -> Bars:
    """Progress bars on stderr: on a terminal by default, forced with --progress, off with --no-progress."""
    from huntvault.progress import Bars

    return Bars.for_cli(root_obj(ctx).get("progress"))


__all__ = [
    "DEBUG_ENV",
    "ERROR_EXIT",
    "RENDERERS",
    "HuntvaultGroup",
    "allow_quick_exit",
    "archive_problem",
    "bars",
    "config_label",
    "error_text",
    "fail",
    "free_port_near",
    "load_config",
    "one_line",
    "port_problem",
    "root_obj",
    "run",
    "with_archive_hint",
]
