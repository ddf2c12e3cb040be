"""Pattern-mining plugins: autocluster, basket, diffpatterns (patterns of discrete values) and diffpatterns_text
(patterns of tokens). The rows go to Python once (`lowering/rows.py`, `pyfuncs/mining.py`), on DuckDB and Spark.

Positional arguments follow the reference; `'~'` keeps an argument's default. Custom wildcards are typed
constants: each replaces the wildcard of the columns of its type (by default null, and "" for strings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Plugin, Rel, Scope
from huntvault.kql.lowering.rows import grouped_rows, python_rows
from huntvault.kql.values import T, as_bool, col, literal, to_string

NUMERIC = ("long", "int", "real", "decimal")


@dataclass(frozen=True)
class Arg:
    """One optional positional argument: its name in errors, its kind and bounds."""

    name: str
    kind: str  # number, integer, column, wildcards
    low: float | None = None
    high: float | None = None


#: each plugin's arguments after the required ones (in order), and its required count
SIGNATURES: dict[str, tuple[int, list[Arg]]] = {
    "autocluster": (
        0,
        [
            Arg("SizeWeight", "number", 0.0, 1.0),
            Arg("WeightColumn", "column"),
            Arg("NumSeeds", "integer", 1, 1000),
        ],
    ),
    "basket": (
        0,
        [
            Arg("Threshold", "number", 0.015, 1.0),
            Arg("WeightColumn", "column"),
            Arg("MaxDimensions", "integer", 1, 64),
        ],
    ),
    "diffpatterns": (
        3,
        [
            Arg("WeightColumn", "column"),
            Arg("Threshold", "number", 0.015, 1.0),
            Arg("MaxDimensions", "integer", 1, 64),
        ],
    ),
    "diffpatterns_text": (
        2,
        [
            Arg("MinTokens", "integer", 0, 200),
            Arg("Threshold", "number", 0.015, 1.0),
            Arg("MaxTokens", "integer", 0, 20),
        ],
    ),
}

#: the plugins that take custom wildcards after their optional arguments
WILDCARDS = {"autocluster", "basket", "diffpatterns"}


def _is_default(node: A.Node) -> bool:
    return isinstance(node, A.Literal) and node.value == "~"


#: typed constants written as a cast: `int(-1)`, `double(-1)`, `long(0)`
CASTS: dict[str, str] = {"int": "int", "long": "long", "real": "real", "double": "real", "bool": "bool"}


def _const(p: Planner, node: A.Node, env: Env) -> T:
    v = p.compile(node, Scope({}, env, p))
    if not v.is_const and isinstance(node, A.Call) and node.name.lower() in CASTS and len(node.args) == 1:
        inner = p.compile(node.args[0], Scope({}, env, p))
        kind = CASTS[node.name.lower()]
        if inner.is_const and isinstance(inner.const, int | float) and not isinstance(inner.const, bool):
            value = (
                bool(inner.const)
                if kind == "bool"
                else float(inner.const)
                if kind == "real"
                else int(inner.const)
            )
            return T(literal(value, kind).sql, kind, value)
    if not v.is_const:
        raise p.semantic("expected a constant", node)
    return v


def _optional(p: Planner, rel: Rel, call: A.Call, env: Env) -> tuple[dict[str, Any], dict[str, T]]:
    """The optional arguments by name (defaults left out) and the custom wildcards by KQL type."""
    name = call.name.lower()
    required, spec = SIGNATURES[name]
    if call.named:
        key = next(iter(call.named))
        raise p.semantic(f"{name}(): arguments are positional (no {key}=)", call.named[key])
    if len(call.args) < required:
        raise p.semantic(f"{name}() needs at least {required} arguments, got {len(call.args)}", call)
    rest = call.args[required:]
    if name not in WILDCARDS and len(rest) > len(spec):
        raise p.semantic(
            f"{name}() takes at most {required + len(spec)} arguments, got {len(call.args)}", call
        )
    got: dict[str, Any] = {}
    types = rel.types()
    for arg, node in zip(spec, rest, strict=False):
        if _is_default(node):
            continue
        if arg.kind == "column":
            column = node.name if isinstance(node, A.Name) else None
            if column is None and isinstance(node, A.Literal) and isinstance(node.value, str):
                column = node.value
            if column is None or column not in types:
                raise p.semantic(f"{name}(): {arg.name} must name a column of the input", node)
            if types[column] not in NUMERIC:
                raise p.semantic(f"{name}(): {arg.name} {column!r} must be a numeric column", node)
            got[arg.name] = column
            continue
        v = _const(p, node, env)
        ok = isinstance(v.const, int | float) and not isinstance(v.const, bool)
        if arg.kind == "integer":
            ok = ok and float(v.const).is_integer()
        if not ok:
            raise p.semantic(f"{name}(): {arg.name} must be a constant {arg.kind}", node)
        value = float(v.const)
        if (arg.low is not None and value < arg.low) or (arg.high is not None and value > arg.high):
            raise p.semantic(
                f"{name}(): {arg.name} must be between {arg.low:g} and {arg.high:g}, got {value:g}", node
            )
        got[arg.name] = int(value) if arg.kind == "integer" else value
    wildcards: dict[str, T] = {}
    for node in rest[len(spec) :]:
        if _is_default(node):
            continue
        v = _const(p, node, env)
        kind = "string" if v.type == "guid" else v.type
        if v.const is None or kind in ("dynamic", "null"):
            raise p.semantic(f"{name}(): a custom wildcard must be a constant of a column type", node)
        if kind in wildcards:
            raise p.semantic(f"{name}(): a second custom wildcard of type {kind}", node)
        wildcards[kind] = v
    return got, wildcards


def _column_wildcards(cols: list[tuple[str, str]], custom: dict[str, T]) -> dict[str, T]:
    out: dict[str, T] = {}
    for n, t in cols:
        if t in custom:
            out[n] = custom[t]
        elif t in ("string", "guid"):
            out[n] = literal("", "string")
    return out


def lower_autocluster(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    got, custom = _optional(p, rel, node, env)
    return _segments(
        p, rel, "__autocluster", got, custom, {"size_weight": "SizeWeight", "num_seeds": "NumSeeds"}
    )


def lower_basket(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    got, custom = _optional(p, rel, node, env)
    return _segments(p, rel, "__basket", got, custom, {"threshold": "Threshold", "max_dims": "MaxDimensions"})


def _grouped(
    p: Planner, rel: Rel, cols: list[tuple[str, str]], weight: str | None, extra: list[T]
) -> tuple[Rel, list[T], dict[str, Any]]:
    """The input grouped by its mined columns (dynamic ones are not mined) and `extra`: the relation,
    its values and the options that say where each column, the weight and the row count are."""
    mined = [(n, t) for n, t in cols if t != "dynamic"]
    keys = [T(col(n), t) for n, t in mined] + extra
    w = T(col(weight), rel.types()[weight]) if weight else None
    grouped, values = grouped_rows(p, rel, keys, w)
    at = {n: i for i, (n, _) in enumerate(mined)}
    options: dict[str, Any] = {
        "columns": [at.get(n, -1) for n, _ in cols],  # -1: never a pattern value
        "weight": len(keys),
        "count": len(keys) + 1,
    }
    return grouped, values, options


def _segments(
    p: Planner, rel: Rel, impl: str, got: dict[str, Any], custom: dict[str, T], keys: dict[str, str]
) -> Rel:
    """autocluster and basket: SegmentId, Count, Percent and the input's columns (but the weight)."""
    weight = got.get("WeightColumn")
    cols = [(n, t) for n, t in rel.cols if n != weight]
    grouped, values, options = _grouped(p, rel, cols, weight, [])
    options.update({k: got[v] for k, v in keys.items() if v in got})
    out = [("SegmentId", "long"), ("Count", "long"), ("Percent", "real"), *cols]
    return python_rows(p, grouped, impl, values, options, out, _column_wildcards(cols, custom))


def lower_diffpatterns(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    got, custom = _optional(p, rel, node, env)
    split_node = node.args[0]
    if not isinstance(split_node, A.Name) or split_node.name not in rel.types():
        raise p.semantic("diffpatterns(): SplitColumn must name a column of the input", split_node)
    split = split_node.name
    values_ab = []
    for arg in node.args[1:3]:
        v = _const(p, arg, env)
        if v.const is None:
            raise p.semantic("diffpatterns(): the split values must be constants", arg)
        values_ab.append(v.const)
    weight = got.get("WeightColumn")
    cols = [(n, t) for n, t in rel.cols if n not in (weight, split)]
    text = to_string(T(col(split), rel.types()[split]))
    grouped, values, options = _grouped(p, rel, cols, weight, [text])
    options.update({"split": len(values) - 3, "a": _text(values_ab[0]), "b": _text(values_ab[1])})
    if "Threshold" in got:
        options["threshold"] = got["Threshold"]
    if "MaxDimensions" in got:
        options["max_dims"] = got["MaxDimensions"]
    out = [
        ("SegmentId", "long"),
        ("CountA", "long"),
        ("CountB", "long"),
        ("PercentA", "real"),
        ("PercentB", "real"),
        ("PercentDiffAB", "real"),
        *cols,
    ]
    return python_rows(p, grouped, "__diffpatterns", values, options, out, _column_wildcards(cols, custom))


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def lower_diffpatterns_text(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    got, _ = _optional(p, rel, node, env)
    scope = p.scope_of(rel, env)
    text = p.compile(node.args[0], scope)
    if text.type not in ("string", "dynamic"):
        raise p.semantic("diffpatterns_text(): TextColumn must be a string", node.args[0])
    cond = p.compile(node.args[1], scope)
    if cond.type != "bool":
        raise p.semantic("diffpatterns_text(): BooleanCondition must be a bool expression", node.args[1])
    options: dict[str, Any] = {}
    for key, arg in (("min_tokens", "MinTokens"), ("threshold", "Threshold"), ("max_tokens", "MaxTokens")):
        if arg in got:
            options[key] = got[arg]
    flag = T(as_bool(cond), "bool")
    out = [
        ("Count_of_True", "long"),
        ("Count_of_False", "long"),
        ("Percent_of_True", "real"),
        ("Percent_of_False", "real"),
        ("Pattern", "string"),
    ]
    return python_rows(p, rel, "__diffpatterns_text", [to_string(text), flag], options, out)


PLUGINS: dict[str, Plugin] = {
    "autocluster": Plugin(lower_autocluster),
    "basket": Plugin(lower_basket),
    "diffpatterns": Plugin(lower_diffpatterns),
    "diffpatterns_text": Plugin(lower_diffpatterns_text),
}
