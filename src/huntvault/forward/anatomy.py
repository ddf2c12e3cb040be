"""What every sink is: the Sink protocol, the Rewindable extension, and units sized by the bytes sent."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import orjson


class Sink(Protocol):
    """One destination. `units` cuts a batch into delivery units (one request each); `send` delivers
    one unit and returns only once the destination acknowledged it, else raises SinkRejected (a bad
    record: bisected, then dead-lettered), RemoteConfigError (the destination refuses our settings:
    the sink is paused, records stay queued) or SinkUnavailable (an outage: records stay queued)."""

    name: str

    def units(self, records: list[dict[str, Any]]) -> list[list[int]]: ...

    def send(self, records: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class Rewindable(Protocol):
    """A sink that can undo an append whose acknowledgement did not reach the ledger (a file).

    The forwarder commits `position()` with each unit's ledger entry; when the sink is further along
    on the next start (a kill between the append and the commit) it calls `rewind()` with the
    committed position, so the unit is written again from there instead of twice."""

    def position(self) -> int: ...

    def rewind(self, position: int) -> None: ...


def json_size(record: dict[str, Any]) -> int:
    return len(orjson.dumps(record))


def units_by_bytes(records: list[dict[str, Any]], limit: int, max_records: int) -> list[list[int]]:
    """Indexes of `records` grouped so that each JSON array body (`orjson.dumps(list)`, exactly the bytes
    sent) is at most `limit` bytes and holds at most `max_records` records.

    A single record larger than the limit gets a unit of its own (the sink then rejects it, and it is
    dead-lettered with the reason rather than blocking the queue).
    """
    units: list[list[int]] = []
    current: list[int] = []
    size = 2  # the brackets
    for i, rec in enumerate(records):
        n = json_size(rec) + (1 if current else 0)  # the comma before every record but the first
        if current and (size + n > limit or len(current) >= max_records):
            units.append(current)
            current, size, n = [], 2, n - 1
        current.append(i)
        size += n
    if current:
        units.append(current)
    return units
