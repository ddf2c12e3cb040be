"""Plugins over ordered events: sequence_detect (each occurrence of a sequence of predicates), funnel_sequence
(what comes before and after a sequence of states) and funnel_sequence_completion (how far Ids get along a
sequence of states). The timeline is handled as numbers (datetimes as epoch microseconds)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.errors import KqlSyntaxError
from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Plugin, Rel
from huntvault.kql.lowering.template import from_template
from huntvault.kql.lowering.timelines import (
    column_name,
    compile_args,
    dims_of,
    input_of,
    micros,
    require_constants,
    require_step,
    require_timeline,
    time_out,
)
from huntvault.kql.syntax import parse_timespan_text
from huntvault.kql.values import T, alias, as_bool, col, literal, to_string

#: the most steps a sequence may have
MAX_STEPS = 32


def _span_type(time_type: str) -> str:
    """The type of a difference of two timeline values."""
    return "timespan" if time_type in ("datetime", "timespan") else time_type


def lower_sequence_detect(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """sequence_detect(Time, MaxStepWindow, MaxSequenceSpan, e1 = pred1, e2 = pred2, ... [, dims...]): one
    row per occurrence: rows matching each predicate in turn (same dimension values), each at most
    MaxStepWindow after the one before and the last at most MaxSequenceSpan after the first; the columns
    are the dimensions, `<name>_<Time>` per step and the Duration."""
    if len(node.args) < 3:
        raise p.semantic(
            "sequence_detect() takes the timeline, the step window, the span and the steps", node
        )
    scope = p.scope_of(rel, env)
    time, step, span = (p.compile(a, scope) for a in node.args[:3])
    require_timeline(p, node, node.args[0], time)
    require_step(p, node, node.args[1], step, "the step window")
    require_step(p, node, node.args[2], span, "the sequence span")
    steps: list[tuple[str, A.Node]] = list(node.named.items())
    dim_nodes: list[A.Node] = []
    for i, arg in enumerate(node.args[3:]):
        if isinstance(arg, A.Name):
            dim_nodes.append(arg)
        elif dim_nodes:
            raise p.semantic("sequence_detect(): the steps come before the dimensions", arg)
        else:
            steps.insert(i, (f"Expr{i + 1}", arg))
    if dim_nodes and any(pred.pos > dim_nodes[0].pos for _, pred in node.named.items()):
        raise p.semantic("sequence_detect(): the steps come before the dimensions", dim_nodes[0])
    if not steps:
        raise p.semantic("sequence_detect(): the sequence needs at least one step predicate", node)
    if len(steps) > MAX_STEPS:
        raise p.semantic(f"sequence_detect(): at most {MAX_STEPS} steps", node)
    preds: list[exp.Expression] = []
    for _, pred in steps:
        v = p.compile(pred, scope)
        if v.type not in ("bool", "null"):
            raise p.semantic(f"sequence_detect(): a step must be a predicate (bool), not {v.type}", pred)
        preds.append(as_bool(v))
    dims = dims_of(p, node, dim_nodes, [p.compile(n, scope) for n in dim_nodes])
    d = dims
    items: list[tuple[str, exp.Expression]] = [("__t", micros(p, time)), *dims.items()]
    items += [(f"__p{i}", exp.Coalesce(this=e, expressions=[exp.false()])) for i, e in enumerate(preds)]
    numbered = p.select(
        rel,
        [
            *[alias(e, n) for n, e in items],
            alias(
                exp.Window(
                    this=exp.RowNumber(),
                    order=exp.Order(expressions=[exp.Ordered(this=exp.Literal.number(1))]),
                ),
                "__rn",
            ),
        ],
    )
    ctes = ", ".join(f"e{i} AS (SELECT __rn, __t{d.sel()} FROM inp WHERE __p{i})" for i in range(len(steps)))
    joins = "".join(
        f" JOIN e{i} AS a{i} ON a{i}.__t >= a{i - 1}.__t AND a{i}.__rn <> a{i - 1}.__rn"
        f" AND a{i}.__t - a{i - 1}.__t <= __step AND a{i}.__t - a0.__t <= __span{d.eq(f'a{i}', 'a0')}"
        for i in range(1, len(steps))
    )
    times = "".join(f", a{i}.__t AS __t{i}" for i in range(len(steps)))
    last = len(steps) - 1
    sql = from_template(
        f"WITH {ctes} SELECT {d.sel('a0')[2:] + ', ' if dims.keys else ''}"
        f"{times[2:]}, a{last}.__t - a0.__t AS __duration FROM e0 AS a0{joins}",
        {"inp": numbered},
        {"__step": step.sql, "__span": span.sql},
    )
    time_name = column_name(node.args[0], "Timestamp")
    proj: list[exp.Expression] = [*dims.out()]
    cols: list[tuple[str, str]] = [*dims.cols()]
    for i, (name, _) in enumerate(steps):
        proj.append(alias(time_out(p, col(f"__t{i}"), time.type), f"{name}_{time_name}"))
        cols.append((f"{name}_{time_name}", time.type))
    proj.append(alias(time_out(p, col("__duration"), _span_type(time.type)), "Duration"))
    cols.append(("Duration", _span_type(time.type)))
    return Rel(exp.select(*proj).from_(sql.subquery(p.fresh(), copy=False), copy=False), cols)


def _sequence(p: Planner, node: A.Call, arg: A.Node, v: T) -> list[str]:
    if not (v.is_const and isinstance(v.const, list) and v.const):
        raise p.semantic(f"{node.name}(): the sequence must be a constant non-empty dynamic array", arg)
    if len(v.const) > MAX_STEPS:
        raise p.semantic(f"{node.name}(): at most {MAX_STEPS} steps", arg)
    return ["" if s is None else str(s) for s in v.const]


def _window(p: Planner, node: A.Call, args: list[T], time_at: int) -> None:
    require_timeline(p, node, node.args[time_at], args[time_at])
    require_constants(
        p,
        node,
        [(node.args[time_at + 1], args[time_at + 1]), (node.args[time_at + 2], args[time_at + 2])],
        "Start and End",
    )


def _state_input(p: Planner, rel: Rel, ident: T, time: T, state: T) -> exp.Select:
    items = [("__id", ident.sql), ("__t", micros(p, time)), ("__s", to_string(state).sql)]
    return input_of(p, rel, items)


def _range_values(p: Planner, args: list[T], start_at: int, step: T) -> dict[str, exp.Expression]:
    return {"__start": micros(p, args[start_at]), "__end": micros(p, args[start_at + 1]), "__size": step.sql}


def lower_funnel_sequence(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """funnel_sequence(Id, Time, Start, End, MaxSequenceStepWindow, Step, State, Sequence): per window (of
    the sequence's first event), previous state and next state, the distinct Ids whose consecutive events
    take the sequence's states, each within MaxSequenceStepWindow of the one before; prev/next are the Id's
    events just before/after it within that window ("" when there is none), samples up to 128 of the Ids.
    Kusto returns two more tables (by prev, by next): they are this one summarized by prev or next."""
    args = compile_args(p, rel, node, env, 8, 8)
    _window(p, node, args, 1)
    require_step(p, node, node.args[4], args[4], "the step window")
    require_step(p, node, node.args[5], args[5], "the step")
    seq = _sequence(p, node, node.args[7], args[7])
    k = len(seq)
    leads = "".join(
        f", LEAD(__s, {j}) OVER w AS __s{j}, LEAD(__t, {j}) OVER w AS __t{j}" for j in range(1, k + 1)
    )
    conds = ["__s = __q0"] + [
        f"__s{j} = __q{j} AND __t{j} - {'__t' if j == 1 else f'__t{j - 1}'} <= __max" for j in range(1, k)
    ]
    before_last = "__t" if k == 1 else f"__t{k - 1}"
    values = _range_values(p, args, 2, args[5]) | {"__max": args[4].sql}
    values |= {f"__q{j}": exp.Literal.string(s) for j, s in enumerate(seq)}
    sql = from_template(
        f"WITH o AS (SELECT __id, __t, __s, LAG(__s) OVER w AS __ps, LAG(__t) OVER w AS __pt{leads}"
        f" FROM inp WHERE __t >= __start AND __t <= __end WINDOW w AS (PARTITION BY __id ORDER BY __t, __s)),"
        f" h AS (SELECT __id, __start + FLOOR((__t - __start) / __size) * __size AS __b,"
        f" CASE WHEN __t - __pt <= __max THEN COALESCE(__ps, '') ELSE '' END AS __prev,"
        f" CASE WHEN __t{k} - {before_last} <= __max THEN COALESCE(__s{k}, '') ELSE '' END AS __next"
        f" FROM o WHERE {' AND '.join(conds)})"
        f" SELECT __b, __prev, __next, COUNT(DISTINCT __id) AS __dcount,"
        f" TO_JSON(LIST_SLICE(LIST(DISTINCT __id ORDER BY __id), 1, 128)) AS __samples"
        f" FROM h GROUP BY __b, __prev, __next",
        {"inp": _state_input(p, rel, args[0], args[1], args[6])},
        values,
    )
    time_name = column_name(node.args[1], "Timestamp")
    proj = [
        alias(time_out(p, col("__b"), args[1].type), time_name),
        alias(col("__prev"), "prev"),
        alias(col("__next"), "next"),
        alias(exp.Cast(this=col("__dcount"), to=exp.DataType.build("BIGINT")), "dcount"),
        alias(col("__samples"), "samples"),
    ]
    cols = [
        (time_name, args[1].type),
        ("prev", "string"),
        ("next", "string"),
        ("dcount", "long"),
        ("samples", "dynamic"),
    ]
    return Rel(exp.select(*proj).from_(sql.subquery(p.fresh(), copy=False), copy=False), cols)


def _spans(items: list[object]) -> list[int] | None:
    """Microseconds of a dynamic array of timespans (a dynamic literal holds them as text, `"01:00:00"`)."""
    out: list[int] = []
    for x in items:
        try:
            micros = parse_timespan_text(x) if isinstance(x, str) else None
        except KqlSyntaxError:
            micros = None
        if micros is None or micros < 0:
            return None
        out.append(int(micros))
    return out


def lower_funnel_sequence_completion(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """funnel_sequence_completion(Id, Time, Start, End, Step, State, Sequence, MaxSequenceStepWindows): per
    window (of the first state's event), step of the sequence and period of MaxSequenceStepWindows, the
    distinct Ids that reached that step: events of the sequence's states in order, each at most the period
    after the one before."""
    args = compile_args(p, rel, node, env, 8, 8)
    _window(p, node, args, 1)
    require_step(p, node, node.args[4], args[4], "the step")
    seq = _sequence(p, node, node.args[6], args[6])
    periods = args[7]
    spans = _spans(periods.const) if periods.is_const and isinstance(periods.const, list) else None
    if not spans:
        raise p.semantic(
            f"{node.name}(): MaxSequenceStepWindows must be a constant dynamic array of timespans",
            node.args[7],
        )
    k = len(seq)
    ctes = [
        f"e{j} AS (SELECT DISTINCT __id, __t FROM inp WHERE __t >= __start AND __t <= __end AND __s = __q{j})"
        for j in range(k)
    ]
    ctes.append("r0 AS (SELECT __id, __t, __start + FLOOR((__t - __start) / __size) * __size AS __b FROM e0)")
    for j in range(1, k):
        ctes += [
            f"r{j}_{i} AS (SELECT DISTINCT r.__id, r.__b, e.__t FROM {'r0' if j == 1 else f'r{j - 1}_{i}'} AS r"
            f" JOIN e{j} AS e ON e.__id = r.__id AND e.__t >= r.__t AND e.__t - r.__t <= __w{i})"
            for i in range(len(spans))
        ]
    counts = []
    for i in range(len(spans)):
        for j in range(k):
            src = "r0" if j == 0 else f"r{j}_{i}"
            counts.append(
                f"SELECT b.__b, {j} AS __step, {i} AS __period, COUNT(DISTINCT x.__id) AS __dcount"
                f" FROM (SELECT DISTINCT __b FROM r0) AS b LEFT JOIN {src} AS x ON x.__b = b.__b GROUP BY b.__b"
            )
    values = _range_values(p, args, 2, args[4])
    values |= {f"__q{j}": exp.Literal.string(s) for j, s in enumerate(seq)}
    values |= {f"__w{i}": exp.Literal.number(w) for i, w in enumerate(spans)}
    sql = from_template(
        f"WITH {', '.join(ctes)} SELECT * FROM ({' UNION ALL '.join(counts)}) AS u",
        {"inp": _state_input(p, rel, args[0], args[1], args[5])},
        values,
    )
    state_name = column_name(node.args[5], "State")
    time_name = column_name(node.args[1], "Timestamp")
    state = exp.Case(
        this=col("__step"),
        ifs=[exp.If(this=exp.Literal.number(j), true=exp.Literal.string(s)) for j, s in enumerate(seq)],
    )
    period = exp.Case(
        this=col("__period"),
        ifs=[
            exp.If(this=exp.Literal.number(i), true=literal(w, "timespan").sql) for i, w in enumerate(spans)
        ],
    )
    proj = [
        alias(time_out(p, col("__b"), args[1].type), time_name),
        alias(state, state_name),
        alias(period, "Period"),
        alias(exp.Cast(this=col("__dcount"), to=exp.DataType.build("BIGINT")), "dcount"),
    ]
    cols = [(time_name, args[1].type), (state_name, "string"), ("Period", "timespan"), ("dcount", "long")]
    out = exp.select(*proj).from_(sql.subquery(p.fresh(), copy=False), copy=False)
    out = out.order_by(col("__period"), col("__b"), col("__step"), copy=False)
    return Rel(out, cols)


PLUGINS: dict[str, Plugin] = {
    "sequence_detect": Plugin(lower_sequence_detect),
    "funnel_sequence": Plugin(lower_funnel_sequence),
    "funnel_sequence_completion": Plugin(lower_funnel_sequence_completion),
}
