"""KQL syntax trees back to KQL text (the one-pass rewrite's output), checked by parsing the text again.

Only the node types the one-pass rewrite keeps are printed (a table from node type to printer); anything else
raises Unprintable, and `to_text` verifies that the text parses back to the very same tree, so a printing
mistake becomes a fallback to window-by-window replay, never a different query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from huntvault.errors import HuntvaultError
from huntvault.kql import ast as A
from huntvault.kql import parse


class Unprintable(HuntvaultError):
    """A node the printer does not know, or text that does not parse back to the same tree."""


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def name(text: str) -> str:
    """A column or table name: bare when it is an identifier, else `['...']`."""
    if _IDENT.match(text) or (text.startswith("$") and _IDENT.match(text[1:])):
        return text
    return "[" + string(text) + "]"


def string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20:
            raise Unprintable(f"control character U+{ord(ch):04X} in a string literal")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


#: Timespan units from the largest, in microseconds (a literal uses the largest that divides it).
_SPAN_UNITS = (("d", 86_400_000_000), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1000))


def timespan(micros: float) -> str:
    if not float(micros).is_integer():
        return f"{round(micros * 10)}ticks"
    whole = int(micros)
    for unit, size in _SPAN_UNITS:
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}microseconds"


def datetime_literal(value: datetime) -> str:
    return "datetime(" + value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + ")"


def _literal(node: A.Literal) -> str:
    v, t = node.value, node.type
    if v is None:
        return "null" if t == "null" else f"{t}(null)"
    printers: dict[str, Callable[[Any], str]] = {
        "string": string,
        "long": lambda x: str(int(x)),
        "int": lambda x: f"int({int(x)})",
        "real": _real,
        "bool": lambda x: "true" if x else "false",
        "datetime": datetime_literal,
        "timespan": timespan,
        "dynamic": lambda x: "dynamic(" + orjson.dumps(x).decode() + ")",
        "guid": lambda x: f"guid({x})",
        "decimal": lambda x: f"decimal({x})",
    }
    if t not in printers:
        raise Unprintable(f"a {t} literal")
    return printers[t](v)


def _real(x: float) -> str:
    text = repr(float(x))
    if text in ("inf", "-inf", "nan"):
        raise Unprintable(f"the real literal {text}")
    return text if any(c in text for c in ".e") else text + ".0"


def _call(node: A.Call) -> str:
    args = [expr(a) for a in node.args] + [f"{k}={expr(v)}" for k, v in node.named.items()]
    if node.name == "__tuple":
        return "(" + ", ".join(args) + ")"
    return f"{node.name}({', '.join(args)})"


def _member(node: A.Member) -> str:
    base = expr(node.obj)
    return f"{base}.{node.name}" if _IDENT.match(node.name) else f"{base}[{string(node.name)}]"


def _unary(node: A.Unary) -> str:
    if node.op.lower() == "not":
        return f"not({expr(node.operand)})"
    return f"{node.op}({expr(node.operand)})"


def _between(node: A.Between) -> str:
    op = "!between" if node.negated else "between"
    return f"({expr(node.expr)} {op} ({expr(node.low)} .. {expr(node.high)}))"


#: Scalar node type -> its printer.
EXPRESSIONS: dict[type, Callable[[Any], str]] = {
    A.Literal: _literal,
    A.Name: lambda n: name(n.name),
    A.Star: lambda n: "*",
    A.Member: _member,
    A.Index: lambda n: f"{expr(n.obj)}[{expr(n.index)}]",
    A.Call: _call,
    A.Unary: _unary,
    A.Binary: lambda n: f"({expr(n.left)} {n.op} {expr(n.right)})",
    A.ListOp: lambda n: f"({expr(n.left)} {n.op} ({', '.join(expr(i) for i in n.items)}))",
    A.Between: _between,
    A.TypeOf: lambda n: f"typeof({n.type})",
}


def expr(node: A.Node) -> str:
    """A scalar expression (or a parenthesised tabular one inside it)."""
    if isinstance(node, A.Pipeline):
        return "(" + tabular(node) + ")"
    printer = EXPRESSIONS.get(type(node))
    if printer is None:
        raise Unprintable(f"the expression node {type(node).__name__}")
    return printer(node)


def _assign(a: A.Assign) -> str:
    if not a.names:
        return expr(a.expr)
    if len(a.names) == 1:
        return f"{name(a.names[0])} = {expr(a.expr)}"
    return "(" + ", ".join(name(n) for n in a.names) + f") = {expr(a.expr)}"


def _assigns(items: list[A.Assign]) -> str:
    return ", ".join(_assign(a) for a in items)


def _options(opts: dict[str, A.Node]) -> str:
    return "".join(f"{k}={expr(v)} " for k, v in opts.items())


def _sort_key(k: A.SortKey) -> str:
    text = f"{expr(k.expr)} {'desc' if k.desc else 'asc'}"
    if k.nulls_first is not None:
        text += " nulls first" if k.nulls_first else " nulls last"
    return text


def _summarize(op: A.Summarize) -> str:
    text = "summarize " + _options(op.options) + _assigns(op.aggs)
    if op.by:
        text += " by " + _assigns(op.by)
    return text


def _join(op: A.Join) -> str:
    word = "lookup" if op.lookup else "join"
    right = op.right
    inner = name(right.name) if isinstance(right, A.Name) else "(" + tabular(right) + ")"
    text = f"{word} kind={op.kind} {_options(op.options)}{inner}"
    if op.on:
        text += " on " + ", ".join(expr(c) for c in op.on)
    return text


def _union_leg(node: A.Node) -> str:
    if isinstance(node, A.Name):
        return name(node.name)
    return "(" + tabular(node) + ")"


def _mv_item(item: A.MvExpandItem) -> str:
    text = (f"{name(item.name)} = " if item.name else "") + expr(item.expr)
    return text + (f" to typeof({item.to_type})" if item.to_type else "")


def _mv_expand(op: A.MvExpand) -> str:
    if op.legacy:
        raise Unprintable("mvexpand (legacy spelling)")
    text = "mv-expand " + _options(op.options) + ", ".join(_mv_item(i) for i in op.items)
    return text + (f" limit {expr(op.limit)}" if op.limit is not None else "")


def _parse_part(part: A.ParsePart) -> str:
    if part.literal is not None:
        return string(part.literal)
    if part.column is not None:
        return name(part.column) + (f":{part.type}" if part.type else "")
    return "*"


def _parse(op: A.Parse) -> str:
    word = "parse-where" if op.where else "parse"
    opts = (f"kind={op.kind} " if op.kind != "simple" else "") + (f"flags={op.flags} " if op.flags else "")
    return f"{word} {opts}{expr(op.expr)} with " + " ".join(_parse_part(p) for p in op.parts)


def _render(op: A.Render) -> str:
    if not op.properties:
        return f"render {op.chart}"
    props = []
    for k, v in op.properties.items():
        props.append(f"{k}={string(v) if isinstance(v, str) else _literal(A.Literal(v, _kind_of(v)))}")
    return f"render {op.chart} with ({', '.join(props)})"


def _kind_of(v: Any) -> str:
    return {bool: "bool", int: "long", float: "real"}.get(type(v), "null")


def _reorder(op: A.ProjectReorder) -> str:
    return "project-reorder " + ", ".join(p + (f" {o}" if o else "") for p, o in op.patterns)


#: Tabular operator node type -> its printer (the text after `|`).
OPERATORS: dict[type, Callable[[Any], str]] = {
    A.Where: lambda op: f"where {expr(op.predicate)}",
    A.Extend: lambda op: f"extend {_assigns(op.items)}",
    A.Project: lambda op: f"project {_assigns(op.items)}",
    A.ProjectAway: lambda op: "project-away " + ", ".join(op.patterns),
    A.ProjectKeep: lambda op: "project-keep " + ", ".join(op.patterns),
    A.ProjectRename: lambda op: "project-rename " + ", ".join(f"{name(n)} = {name(o)}" for n, o in op.pairs),
    A.ProjectReorder: _reorder,
    A.Summarize: _summarize,
    A.Distinct: lambda op: "distinct " + ", ".join(expr(i) for i in op.items),
    A.Take: lambda op: f"take {expr(op.count)}",
    A.Sort: lambda op: "sort by " + ", ".join(_sort_key(k) for k in op.keys),
    A.Top: lambda op: f"top {expr(op.count)} by " + ", ".join(_sort_key(k) for k in op.keys),
    A.Join: _join,
    A.UnionOp: lambda op: "union " + _options(op.options) + ", ".join(_union_leg(t) for t in op.tables),
    A.MvExpand: _mv_expand,
    A.Parse: _parse,
    A.Render: _render,
    A.Partition: lambda op: f"partition by {name(op.by)} ({tabular(op.body)})",
}


def _datatable(node: A.Datatable) -> str:
    columns = ", ".join(f"{name(c.name)}:{c.type}" for c in node.columns)
    return f"datatable({columns})[" + ", ".join(expr(v) for v in node.values) + "]"


def _source(node: A.Node | None) -> str:
    if node is None:
        return ""
    if isinstance(node, A.Name):
        return name(node.name)
    if isinstance(node, A.Datatable):
        return _datatable(node)
    if isinstance(node, A.UnionSource):
        return "union " + _options(node.options) + ", ".join(_union_leg(t) for t in node.tables)
    if isinstance(node, A.Pipeline):
        return "(" + tabular(node) + ")"
    raise Unprintable(f"the tabular source {type(node).__name__}")


def tabular(node: A.Node) -> str:
    """A tabular expression: a source and its operators, one per line."""
    if not isinstance(node, A.Pipeline):
        return _source(node)
    parts = [_source(node.source)] if node.source is not None else []
    for op in node.ops:
        printer = OPERATORS.get(type(op))
        if printer is None:
            raise Unprintable(f"the {type(op).__name__} operator")
        parts.append("| " + printer(op))
    return "\n".join(parts)


def _let(let: A.Let) -> str:
    if isinstance(let.value, A.Lambda):
        raise Unprintable("a function definition")
    tab = (A.Pipeline, A.UnionSource, A.Datatable)
    value = tabular(let.value) if isinstance(let.value, tab) else expr(let.value)
    return f"let {name(let.name)} = {value};"


def script_text(script: A.Script) -> str:
    """The text of a whole script (lets, then the query)."""
    return "\n".join([*(_let(let) for let in script.lets), tabular(script.query)])


def to_text(script: A.Script) -> str:
    """`script_text`, verified: the text must parse back to a tree equal to `script` (else Unprintable)."""
    text = script_text(script)
    try:
        back = parse(text)
    except HuntvaultError as exc:
        raise Unprintable(f"the rewritten query does not parse: {exc}") from None
    if back.lets != script.lets or back.query != script.query:
        raise Unprintable("the rewritten query does not parse back to the same tree")
    return text


__all__ = [
    "EXPRESSIONS",
    "OPERATORS",
    "Unprintable",
    "datetime_literal",
    "script_text",
    "timespan",
    "to_text",
]
