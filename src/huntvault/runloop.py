"""The anatomy every long-running loop shares (ingest, forward, detect, serve): one stop event, one signal helper."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Protocol

__all__ = ["RunLoop", "configure_logging", "stop_on_signals"]


class RunLoop(Protocol):
    """A component that runs until `stop` is set, then returns after acknowledging what it holds.

    Sources, sinks and schedulers take the same event: a checkpoint advances only after the data it
    covers is acknowledged, so returning at any point loses nothing.
    """

    def run(self, stop: threading.Event) -> None: ...


@contextmanager
def stop_on_signals(stop: threading.Event | None = None) -> Iterator[threading.Event]:
    """`with stop_on_signals() as stop:` sets `stop` on SIGINT or SIGTERM; a second signal raises
    KeyboardInterrupt (the impatient Ctrl-C). Handlers are restored on exit. Outside the main thread
    (where Python cannot install handlers) the event is handed out unchanged."""
    event = stop if stop is not None else threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        logging.getLogger("huntvault").info("%s received: stopping", signal.Signals(signum).name)
        event.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield event
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def configure_logging(verbose: bool) -> None:
    """One log format for every run loop; Azure SDK chatter only from warnings up."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(message)s"
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
