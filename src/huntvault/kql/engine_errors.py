"""Engine errors for people: DuckDB's and Spark's messages about a lowered query mapped to KQL words, with
the line and column of the culprit in the KQL text when the message names something the query spells."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from huntvault.errors import KqlEngineError, KqlSemanticError

#: SQL type names in engine messages -> KQL type names
_TYPES = {
    "BIGINT": "long", "INT64": "long", "INTEGER": "int", "INT32": "int", "DOUBLE": "real", "VARCHAR": "string",
    "BOOLEAN": "bool", "JSON": "dynamic", "TIMESTAMP WITH TIME ZONE": "datetime", "TIMESTAMP": "datetime",
    "STRING": "string", "LONG": "long", "INT": "int", "TIMESTAMP_NTZ": "datetime",
}  # fmt: skip


def _kql_types(text: str) -> str:
    for sql, kql in sorted(_TYPES.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"\b{re.escape(sql)}\b", kql, text)
    return text


@dataclass(frozen=True)
class EngineRule:
    """A pattern of engine messages, the message for people (from the match) and what to look for in the
    query text (a group of the match) to point at the culprit."""

    pattern: re.Pattern[str]
    message: Callable[[re.Match[str]], str]
    culprit: int | None = None


RULES: list[EngineRule] = [
    EngineRule(
        re.compile(
            r"Overflow in (addition|subtraction|multiplication|negation) of (\w+)(?: \((.*?)\))?", re.I
        ),
        lambda m: (
            f"long overflow in {m.group(1).lower()}"
            + (f" ({m.group(3)})" if m.group(3) else "")
            + ": the result does not fit in a 64-bit integer; convert to real() first"
        ),
    ),
    EngineRule(
        re.compile(r"Could not convert string '(.*?)' to '?([A-Z_ ]+)'?", re.I),
        lambda m: f"cannot convert '{m.group(1)}' to {_kql_types(m.group(2).strip())}",
        culprit=1,
    ),
    EngineRule(
        re.compile(r"Malformed JSON.*?Input: \"(.*?)\" when casting", re.I),
        lambda m: (
            f"'{m.group(1)}' is not valid JSON where a dynamic value is expected; use parse_json() or tostring()"
        ),
        culprit=1,
    ),
    EngineRule(
        re.compile(r"Malformed JSON", re.I),
        lambda m: (
            "a value is not valid JSON where a dynamic value is expected; use parse_json() or tostring()"
        ),
    ),
    EngineRule(
        re.compile(r"Invalid (?:Input Error: )?(?:regular expression|regex)[^:]*: ?(.*)", re.I),
        lambda m: f"invalid regular expression (RE2 syntax): {m.group(1)}",
    ),
    EngineRule(
        re.compile(r"Referenced column \"(.+?)\" not found", re.I),
        lambda m: f"unknown column {m.group(1)!r}",
        culprit=1,
    ),
    EngineRule(
        re.compile(r"No function matches the given name and argument types '(\w+)\((.*?)\)'", re.I),
        lambda m: (
            f"the engine has no {m.group(1).lower()}() for arguments of types ({_kql_types(m.group(2))});"
            " convert the arguments (tostring(), toreal(), todatetime()...)"
        ),
    ),
    EngineRule(
        re.compile(r"Cannot compare values of type (.+?) and type (.+?)(?: -|$)", re.I),
        lambda m: f"cannot compare {_kql_types(m.group(1))} with {_kql_types(m.group(2))}; convert one side",
    ),
    EngineRule(
        re.compile(r"Out of Memory Error|OutOfMemory|Java heap space", re.I),
        lambda m: (
            "the query needs more memory than the engine may use ([hunt] memory_limit); narrow it first"
        ),
    ),
    EngineRule(
        re.compile(r"Division by zero|DIVIDE_BY_ZERO", re.I),
        lambda m: "division by zero",
    ),
]

#: engine error-class prefixes that mean nothing to a KQL user
_PREFIX = re.compile(
    r"^(?:\[[A-Z_.]+\]\s*)?(?:(?:Binder|Conversion|Invalid Input|Out of Range|Parser|Catalog|Not implemented|"
    r"Constraint|Type Mismatch|Internal|Invalid|IO|Dependency)\s+Error:\s*|"
    r"(?:pyspark\.[\w.]+\.)?(?:AnalysisException|ParseException|SparkException|Py4JJavaError)[:\s]*)",
    re.I,
)


def _position(text: str, needle: str) -> tuple[int, int]:
    m = re.search(rf"(?<![\w]){re.escape(needle)}(?![\w])", text) if needle else None
    if m is None:
        return 0, 0
    before = text[: m.start()]
    return before.count("\n") + 1, m.start() - (before.rfind("\n") + 1) + 1


def for_people(exc: KqlEngineError, query: str) -> KqlSemanticError:
    """The error a user sees: the rule's message (or the engine's without its error class) and the
    culprit's position when the message names text the query contains."""
    raw = exc.raw
    for rule in RULES:
        m = rule.pattern.search(raw)
        if m is None:
            continue
        line, column = _position(query, m.group(rule.culprit)) if rule.culprit is not None else (0, 0)
        return KqlSemanticError(rule.message(m), line, column, query)
    bare = _PREFIX.sub("", raw).strip()
    return KqlSemanticError(f"the query cannot run on {exc.engine}: {_kql_types(bare)}", 0, 0, query)
