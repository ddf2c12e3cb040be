"""User-analytics plugins over an Id column and a timeline: activity_metrics (each window against the one
before), new_activity_metrics (cohorts of first-seen Ids against every later window), activity_engagement
(distinct Ids of an inner window against an outer one) and session_count (sessions split by a lookback gap).

Each is one SQL template (`lowering.template`) over the input with internal column names; the timeline is
handled as numbers (datetimes as epoch microseconds) and given back in its own type."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Plugin, Rel, Scope
from huntvault.kql.lowering.template import from_template
from huntvault.kql.lowering.timelines import (
    Dims,
    check_window_count,
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
from huntvault.kql.values import T, alias, col

#: the most dimension columns a plugin takes
_MAX_ARGS = 64


#: the calendar windows a Window argument may name, as DuckDB date_trunc units
CALENDAR = {"week": "week", "month": "month", "year": "year"}


@dataclass
class Timeline:
    """The Id, the timeline, the optional analysis range [Start, End] and the window: a size (a timespan or a
    number) or a calendar unit (`calendar`: windows start at startofweek (Sunday), startofmonth, startofyear)."""

    ident: T
    time: T
    time_name: str
    start: T | None
    end: T | None
    size: T
    calendar: str | None = None

    def values(self, p: Planner) -> dict[str, exp.Expression]:
        out = {} if self.calendar else {"__size": self.size.sql}
        if self.start is not None and self.end is not None:
            out |= {"__start": micros(p, self.start), "__end": micros(p, self.end)}
        return out

    @property
    def ranged(self) -> bool:
        return self.start is not None

    def bin(self, t: str = "__t") -> str:
        if self.calendar == "week":
            return f"EPOCH_US(DATE_TRUNC('week', MAKE_TIMESTAMP(CAST({t} AS BIGINT)) + INTERVAL 1 DAY) - INTERVAL 1 DAY)"
        if self.calendar:
            return f"EPOCH_US(DATE_TRUNC('{self.calendar}', MAKE_TIMESTAMP(CAST({t} AS BIGINT))))"
        if self.ranged:
            return f"__start + FLOOR(({t} - __start) / __size) * __size"
        return f"FLOOR({t} / __size) * __size"

    def prev(self, b: str) -> str:
        """The window before the one starting at `b`."""
        return self.bin(f"({b}) - 1") if self.calendar else f"{b} - __size"

    def bins(self) -> str:
        """A table `r(__to)` of every window from Start's to End (inclusive)."""
        if self.calendar:
            return (
                f"(SELECT EPOCH_US(x) AS __to FROM RANGE(MAKE_TIMESTAMP(CAST({self.bin('__start')} AS BIGINT)),"
                f" MAKE_TIMESTAMP(CAST(__end AS BIGINT)) + INTERVAL 1 MICROSECOND, INTERVAL 1 {self.calendar})"
                " AS g(x)) AS r"
            )
        return (
            "(SELECT UNNEST(GENERATE_SERIES(CAST(__start AS BIGINT), CAST(__end AS BIGINT), CAST(__size AS BIGINT)))"
            " AS __to) AS r"
        )

    def where(self, t: str = "__t") -> str:
        return f"{t} >= __start AND {t} <= __end" if self.ranged else "TRUE"


def _timeline(
    p: Planner,
    node: A.Call,
    args: list[T],
    ranged: bool,
    size_at: int,
    size_what: str = "the window",
    calendar_ok: bool = False,
) -> Timeline:
    require_timeline(p, node, node.args[1], args[1])
    if ranged:
        pairs = [(node.args[2], args[2]), (node.args[3], args[3])]
        require_constants(p, node, pairs, "Start and End")
        for arg, v in pairs:
            if v.type != args[1].type and not (
                v.type in ("long", "int", "real") and args[1].type != "datetime"
            ):
                raise p.semantic(f"{node.name}(): Start and End must be of the timeline's type", arg)
    size = args[size_at]
    calendar = None
    if calendar_ok and size.type == "string" and size.is_const and str(size.const).lower() in CALENDAR:
        calendar = CALENDAR[str(size.const).lower()]
        if args[1].type != "datetime":
            raise p.semantic(
                f"{node.name}(): a '{size.const}' window needs a datetime timeline", node.args[size_at]
            )
        if p.dialect.name == "spark":
            raise p.unsupported(
                f"evaluate {node.name}() with a calendar window runs on the DuckDB engine only", node
            )
    else:
        require_step(p, node, node.args[size_at], size, size_what)
    return Timeline(
        args[0],
        args[1],
        column_name(node.args[1], "Timestamp"),
        args[2] if ranged else None,
        args[3] if ranged else None,
        size,
        calendar,
    )


def _has_range(args: list[T], first: int, windows: int) -> bool:
    """Whether the optional [Start, End] pair is given: both and the window(s) after them are constants."""
    return len(args) >= first + 2 + windows and all(a.is_const for a in args[first : first + 2 + windows])


def _select(p: Planner, sql: exp.Select, proj: list[exp.Expression], cols: list[tuple[str, str]]) -> Rel:
    return Rel(exp.select(*proj).from_(sql.subquery(p.fresh(), copy=False), copy=False), cols)


def _items(tl: Timeline, dims: Dims, p: Planner) -> list[tuple[str, exp.Expression]]:
    return [("__id", tl.ident.sql), ("__t", micros(p, tl.time)), *dims.items()]


def lower_activity_metrics(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """activity_metrics(Id, Time, [Start, End,] Window [, dims...]): per window with rows, the distinct Ids
    (dcount_values), those not seen in the window before (dcount_newvalues), and the retention and churn
    rates against the window before (returning Ids / the window before's Ids; NaN without one)."""
    args = compile_args(p, rel, node, env, 3, _MAX_ARGS)
    ranged = _has_range(args, 2, 1)
    at = 4 if ranged else 2
    tl = _timeline(p, node, args, ranged, at, calendar_ok=True)
    dims = dims_of(p, node, node.args[at + 1 :], args[at + 1 :])
    d = dims
    sql = from_template(
        f"WITH x AS (SELECT DISTINCT __id{d.sel()}, {tl.bin()} AS __b FROM inp WHERE {tl.where()}),"
        f" g AS (SELECT __b{d.sel()}, COUNT(*) AS __dc FROM x GROUP BY __b{d.sel()}),"
        f" r AS (SELECT c.__b{d.sel('c')}, COUNT(*) AS __ret FROM x AS c JOIN x AS q"
        f" ON q.__id = c.__id AND q.__b = {tl.prev('c.__b')}{d.eq('q', 'c')} GROUP BY c.__b{d.sel('c')})"
        f" SELECT g.__b{d.sel('g')}, g.__dc, g.__dc - COALESCE(r.__ret, 0) AS __new,"
        f" CASE WHEN pg.__dc IS NULL THEN CAST('NaN' AS DOUBLE)"
        f" ELSE CAST(COALESCE(r.__ret, 0) AS DOUBLE) / pg.__dc END AS __rr"
        f" FROM g LEFT JOIN r ON r.__b = g.__b{d.eq('r', 'g')}"
        f" LEFT JOIN g AS pg ON pg.__b = {tl.prev('g.__b')}{d.eq('pg', 'g')}",
        {"inp": input_of(p, rel, _items(tl, dims, p))},
        tl.values(p),
    )
    long_ = exp.DataType.build("BIGINT")
    proj = [
        alias(time_out(p, col("__b"), tl.time.type), tl.time_name),
        alias(exp.Cast(this=col("__dc"), to=long_.copy()), "dcount_values"),
        alias(exp.Cast(this=col("__new"), to=long_.copy()), "dcount_newvalues"),
        alias(col("__rr"), "retention_rate"),
        alias(exp.Sub(this=exp.Literal.number(1), expression=col("__rr")), "churn_rate"),
        *dims.out(),
    ]
    cols = [
        (tl.time_name, tl.time.type),
        ("dcount_values", "long"),
        ("dcount_newvalues", "long"),
        ("retention_rate", "real"),
        ("churn_rate", "real"),
        *dims.cols(),
    ]
    return _select(p, sql, proj, cols)


def lower_new_activity_metrics(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """new_activity_metrics(Id, Time, Start, End, Window [, Cohort] [, dims...] [, Lookback]): for each cohort
    (the Ids first seen in a window; an Id of the Lookback table is never new) and each window from it to End:
    the Ids new since the cohort's window (the cohort itself on its own window), the cohort's Ids seen again
    (retained) and not (churned), and their shares of the cohort."""
    nodes = list(node.args)
    lookback: Rel | None = None
    if len(nodes) > 5 and p.is_tabular(nodes[-1], Scope({}, env, p)):
        lookback = p.relation(nodes[-1], env)
        nodes = nodes[:-1]
    call = A.Call(node.name, nodes, node.named, pos=node.pos)
    args = compile_args(p, rel, call, env, 5, _MAX_ARGS)
    tl = _timeline(p, call, args, True, 4, calendar_ok=True)
    days = {"week": 7.0, "month": 28.0, "year": 365.0}.get(tl.calendar or "", 0.0)
    check_window_count(p, node, args[2], args[3], args[4], days)  # every window is enumerated
    cohort: T | None = None
    rest_at = 5
    if len(args) > 5 and args[5].is_const:
        cohort = args[5]
        if cohort.type != tl.time.type and not (
            cohort.type in ("long", "int", "real") and tl.time.type != "datetime"
        ):
            raise p.semantic(f"{node.name}(): the cohort must be of the timeline's type", nodes[5])
        rest_at = 6
    dims = dims_of(p, call, nodes[rest_at:], args[rest_at:])
    d = dims
    values = tl.values(p)
    tables: dict[str, exp.Expression] = {"inp": input_of(p, rel, _items(tl, dims, p))}
    exclude = ""
    if lookback is not None:
        ident_node = node.args[0]
        look_id = p.compile(ident_node, p.scope_of(lookback, env))
        tables["lb"] = p.select(lookback, [alias(look_id.sql, "__id")])
        exclude = " WHERE __id NOT IN (SELECT __id FROM lb WHERE __id IS NOT NULL)"
    only = ""
    if cohort is not None:
        values["__cohort"] = micros(p, cohort)
        only = f" WHERE __from = {tl.bin('__cohort')}"
    sql = from_template(
        f"WITH x AS (SELECT DISTINCT __id{d.sel()}, {tl.bin()} AS __b FROM inp WHERE {tl.where()}),"
        f" f AS (SELECT __id{d.sel()}, MIN(__b) AS __first FROM x{exclude} GROUP BY __id{d.sel()}),"
        f" c AS (SELECT * FROM (SELECT __first AS __from{d.sel()}, COUNT(*) AS __csize FROM f"
        f" GROUP BY __first{d.sel()}) AS c0{only}),"
        f" pr AS (SELECT c.__from{d.sel('c')}, c.__csize, r.__to FROM c"
        f" JOIN {tl.bins()}"
        f" ON r.__to >= c.__from),"
        f" nx AS (SELECT x.__b AS __to, f.__first{d.sel('f')}, COUNT(*) AS __n FROM x JOIN f"
        f" ON f.__id = x.__id{d.eq('f', 'x')} GROUP BY x.__b, f.__first{d.sel('f')})"
        f" SELECT pr.__from, pr.__to{d.sel('pr')}, pr.__csize,"
        f" COALESCE(SUM(CASE WHEN nx.__first > pr.__from OR (pr.__to = pr.__from AND nx.__first = pr.__from)"
        f" THEN nx.__n END), 0) AS __new,"
        f" COALESCE(SUM(CASE WHEN nx.__first = pr.__from THEN nx.__n END), 0) AS __ret"
        f" FROM pr LEFT JOIN nx ON nx.__to = pr.__to{d.eq('nx', 'pr')}"
        f" GROUP BY pr.__from, pr.__to, pr.__csize{d.sel('pr')}",
        tables,
        values,
    )
    long_, real = exp.DataType.build("BIGINT"), exp.DataType.build("DOUBLE")
    churn = exp.Sub(this=col("__csize"), expression=col("__ret"))
    proj = [
        alias(time_out(p, col("__from"), tl.time.type), f"from_{tl.time_name}"),
        alias(time_out(p, col("__to"), tl.time.type), f"to_{tl.time_name}"),
        alias(exp.Cast(this=col("__new"), to=long_.copy()), "dcount_new_values"),
        alias(exp.Cast(this=col("__ret"), to=long_.copy()), "dcount_retained_values"),
        alias(exp.Cast(this=churn, to=long_.copy()), "dcount_churn_values"),
        alias(
            exp.Div(this=exp.Cast(this=col("__ret"), to=real.copy()), expression=col("__csize")),
            "retention_rate",
        ),
        alias(
            exp.Div(this=exp.Cast(this=churn.copy(), to=real.copy()), expression=col("__csize")), "churn_rate"
        ),
        *dims.out(),
    ]
    cols = [
        (f"from_{tl.time_name}", tl.time.type),
        (f"to_{tl.time_name}", tl.time.type),
        ("dcount_new_values", "long"),
        ("dcount_retained_values", "long"),
        ("dcount_churn_values", "long"),
        ("retention_rate", "real"),
        ("churn_rate", "real"),
        *dims.cols(),
    ]
    return _select(p, sql, proj, cols)


def lower_activity_engagement(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """activity_engagement(Id, Time, [Start, End,] Inner, Outer [, dims...]): per inner window with rows, the
    distinct Ids of the inner window, of the outer window that ends with it, and their ratio."""
    args = compile_args(p, rel, node, env, 4, _MAX_ARGS)
    ranged = _has_range(args, 2, 2)
    at = 4 if ranged else 2
    tl = _timeline(p, node, args, ranged, at, "the inner window")
    require_step(p, node, node.args[at + 1], args[at + 1], "the outer window")
    dims = dims_of(p, node, node.args[at + 2 :], args[at + 2 :])
    d = dims
    values = tl.values(p) | {"__outer": args[at + 1].sql}
    sql = from_template(
        f"WITH x AS (SELECT DISTINCT __id{d.sel()}, __t FROM inp WHERE {tl.where()}),"
        f" g AS (SELECT DISTINCT {tl.bin()} AS __b{d.sel()} FROM x)"
        f" SELECT g.__b{d.sel('g')},"
        f" COUNT(DISTINCT CASE WHEN x.__t >= g.__b THEN x.__id END) AS __in,"
        f" COUNT(DISTINCT x.__id) AS __out"
        f" FROM g JOIN x ON x.__t >= g.__b + __size - __outer AND x.__t < g.__b + __size{d.eq('x', 'g')}"
        f" GROUP BY g.__b{d.sel('g')}",
        {"inp": input_of(p, rel, _items(tl, dims, p))},
        values,
    )
    long_, real = exp.DataType.build("BIGINT"), exp.DataType.build("DOUBLE")
    proj = [
        alias(time_out(p, col("__b"), tl.time.type), tl.time_name),
        alias(exp.Cast(this=col("__in"), to=long_.copy()), "dcount_activities_inner"),
        alias(exp.Cast(this=col("__out"), to=long_.copy()), "dcount_activities_outer"),
        alias(
            exp.Div(this=exp.Cast(this=col("__in"), to=real.copy()), expression=col("__out")),
            "activity_ratio",
        ),
        *dims.out(),
    ]
    cols = [
        (tl.time_name, tl.time.type),
        ("dcount_activities_inner", "long"),
        ("dcount_activities_outer", "long"),
        ("activity_ratio", "real"),
        *dims.cols(),
    ]
    return _select(p, sql, proj, cols)


def lower_session_count(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """session_count(Id, Time, Start, End, Bin, LookBackWindow [, dims...]): per bin with rows, the sessions
    that have a row in it. An Id's row starts a new session when the Id has no row within LookBackWindow
    before it; otherwise it continues the Id's session."""
    args = compile_args(p, rel, node, env, 6, _MAX_ARGS)
    tl = _timeline(p, node, args, True, 4, "the bin")
    require_step(p, node, node.args[5], args[5], "the lookback window")
    dims = dims_of(p, node, node.args[6:], args[6:])
    d = dims
    part = f"PARTITION BY __id{d.sel()}"
    sql = from_template(
        f"WITH s AS (SELECT __id{d.sel()}, __t, CASE WHEN LAG(__t) OVER ({part} ORDER BY __t) >= __t - __lookback"
        f" THEN 0 ELSE 1 END AS __new FROM inp WHERE __t >= __start AND __t <= __end),"
        f" n AS (SELECT __id{d.sel()}, __t, SUM(__new) OVER ({part} ORDER BY __t"
        f" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS __s FROM s)"
        f" SELECT __b{d.sel()}, COUNT(*) AS __count FROM"
        f" (SELECT DISTINCT {tl.bin()} AS __b, __id, __s{d.sel()} FROM n) AS u GROUP BY __b{d.sel()}",
        {"inp": input_of(p, rel, _items(tl, dims, p))},
        tl.values(p) | {"__lookback": args[5].sql},
    )
    proj = [
        alias(time_out(p, col("__b"), tl.time.type), tl.time_name),
        *dims.out(),
        alias(exp.Cast(this=col("__count"), to=exp.DataType.build("BIGINT")), "count_sessions"),
    ]
    cols = [(tl.time_name, tl.time.type), *dims.cols(), ("count_sessions", "long")]
    return _select(p, sql, proj, cols)


def lower_activity_counts_metrics(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """activity_counts_metrics(Id, Time, Start, End, Window [, dims]): per window with rows (and dimension
    values): count, dcount, new_dcount (Ids first seen, since Start, in this window) and aggregated_dcount
    (distinct Ids from the first window to this one). Window may be a calendar unit (week, month, year)."""
    args = compile_args(p, rel, node, env, 5, _MAX_ARGS)
    tl = _timeline(p, node, args, True, 4, calendar_ok=True)
    dims = dims_of(p, node, node.args[5:], args[5:])
    d = dims
    part = f"PARTITION BY {', '.join('g.' + k for k in dims.keys)} " if dims.keys else ""
    sql = from_template(
        f"WITH x AS (SELECT * FROM (SELECT __id{d.sel()}, {tl.bin()} AS __b FROM inp WHERE __t >= __start) AS x0"
        f" WHERE __b <= __end),"
        f" f AS (SELECT __id{d.sel()}, MIN(__b) AS __first FROM x GROUP BY __id{d.sel()}),"
        f" g AS (SELECT __b{d.sel()}, COUNT(*) AS __count, COUNT(DISTINCT __id) AS __dcount FROM x"
        f" GROUP BY __b{d.sel()}),"
        f" n AS (SELECT __first AS __b{d.sel()}, COUNT(*) AS __new FROM f GROUP BY __first{d.sel()})"
        f" SELECT g.__b{d.sel('g')}, g.__count, g.__dcount, COALESCE(n.__new, 0) AS __new,"
        f" SUM(COALESCE(n.__new, 0)) OVER ({part}ORDER BY g.__b) AS __agg"
        f" FROM g LEFT JOIN n ON n.__b = g.__b{d.eq('n', 'g')}",
        {"inp": input_of(p, rel, _items(tl, dims, p))},
        tl.values(p),
    )
    long_ = exp.DataType.build("BIGINT")
    proj = [alias(time_out(p, col("__b"), tl.time.type), tl.time_name), *dims.out()]
    proj += [
        alias(exp.Cast(this=col(src), to=long_.copy()), out)
        for src, out in (
            ("__count", "count"),
            ("__dcount", "dcount"),
            ("__new", "new_dcount"),
            ("__agg", "aggregated_dcount"),
        )
    ]
    cols = [(tl.time_name, tl.time.type), *dims.cols()]
    cols += [("count", "long"), ("dcount", "long"), ("new_dcount", "long"), ("aggregated_dcount", "long")]
    return _select(p, sql, proj, cols)


PLUGINS: dict[str, Plugin] = {
    "activity_counts_metrics": Plugin(lower_activity_counts_metrics),
    "activity_metrics": Plugin(lower_activity_metrics),
    "new_activity_metrics": Plugin(lower_new_activity_metrics),
    "activity_engagement": Plugin(lower_activity_engagement),
    "session_count": Plugin(lower_session_count),
}
