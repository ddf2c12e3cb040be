"""The KQL syntax: tokenizer, cursor, expression and statement grammars (pipe operators come as a table)."""

from __future__ import annotations

from huntvault.kql.syntax.cursor import Cursor, OperatorParser
from huntvault.kql.syntax.literals import TYPE_NAMES, parse_datetime_text, parse_timespan_text
from huntvault.kql.syntax.statements import parse_script
from huntvault.kql.syntax.tokens import Token, tokenize

__all__ = [
    "TYPE_NAMES",
    "Cursor",
    "OperatorParser",
    "Token",
    "parse_datetime_text",
    "parse_script",
    "parse_timespan_text",
    "tokenize",
]
