"""Test hook: `HUNTVAULT_FORWARD_TEST_KILL=point:n[,point:n]` SIGKILLs the forwarder at a named point.

Crash tests use it to kill `huntvault forward` exactly where it matters (right after an alert page
arrives, between two requests of a delivery, between a sink's acknowledgement and the ledger
commit); it is inert unless the variable is set. Points, in the order a cycle reaches them:

* `page-received`  an alert page was read from the API, not stored yet
* `page-stored`    the page is in the state database (the inbox)
* `queued`         the inbox was merged into the sinks' outboxes and the cursor advanced
* `unit-acked`     a sink acknowledged a request; the ledger does not know yet
* `unit-committed` the ledger recorded the request; the next request is not sent yet
"""

from __future__ import annotations

import os
import signal

from huntvault.errors import ConfigError

ENV = "HUNTVAULT_FORWARD_TEST_KILL"
POINTS = ("page-received", "page-stored", "queued", "unit-acked", "unit-committed")


class KillHook:
    """Counts the points a forwarder passes; SIGKILLs itself at the n-th pass of a chosen point."""

    def __init__(self, spec: str = "") -> None:
        self.targets: dict[str, int] = {}
        self.seen: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            point, _, count = part.partition(":")
            if point not in POINTS or not count.isdigit() or int(count) < 1:
                raise ConfigError(ENV, f"{part!r}: expected point:n with a point among {', '.join(POINTS)}")
            self.targets[point] = int(count)

    @classmethod
    def from_env(cls) -> KillHook:
        return cls(os.environ.get(ENV, ""))

    def __call__(self, point: str) -> None:
        if not self.targets:
            return
        n = self.seen[point] = self.seen.get(point, 0) + 1
        if self.targets.get(point) == n:
            os.kill(os.getpid(), signal.SIGKILL)
