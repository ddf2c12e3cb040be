"""Dead-letter folder: records a sink permanently rejected, with the reason (written with huntvault.durable)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from huntvault.durable import write_durably
from huntvault.errors import ForwardError


@dataclass
class DeadLetter:
    """One dead-letter file: the records of one rejected unit for one sink."""

    path: Path
    sink: str
    reason: str
    status: int
    records: list[dict[str, Any]]
    keys: list[tuple[str, str]]  # (alert id, lastUpdateTime in ledger form)
    attempts: int


class DeadLetterBox:
    """`<state_dir>/dead-letter/<sink>/<utc time>-<hash>.json`."""

    def __init__(self, state_dir: str | Path) -> None:
        self.root = Path(state_dir) / "dead-letter"

    def put(
        self,
        sink: str,
        records: list[dict[str, Any]],
        keys: list[tuple[str, str]],
        reason: str,
        status: int,
        attempts: int = 1,
    ) -> Path:
        folder = self.root / sink
        digest = hashlib.sha256(orjson.dumps(keys)).hexdigest()[:16]
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        final = folder / f"{stamp}-{digest}.json"
        self._write(
            final,
            {
                "sink": sink,
                "reason": reason,
                "status": status,
                "attempts": attempts,
                "time": datetime.now(UTC).isoformat(),
                "keys": keys,
                "records": records,
            },
        )
        return final

    @staticmethod
    def _write(final: Path, doc: dict[str, Any]) -> None:
        try:
            write_durably(final, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        except OSError as exc:
            raise ForwardError(f"cannot write dead-letter file {final}: {exc}") from None

    def list(self, sink: str | None = None) -> list[DeadLetter]:
        out: list[DeadLetter] = []
        if not self.root.is_dir():
            return out
        folders = [self.root / sink] if sink else sorted(p for p in self.root.iterdir() if p.is_dir())
        for folder in folders:
            for path in sorted(folder.glob("*.json")):
                try:
                    doc = orjson.loads(path.read_bytes())
                except (OSError, orjson.JSONDecodeError) as exc:
                    raise ForwardError(f"unreadable dead-letter file {path}: {exc}") from None
                out.append(
                    DeadLetter(
                        path,
                        doc["sink"],
                        doc["reason"],
                        int(doc["status"]),
                        doc["records"],
                        [(str(k[0]), str(k[1])) for k in doc["keys"]],
                        int(doc.get("attempts", 1)),
                    )
                )
        return out

    def rejected_again(self, letter: DeadLetter, reason: str, status: int) -> None:
        """A replay was rejected again: keep the file, with the new reason and one more attempt."""
        self._write(
            letter.path,
            {
                "sink": letter.sink,
                "reason": reason,
                "status": status,
                "attempts": letter.attempts + 1,
                "time": datetime.now(UTC).isoformat(),
                "keys": letter.keys,
                "records": letter.records,
            },
        )

    @staticmethod
    def remove(letter: DeadLetter) -> None:
        letter.path.unlink(missing_ok=True)
