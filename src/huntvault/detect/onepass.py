"""One-pass backtests: a rule's query rewritten (syntax tree to syntax tree) to run once over a whole range, every
row tagged with the scheduled window(s) it falls in and every grouping made per window.

The rewrite keeps, for each tabular expression, what it carries:

- `none`: no archive rows (a datatable): the same in every window, left as is;
- `time`: archive rows, each with its time in `__hv_t` (a row-local operator keeps it);
- `window`: rows tagged with their window index `__hv_w` (a row in two overlapping windows is two rows).

A table read becomes `T | where <range> | extend __hv_t = <its time column>`. Row-local operators pass `__hv_t`
along; the first operator that is not row-local (summarize, join, distinct...) or that asks for `now()` gets the
expansion to `__hv_w` first, and then adds `__hv_w` to its grouping (its join keys, distinct columns...).
`now()`/`ago()` become the window's end. What the table of operators does not know raises NotRewritable with
the reason, and the backtest replays window by window instead.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from huntvault.detect.engine import QueryRunner
from huntvault.detect.kqltext import Unprintable, to_text
from huntvault.detect.model import Rule
from huntvault.detect.replay import replay
from huntvault.detect.scheduler import CycleReport, align_down
from huntvault.detect.store import MemoryAlertStore
from huntvault.errors import DetectError, HuntvaultError, KqlError
from huntvault.kql import ast as A
from huntvault.kql import parse
from huntvault.schema import tables

W = "__hv_w"  # the window index of a row (0 = the first window of the range)
T = "__hv_t"  # the time of an archive row, until it is expanded to its windows
_RESERVED = "__hv_"

NONE, TIME, WINDOW = "none", "time", "window"

#: Functions whose value depends on the row order (they would run across window boundaries).
ORDER_FUNCTIONS = frozenset(
    {"row_number", "prev", "next", "row_cumsum", "row_window_session", "row_rank_dense", "row_rank_min"}
)
#: Functions that read tables from inside an expression.
TABLE_FUNCTIONS = frozenset(
    {"toscalar", "materialize", "table", "view", "externaldata", "database", "cluster"}
)
#: Functions that take every column of the row (the window column would be among them).
ALL_COLUMN_FUNCTIONS = frozenset({"pack_all"})
#: Aggregates whose `*` means the columns that are not grouped by (the window column is grouped by).
STAR_AGGREGATES = frozenset({"arg_max", "arg_min", "take_any", "any"})


class NotRewritable(DetectError):
    """The query cannot run in one pass; the message is the reason a report shows."""


@dataclass(frozen=True)
class Grid:
    """The scheduled windows of a backtest: ends `first_end + k * every` for k in [0, count), each `lookback` long."""

    first_end: datetime
    every: timedelta
    lookback: timedelta
    count: int

    @classmethod
    def of(cls, rule: Rule, start: datetime, end: datetime) -> Grid:
        """The windows the scheduler runs for `rule` when it backtests (start, end]."""
        first = align_down(start, rule.every) + rule.every
        count = int((end - first) / rule.every) + 1 if end >= first else 0
        return cls(first, rule.every, rule.lookback, count)

    def end(self, k: int) -> datetime:
        return self.first_end + k * self.every

    @property
    def span(self) -> tuple[datetime, datetime]:
        """[first window start, last window end): every row of any window is in it."""
        return self.first_end - self.lookback, self.end(self.count - 1)

    def index(self, window_end: datetime) -> int:
        return round((window_end - self.first_end) / self.every)


def _us(value: timedelta) -> int:
    return value // timedelta(microseconds=1)


def _lit_dt(value: datetime) -> A.Node:
    return A.Literal(value, "datetime")


def _lit_long(value: int) -> A.Node:
    return A.Literal(value, "long")


def _call(name: str, *args: A.Node) -> A.Call:
    return A.Call(name, list(args))


def _diff_us(since: datetime) -> A.Node:
    """Microseconds from `since` to the row's time (never negative inside the grid's span)."""
    return _call("datetime_diff", A.Literal("microsecond", "string"), A.Name(T), _lit_dt(since))


class Rewriter:
    """Rewrites one parsed rule query for one grid (see the module docstring)."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.tables = tables()
        self.lets: dict[str, str | None] = {}  # let name -> state of a tabular let, None for a scalar one

    # -- the window column ------------------------------------------------------------------------
    def now(self) -> A.Node:
        """The end of the row's window."""
        step = A.Literal(float(_us(self.grid.every)), "timespan")
        return A.Binary("+", _lit_dt(self.grid.first_end), A.Binary("*", A.Name(W), step))

    def expansion(self) -> list[A.Node]:
        """`__hv_t` -> `__hv_w`: one row per window holding the row's time, then `__hv_t` dropped."""
        g = self.grid
        every = _us(g.every)
        ahead = math.ceil(g.lookback / g.every)  # windows a row can precede the first by
        first = A.Binary(
            "-",
            A.Binary("/", _diff_us(g.first_end - ahead * g.every), _lit_long(every)),
            _lit_long(ahead - 1),
        )
        last = A.Binary("/", _diff_us(g.first_end - g.lookback), _lit_long(every))
        lo = _call("max_of", _lit_long(0), first)
        hi = _call("min_of", _lit_long(g.count - 1), last)
        if g.lookback <= g.every:  # windows do not overlap: a row is in one window at most
            return [
                A.Extend([A.Assign([W], lo)]),
                A.Where(A.Binary("<=", A.Name(W), hi)),
                A.ProjectAway([T]),
            ]
        return [
            A.Extend([A.Assign([W], _call("range", lo, hi, _lit_long(1)))]),
            A.MvExpand([A.MvExpandItem(None, A.Name(W), "long")], {}),
            A.ProjectAway([T]),
        ]

    def source_ops(self, table: str) -> list[A.Node]:
        """A table read: the rows of the whole span, each with its time in `__hv_t`."""
        tcol = self.tables[table].time_column
        lo, hi = self.grid.span
        within = A.Binary(
            "and",
            A.Binary(">=", A.Name(tcol), _lit_dt(lo)),
            A.Binary("<", A.Name(tcol), _lit_dt(hi)),
        )
        return [A.Where(within), A.Extend([A.Assign([T], A.Name(tcol))])]

    # -- scalar expressions -----------------------------------------------------------------------
    def scan(self, node: Any, where: str) -> bool:
        """Check an expression; True when it calls now()/ago() (it then needs the window column)."""
        uses_now = False
        for sub in _walk(node):
            if isinstance(sub, A.Pipeline | A.Datatable | A.UnionSource | A.Lambda):
                raise NotRewritable(f"a tabular expression inside {where}")
            if isinstance(sub, A.Name):
                if sub.name.startswith(_RESERVED):
                    raise NotRewritable(f"the name {sub.name} (reserved for the rewrite)")
                if self.lets.get(sub.name) is not None:
                    raise NotRewritable(f"the table {sub.name!r} used inside {where}")
            if isinstance(sub, A.Assign) and any(n.startswith(_RESERVED) for n in sub.names or []):
                raise NotRewritable("a column named __hv_* (reserved for the rewrite)")
            if isinstance(sub, A.Call):
                low = sub.name.lower()
                if low in ORDER_FUNCTIONS:
                    raise NotRewritable(f"{sub.name}() (it depends on row order across windows)")
                if low in TABLE_FUNCTIONS:
                    raise NotRewritable(f"{sub.name}() (it reads a table inside an expression)")
                if low in ALL_COLUMN_FUNCTIONS or (
                    low not in STAR_AGGREGATES and any(isinstance(a, A.Star) for a in sub.args)
                ):
                    raise NotRewritable(f"{sub.name}() over every column (the window column would be one)")
                if low in ("now", "ago"):
                    uses_now = True
        return uses_now

    def bind_now(self, node: Any) -> Any:
        """`now()`/`now(offset)`/`ago(span)` -> the window end (plus/minus)."""
        if isinstance(node, A.Call) and node.name.lower() in ("now", "ago"):
            args = [self.bind_now(a) for a in node.args]
            if node.name.lower() == "ago":
                if len(args) != 1:
                    raise NotRewritable("ago() takes one timespan")
                return A.Binary("-", self.now(), args[0])
            return A.Binary("+", self.now(), args[0]) if args else self.now()
        if isinstance(node, A.Node):
            changes = {
                f: self.bind_now(getattr(node, f))
                for f in node.__dataclass_fields__
                if f != "pos" and _has_node(getattr(node, f))
            }
            return replace(node, **changes) if changes else node
        if isinstance(node, list):
            return [self.bind_now(x) for x in node]
        if isinstance(node, tuple):
            return tuple(self.bind_now(x) for x in node)
        if isinstance(node, dict):
            return {k: self.bind_now(v) for k, v in node.items()}
        return node

    # -- tabular expressions ----------------------------------------------------------------------
    def tabular(self, node: A.Node) -> tuple[A.Node, str]:
        """A tabular expression -> (rewritten, what it carries)."""
        if isinstance(node, A.Pipeline):
            if node.source is None:
                raise NotRewritable("an operator without an input table")
            source, ops, state = self.source(node.source)
            for i, op in enumerate(node.ops):
                rule = OPERATORS.get(type(op))
                if rule is None:
                    raise NotRewritable(f"the {_op_name(op)} operator")
                new, state = rule(self, op, state, node.ops[:i])
                ops.extend(new)
            return A.Pipeline(source, ops), state
        source, ops, state = self.source(node)
        return (A.Pipeline(source, ops) if ops else source), state

    def source(self, node: A.Node) -> tuple[A.Node, list[A.Node], str]:
        """A pipeline's input -> (source, operators to start with, state)."""
        if isinstance(node, A.Name):
            if node.name in self.lets:
                state = self.lets[node.name]
                if state is None:
                    raise NotRewritable(f"{node.name!r} is not a table")
                return node, [], state
            if node.name in self.tables:
                return node, self.source_ops(node.name), TIME
            raise NotRewritable(f"the source {node.name!r} (not an archive table)")
        if isinstance(node, A.Datatable):
            return node, [], NONE
        if isinstance(node, A.UnionSource):
            legs, state = self.union_legs(node.tables, NONE, first=True)
            return A.UnionSource(legs, node.options), [], state
        if isinstance(node, A.Pipeline):
            inner, state = self.tabular(node)
            return inner, [], state
        raise NotRewritable(f"the source {type(node).__name__}")

    def union_legs(self, legs: list[A.Node], state: str, first: bool = False) -> tuple[list[A.Node], str]:
        """Union legs (and the input's state unless `first`): all windowed the same way, or none windowed."""
        done = [self.tabular(leg) for leg in legs]
        states = {s for _, s in done} | (set() if first else {state})
        if NONE in states and len(states) > 1:
            raise NotRewritable("a union of archive rows with rows that are in every window")
        target = WINDOW if WINDOW in states else (TIME if TIME in states else NONE)
        out = []
        for leg, s in done:
            if s == TIME and target == WINDOW:
                leg = _append(leg, self.expansion())
            out.append(leg)
        return out, target

    def to_window(self, state: str, what: str) -> tuple[list[A.Node], str]:
        """The operators that bring `state` to `window` before `what` (which needs the window column)."""
        if state == TIME:
            return self.expansion(), WINDOW
        if state == WINDOW:
            return [], WINDOW
        return [], NONE

    # -- statements -------------------------------------------------------------------------------
    def script(self, script: A.Script) -> A.Script:
        lets: list[A.Let] = []
        for let in script.lets:
            value = let.value
            if isinstance(value, A.Lambda):
                raise NotRewritable(f"the function {let.name!r} (let with parameters)")
            if _is_tabular(value, self):
                new, state = self.tabular(value)
                self.lets[let.name] = state
                lets.append(A.Let(let.name, new))
                continue
            if self.scan(value, f"let {let.name}"):
                raise NotRewritable(f"now()/ago() in the scalar let {let.name!r}")
            self.lets[let.name] = None
            lets.append(let)
        query, state = self.tabular(script.query)
        if state == NONE:
            raise NotRewritable("the query reads no archive table")
        if state == TIME:
            query = _append(query, self.expansion())
        return A.Script(lets, query)


def _is_tabular(node: A.Node, rw: Rewriter) -> bool:
    if isinstance(node, A.Pipeline | A.Datatable | A.UnionSource):
        return True
    return isinstance(node, A.Name) and (node.name in rw.tables or rw.lets.get(node.name) is not None)


def _append(node: A.Node, ops: list[A.Node]) -> A.Node:
    if isinstance(node, A.Pipeline) and node.source is not None:
        return A.Pipeline(node.source, [*node.ops, *ops])
    return A.Pipeline(node, ops)


def _has_node(value: Any) -> bool:
    if isinstance(value, A.Node):
        return True
    if isinstance(value, list | tuple):
        return any(_has_node(v) for v in value)
    if isinstance(value, dict):
        return any(_has_node(v) for v in value.values())
    return False


def _walk(node: Any) -> Any:
    """Every node under `node` (dataclass fields, lists, tuples, dicts), itself included."""
    if isinstance(node, A.Node):
        yield node
        for f in node.__dataclass_fields__:
            if f != "pos":
                yield from _walk(getattr(node, f))
    elif isinstance(node, list | tuple):
        for x in node:
            yield from _walk(x)
    elif isinstance(node, dict):
        for x in node.values():
            yield from _walk(x)


def _op_name(op: A.Node) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", type(op).__name__).lower()


def _carried(state: str) -> str | None:
    return {TIME: T, WINDOW: W}.get(state)


# -------------------------------------------------------------------------------------------------
# the operator table: (rewriter, operator, state, operators before it) -> (operators to emit, new state)

Transform = Callable[[Rewriter, Any, str, list[A.Node]], tuple[list[A.Node], str]]


def _row_local(rw: Rewriter, op: Any, state: str, before: list[A.Node]) -> tuple[list[A.Node], str]:
    """where, extend, parse, mv-expand, render: per row; with now()/ago() the window column comes first."""
    if rw.scan(op, _op_name(op)):
        if state == NONE:
            raise NotRewritable(f"now()/ago() in {_op_name(op)} over rows that are in every window")
        pre, state = rw.to_window(state, _op_name(op))
        return [*pre, rw.bind_now(op)], state
    return [op], state


def _project(rw: Rewriter, op: A.Project, state: str, before: list[A.Node]) -> tuple[list[A.Node], str]:
    pre: list[A.Node] = []
    if rw.scan(op, "project"):
        if state == NONE:
            raise NotRewritable("now()/ago() in project over rows that are in every window")
        pre, state = rw.to_window(state, "project")
        op = rw.bind_now(op)
    keep = _carried(state)
    items = op.items + ([A.Assign(None, A.Name(keep))] if keep else [])
    return [*pre, A.Project(items)], state


def _project_away(
    rw: Rewriter, op: A.ProjectAway, state: str, before: list[A.Node]
) -> tuple[list[A.Node], str]:
    keep = _carried(state)
    if keep and any(_wildcard(p).match(keep) for p in op.patterns):
        raise NotRewritable(f"project-away {', '.join(op.patterns)} (it would drop the window column)")
    return [op], state


def _project_keep(
    rw: Rewriter, op: A.ProjectKeep, state: str, before: list[A.Node]
) -> tuple[list[A.Node], str]:
    keep = _carried(state)
    return [A.ProjectKeep([*op.patterns, keep]) if keep else op], state


def _project_rename(
    rw: Rewriter, op: A.ProjectRename, state: str, before: list[A.Node]
) -> tuple[list[A.Node], str]:
    if any(n.startswith(_RESERVED) or o.startswith(_RESERVED) for n, o in op.pairs):
        raise NotRewritable("project-rename of a __hv_* column (reserved for the rewrite)")
    return [op], state


def _passthrough(rw: Rewriter, op: Any, state: str, before: list[A.Node]) -> tuple[list[A.Node], str]:
    """sort, project-reorder, render: neither filter nor group rows."""
    if rw.scan(op, _op_name(op)):
        if state == NONE:
            raise NotRewritable(f"now()/ago() in {_op_name(op)} over rows that are in every window")
        pre, state = rw.to_window(state, _op_name(op))
        return [*pre, rw.bind_now(op)], state
    return [op], state


def _summarize(rw: Rewriter, op: A.Summarize, state: str, before: list[A.Node]) -> tuple[list[A.Node], str]:
    uses_now = rw.scan(op, "summarize")
    if state == NONE:
        if uses_now:
            raise NotRewritable("now()/ago() in summarize over rows that are in every window")
        return [op], NONE
    if not op.by:
        raise NotRewritable("summarize without `by` (it yields a row even for a window without rows)")
    pre, state = rw.to_window(state, "summarize")
    op = rw.bind_now(op) if uses_now else op
    return [*pre, A.Summarize(op.aggs, [*op.by, A.Assign(None, A.Name(W))], op.options)], state


def _distinct(rw: Rewriter, op: A.Distinct, state: str, before: list[A.Node]) -> tuple[list[A.Node], str]:
    uses_now = rw.scan(op, "distinct")
    if state == NONE:
        if uses_now:
            raise NotRewritable("now()/ago() in distinct over rows that are in every window")
        return [op], NONE
    pre, state = rw.to_window(state, "distinct")
    op = rw.bind_now(op) if uses_now else op
    if any(isinstance(i, A.Star) for i in op.items):
        return [*pre, op], state
    return [*pre, A.Distinct([*op.items, A.Name(W)])], state


def _join(rw: Rewriter, op: A.Join, state: str, before: list[A.Node]) -> tuple[list[A.Node], str]:
    uses_now = rw.scan(op.on, "a join condition") or rw.scan(op.options, "join options")
    right, rstate = rw.tabular(op.right)
    if state == NONE and rstate == NONE:
        if uses_now:
            raise NotRewritable("now()/ago() in a join of rows that are in every window")
        return [replace(op, right=right)], NONE
    if state == NONE:
        raise NotRewritable("a join whose left side is in every window and right side is not")
    pre, state = rw.to_window(state, "join")
    if rstate == NONE:
        if JOIN_SYNONYMS.get(op.kind, op.kind) in RIGHT_ROW_JOINS and not op.lookup:
            raise NotRewritable(f"join kind={op.kind} with a right side that is in every window")
        return [*pre, replace(op, right=right)], state
    if rstate == TIME:
        right = _append(right, rw.expansion())
    if not op.on:
        raise NotRewritable("a join without `on`")
    key: A.Node = A.Name(W)
    if not all(isinstance(c, A.Name) for c in op.on):
        key = A.Binary("==", A.Member(A.Name("$left"), W), A.Member(A.Name("$right"), W))
    new = replace(op, right=right, on=[*op.on, key])
    after: list[A.Node] = []
    kind = JOIN_SYNONYMS.get(op.kind, op.kind)
    if not op.lookup and kind not in ONE_SIDED_JOINS:  # both sides' columns: the right's window is __hv_w1
        if kind in ("rightouter", "fullouter"):
            after.append(A.Extend([A.Assign([W], _call("coalesce", A.Name(W), A.Name(W + "1")))]))
        after.append(A.ProjectAway([W + "1"]))
    return [*pre, new, *after], state


#: Join kind spellings -> the kind they mean.
JOIN_SYNONYMS = {
    "anti": "leftanti",
    "leftantisemi": "leftanti",
    "rightantisemi": "rightanti",
    "semi": "leftsemi",
}
JOIN_SYNONYMS["outer"] = "leftouter"
#: Joins whose output has the columns of one side only.
ONE_SIDED_JOINS = frozenset({"leftsemi", "leftanti", "rightsemi", "rightanti"})
#: Joins that output right rows without a left match (those rows would lack the left's window).
RIGHT_ROW_JOINS = frozenset({"rightouter", "fullouter", "rightanti", "rightsemi"})


def _per_window(body: A.Node) -> A.Partition:
    """`partition by __hv_w (<body>)`: the engine runs `body` over each window's rows."""
    return A.Partition(W, A.Pipeline(None, [body]))


def _top(rw: Rewriter, op: A.Top, state: str, before: list[A.Node]) -> tuple[list[A.Node], str]:
    """top N by keys: per window."""
    uses_now = rw.scan(op, "top")
    if state == NONE:
        if uses_now:
            raise NotRewritable("now()/ago() in top over rows that are in every window")
        return [op], NONE
    pre, state = rw.to_window(state, "top")
    return [*pre, _per_window(rw.bind_now(op) if uses_now else op)], state


def _take(rw: Rewriter, op: A.Take, state: str, before: list[A.Node]) -> tuple[list[A.Node], str]:
    """take N: per window; right after `sort by` it is that window's top N by the sort keys."""
    if rw.scan(op, "take"):
        raise NotRewritable("now()/ago() in a take count")
    if state == NONE:
        return [op], NONE
    pre, state = rw.to_window(state, "take")
    if before and isinstance(before[-1], A.Sort):
        sort = before[-1]
        body: A.Node = A.Top(op.count, rw.bind_now(sort.keys) if rw.scan(sort, "sort") else sort.keys)
    else:
        body = op
    return [*pre, _per_window(body)], state


def _union(rw: Rewriter, op: A.UnionOp, state: str, before: list[A.Node]) -> tuple[list[A.Node], str]:
    legs, target = rw.union_legs(op.tables, state)
    pre: list[A.Node] = []
    if state == TIME and target == WINDOW:
        pre = rw.expansion()
    return [*pre, A.UnionOp(legs, op.options)], target


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$")


#: Operator node type -> its one-pass transform. An operator missing here makes the query not rewritable.
OPERATORS: dict[type, Transform] = {
    A.Where: _row_local,
    A.Extend: _row_local,
    A.Parse: _row_local,
    A.MvExpand: _row_local,
    A.Project: _project,
    A.ProjectAway: _project_away,
    A.ProjectKeep: _project_keep,
    A.ProjectRename: _project_rename,
    A.ProjectReorder: _passthrough,
    A.Sort: _passthrough,
    A.Render: _passthrough,
    A.Summarize: _summarize,
    A.Distinct: _distinct,
    A.Top: _top,
    A.Take: _take,
    A.Join: _join,
    A.UnionOp: _union,
}


# -------------------------------------------------------------------------------------------------
# running it


@dataclass(frozen=True)
class OnePassQuery:
    """A rule's query rewritten for a grid: the KQL text and the window it reads."""

    text: str
    grid: Grid


def rewrite(query: str, grid: Grid) -> OnePassQuery:
    """The one-pass KQL of `query` for `grid` (NotRewritable with the reason when it cannot be)."""
    try:
        script = parse(query)
    except KqlError as exc:
        raise NotRewritable(f"the query does not parse: {exc.message}") from None
    if script.queries != 1:
        raise NotRewritable("several queries in one rule")
    new = Rewriter(grid).script(script)
    try:
        return OnePassQuery(to_text(new), grid)
    except Unprintable as exc:
        raise NotRewritable(f"cannot print the rewritten query ({exc})") from None


def split_windows(table: pa.Table, count: int) -> dict[int, pa.Table]:
    """The one-pass result split by `__hv_w` into each window's rows (the column dropped)."""
    if W not in table.column_names:
        raise DetectError("the one-pass result has no window column")
    windows = table.column(W).cast(pa.int64())
    rest = table.drop_columns([W])
    if rest.num_rows == 0:
        return {}
    order = pc.sort_indices(windows)
    ordered = rest.take(order)
    keys = windows.take(order).to_numpy(zero_copy_only=False)
    out: dict[int, pa.Table] = {}
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            k = int(keys[start])
            if 0 <= k < count:
                out[k] = ordered.slice(start, i - start)
            start = i
    return out


class Slices:
    """A QueryRunner that answers each window with its rows from the one-pass result (no query runs)."""

    def __init__(self, grid: Grid, windows: dict[int, pa.Table], schema: pa.Schema) -> None:
        self.grid = grid
        self.windows = windows
        self.empty = schema.empty_table()

    def __call__(
        self, query: str, now: datetime, window: tuple[datetime, datetime] | None = None
    ) -> pa.Table:
        return self.windows.get(self.grid.index(now), self.empty)


def run_one_pass(
    rule: Rule, runner: QueryRunner, start: datetime, end: datetime
) -> tuple[CycleReport, MemoryAlertStore, int] | str:
    """The backtest of `rule` in one query: (cycle, alerts, 1), or why it cannot run in one pass."""
    grid = Grid.of(rule, start, end)
    if grid.count == 0:
        return "no window ends in the range"
    try:
        one = rewrite(rule.query, grid)
    except NotRewritable as exc:
        return str(exc)
    t0 = time.perf_counter()
    try:
        table = runner(one.text, end, grid.span)
    except HuntvaultError as exc:
        return f"the one-pass query failed ({exc})"
    seconds = time.perf_counter() - t0
    slices = Slices(grid, split_windows(table, grid.count), table.drop_columns([W]).schema)
    cycle, store = replay(rule, slices, start, end)
    for w in cycle.windows:  # the engine ran once: its time is the range's, not the windows'
        w.query_seconds = 0.0
    if cycle.windows:
        cycle.windows[0].query_seconds = seconds
    return cycle, store, 1


__all__ = [
    "ALL_COLUMN_FUNCTIONS",
    "NONE",
    "OPERATORS",
    "ORDER_FUNCTIONS",
    "STAR_AGGREGATES",
    "TABLE_FUNCTIONS",
    "TIME",
    "WINDOW",
    "Grid",
    "NotRewritable",
    "OnePassQuery",
    "Rewriter",
    "Slices",
    "rewrite",
    "run_one_pass",
    "split_windows",
]
