"""The one error tree of huntvault: every failure a user can see is a HuntvaultError."""

from __future__ import annotations


class HuntvaultError(Exception):
    """Base of every error huntvault raises on purpose."""


class ConfigError(HuntvaultError):
    """The configuration is invalid; names the offending key."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"config: {key}: {message}")


class SchemaError(HuntvaultError):
    """The schema data file or a table lookup is wrong."""


class NormaliseError(HuntvaultError):
    """One export line cannot be turned into a typed row; the reason goes to quarantine."""

    def __init__(self, reason: str, column: str | None = None) -> None:
        self.reason = reason
        self.column = column
        super().__init__(f"{column}: {reason}" if column else reason)


class EmulatorError(HuntvaultError):
    """The tenant emulator was asked for something it cannot do."""


class SourceError(HuntvaultError):
    """A streaming-export source (blob, folder, Event Hub, jsonl) failed."""


class ArchiveError(HuntvaultError):
    """The Delta Lake archive, its state or its catalog failed."""


class SearchError(HuntvaultError):
    """A search request is invalid; carries the HTTP status and Azure's error code."""

    def __init__(
        self, message: str, status: int = 400, code: str = "InvalidRequestParameter", retry_after: int = 0
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after  # seconds, sent as Retry-After (429 answers)
        super().__init__(message)


class UnknownFieldError(SearchError):
    """A search names a field the index does not have (`huntvault search` skips such indexes)."""

    def __init__(self, message: str, path: str) -> None:
        self.path = path
        super().__init__(message)


class KqlError(HuntvaultError):
    """A KQL query is invalid or unsupported; carries line and column (1-based) of the culprit."""

    def __init__(self, message: str, line: int = 0, column: int = 0, query: str | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.query = query
        super().__init__(self.render())

    def render(self) -> str:
        """The message with position and, when the query text is known, a caret under the culprit."""
        if not self.line:
            return self.message
        head = f"line {self.line}, column {self.column}: {self.message}"
        if self.query is None:
            return head
        lines = self.query.splitlines() or [""]
        if self.line > len(lines):
            return head
        src = lines[self.line - 1]
        return f"{head}\n  {src}\n  {' ' * max(self.column - 1, 0)}^"


class KqlSyntaxError(KqlError):
    """The query does not parse."""


class KqlSemanticError(KqlError):
    """The query parses but names an unknown table, column or function, or mixes types."""


class KqlEngineError(KqlSemanticError):
    """The engine (DuckDB, Spark) refused the lowered query; `raw` keeps its own message for the logs.
    kql maps it to a message for people, with the culprit's position when it can be found."""

    def __init__(self, engine: str, raw: str) -> None:
        self.engine = engine
        self.raw = raw
        super().__init__(f"the query failed in {engine}: {raw}")


class KqlUnsupportedError(KqlError):
    """The query uses a feature that cannot work offline (externaldata URL, FileProfile...)."""


class KqlLimitError(KqlError):
    """The query is past a documented bound (size, nesting depth, pipeline length, compile time)."""


class KqlCancelledError(KqlError):
    """The hunt was cancelled (its client went away, the server is shutting down) before it finished."""


class ForwardError(HuntvaultError):
    """The alert forwarder failed (Defender API, enrichment, sink)."""


class SinkRejected(ForwardError):
    """A sink permanently rejected a batch (4xx other than 429); it goes to the dead-letter folder."""

    def __init__(self, message: str, status: int) -> None:
        self.status = status
        super().__init__(message)


class RemoteUnavailable(ForwardError):
    """A remote service (token endpoint, Defender API, sink) failed for now: network, 5xx, 429 past retries.

    Retried with backoff; nothing is lost. `retry_after` is the server's Retry-After in seconds, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class SinkUnavailable(RemoteUnavailable):
    """A sink cannot take data right now (network, 5xx, throttled past retries); records stay queued."""


class RemoteConfigError(ForwardError):
    """A remote service refuses our configuration (credentials, permission, endpoint, DCR, stream, key).

    Not a bad record and not an outage: the component is paused, records stay queued, and the
    message names the setting to fix (`setting`); `status` is the HTTP status, if any."""

    def __init__(self, setting: str, message: str, status: int = 0) -> None:
        self.setting = setting
        self.status = status
        self.message = message
        super().__init__(f"{setting}: {message}")


class DetectError(HuntvaultError):
    """A detection rule is invalid or failed to run."""


class RuleError(DetectError):
    """A rule file is invalid; carries the file and the line/column (1-based) of the culprit."""

    def __init__(self, message: str, path: str = "", line: int = 0, column: int = 0, field: str = "") -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.field = field  # the offending rule key as a dotted path ("" = the position says it all)
        where = path + (f":{line}:{column}" if line else "")
        super().__init__(f"{where}: {message}" if where else message)


class SigmaRuleError(RuleError):
    """A Sigma rule that pySigma's Kusto backend cannot convert; `field` names the offending rule key."""
