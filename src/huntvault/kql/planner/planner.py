"""The planner: a parsed Script lowered to one sqlglot SELECT (lets as CTEs, tables restricted to the window).

Statements, bindings, the core sources (names, calls, pipelines) and archive tables live here; every
operator, other source, function and plugin is an entry of `registry`, written against `ir.Planner`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from sqlglot import exp

from huntvault.errors import KqlError, KqlLimitError, KqlSemanticError, KqlUnsupportedError
from huntvault.kql import ast as A
from huntvault.kql import registry
from huntvault.kql.dialects import Dialect
from huntvault.kql.ir import Aggregate, Binding, Catalog, Columns, Env, Function, Plugin, Rel, Scope, Window
from huntvault.kql.limits import Budget
from huntvault.kql.planner.compiler import LOWERING_FAILURES, ExprCompiler
from huntvault.kql.planner.filters import FROM_KEY, WITH_KEY, below_extend, null_rejecting
from huntvault.kql.values import T, cast_expr, col, convert, literal, null_of

#: Legacy MDATP table names still found in hunting queries.
TABLE_ALIASES: dict[str, str] = {
    "ProcessCreationEvents": "DeviceProcessEvents",
    "NetworkCommunicationEvents": "DeviceNetworkEvents",
    "FileCreationEvents": "DeviceFileEvents",
    "RegistryEvents": "DeviceRegistryEvents",
    "LogonEvents": "DeviceLogonEvents",
    "ImageLoadEvents": "DeviceImageLoadEvents",
    "MiscEvents": "DeviceEvents",
    "MachineInfo": "DeviceInfo",
    "MachineNetworkInfo": "DeviceNetworkInfo",
}

#: tabular nodes that are sources whatever their content
_TABULAR = (
    A.Pipeline,
    A.Datatable,
    A.PrintSource,
    A.RangeSource,
    A.UnionSource,
    A.Externaldata,
    A.FindSource,
    A.SearchSource,
)


def sql_nesting(root: exp.Expression, ctes: dict[str, int]) -> int:
    """SELECTs nested in `root` (a CTE reference counts the CTE's own nesting), without recursion."""
    best = 0
    stack: list[tuple[exp.Expression, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, exp.Select):
            depth += 1
        elif isinstance(node, exp.Table) and node.name in ctes:
            depth += ctes[node.name]
        best = max(best, depth)
        stack.extend((child, depth) for child in node.iter_expressions())
    return best


#: how many extends a where goes below, and the size (SQL nodes) its condition may grow to on the way
PUSH_DEPTH = 8
PUSH_SIZE = 400


def _size(e: exp.Expression) -> int:
    return sum(1 for _ in e.walk())


def used_ctes(root: exp.Expression, ctes: dict[str, exp.Select]) -> set[str]:
    """The CTEs `root` reads, directly or through other CTEs (a let folded into a constant, such as a
    has_any list computed at compile time, leaves its CTE unread: the engine need not bind it)."""
    used: set[str] = set()
    stack = [root]
    while stack:
        for table in stack.pop().find_all(exp.Table):
            if table.name in ctes and table.name not in used:
                used.add(table.name)
                stack.append(ctes[table.name])
    return used


def _plain(e: exp.Expression) -> bool:
    """A projection that only passes columns through (`*`, `"a"` or `"a" AS "a"`)."""
    if isinstance(e, exp.Star):
        return not any(e.args.get(k) for k in ("except", "replace", "rename"))
    if isinstance(e, exp.Alias) and isinstance(e.this, exp.Column):
        return not e.this.table and e.this.name == e.alias
    return isinstance(e, exp.Column) and not e.table


#: SELECT parts after which a filter can no longer join the WHERE
_AFTER_WHERE = (
    "group",
    "having",
    "limit",
    "offset",
    "order",
    "distinct",
    "qualify",
    WITH_KEY,
    "joins",
    "laterals",
)


def _simple(sql: exp.Select) -> bool:
    """A SELECT of plain columns from one source, nothing after the WHERE: a filter can join its WHERE."""
    if any(sql.args.get(k) for k in _AFTER_WHERE) or not isinstance(sql.args.get(FROM_KEY), exp.From):
        return False
    return all(_plain(e) for e in sql.expressions)


class Planner:
    """Turns a parsed Script into a Rel; one Planner per query (now() is fixed once here)."""

    def __init__(
        self,
        text: str,
        catalog: Catalog,
        dialect: Dialect,
        now: datetime,
        window: Window | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.text = text
        self.catalog = catalog
        self.dialect = dialect
        self.now = now
        self.window = window
        self.budget = budget or Budget()
        self.counter = 0
        self.render: dict[str, object] | None = None
        self.ctes: dict[str, exp.Select] = {}
        #: the query's last operator when it is fork / facet: the one place several tables may come from
        self.last_op: A.Node | None = None
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    # ---------------------------------------------------------------- errors, names, budget

    def position(self, pos: int) -> tuple[int, int]:
        line = 0
        for i, start in enumerate(self.line_starts):
            if start > pos:
                break
            line = i
        return line + 1, pos - self.line_starts[line] + 1

    def semantic(self, msg: str, node: A.Node) -> KqlSemanticError:
        return KqlSemanticError(msg, *self.position(node.pos), self.text)

    def unsupported(self, msg: str, node: A.Node) -> KqlUnsupportedError:
        return KqlUnsupportedError(msg, *self.position(node.pos), self.text)

    def checkpoint(self) -> None:
        self.budget.check()

    def fresh(self, prefix: str = "t") -> str:
        self.counter += 1
        return f"_{prefix}{self.counter}"

    # ---------------------------------------------------------------- the tables

    def function(self, name: str) -> Function | None:
        return registry.FUNCTIONS.get(name.lower())

    def aggregate(self, name: str) -> Aggregate | None:
        return registry.AGGREGATES.get(name.lower())

    def plugin(self, name: str) -> Plugin | None:
        return registry.PLUGINS.get(name.lower())

    def offline(self, name: str) -> str | None:
        entry = registry.OFFLINE.get(name.lower())
        return entry.reason if entry is not None else None

    # ---------------------------------------------------------------- script

    def plan(self, script: A.Script) -> Rel:
        env: Env = {}
        for let in script.lets:
            env = self.bind_let(let, env)
        query = script.query
        if isinstance(query, A.Pipeline):
            # a trailing `render` only presents the result: fork/facet before it are still the last operator
            ops = list(query.ops)
            while ops and isinstance(ops[-1], A.Render):
                ops.pop()
            if ops and isinstance(ops[-1], A.Fork | A.Facet):
                self.last_op = ops[-1]
        rel = self.relation(script.query, env)
        depths: dict[str, int] = {}
        for name, body in self.ctes.items():
            depths[name] = sql_nesting(body, depths)
        depth = sql_nesting(rel.sql, depths)
        if depth > self.budget.bounds.max_sql_depth:
            raise KqlLimitError(
                f"the query lowers to SQL {depth} SELECTs deep (operators in a row, chained lets, joins); "
                f"the maximum is {self.budget.bounds.max_sql_depth}; see docs/kql.md, Limits",
                1,
                1,
                self.text,
            )
        if self.ctes:
            if rel.results is not None:  # every table of fork / facet reads the CTEs
                results = [(n, Rel(self._with_ctes(r.sql), r.cols, r.order)) for n, r in rel.results]
                return Rel(results[0][1].sql, rel.cols, rel.order, results=results)
            rel = Rel(self._with_ctes(rel.sql), rel.cols, rel.order)
        return rel

    def _with_ctes(self, sql: exp.Select) -> exp.Select:
        """`sql` with the CTEs it reads (a CTE no table reads, such as a let folded into a constant list,
        is left out)."""
        used = used_ctes(sql, self.ctes)
        for name, body in self.ctes.items():
            if name in used:
                sql = sql.with_(name, as_=body, copy=False)
        return sql

    def bind_let(self, let: A.Let, env: Env) -> Env:
        new = dict(env)
        if isinstance(let.value, A.Lambda):
            new[let.name] = Binding(func=let.value, env=env)
        else:
            new[let.name] = Binding(node=let.value, env=env)
        return new

    # ---------------------------------------------------------------- scopes and scalars

    def scope_of(self, rel: Rel, env: Env, table: str | None = None) -> Scope:
        return Scope(Columns(rel.cols, table), env, self, order=rel.order)

    def compile(self, node: A.Node, scope: Scope) -> T:
        return ExprCompiler(scope).compile(node)

    def is_tabular(self, node: A.Node, scope: Scope | None = None) -> bool:
        env = scope.env if scope else {}
        cols = scope.cols if scope else {}
        while True:  # a chain of lets naming lets is followed without recursion
            if isinstance(node, _TABULAR):
                return True
            if isinstance(node, A.Call):
                low = node.name.lower()
                if low in ("materialize", "view") and node.args:
                    node = node.args[0]
                    continue
                if low == "table":
                    return True
                b = env.get(node.name)
                if b is not None and isinstance(b.node, A.Pattern):
                    return True
                return b is not None and b.func is not None and self.lambda_is_tabular(b)
            if isinstance(node, (A.Member, A.Index)) and self.pattern_call(node, env) is not None:
                return True
            if not isinstance(node, A.Name):
                return False
            if node.name in cols:
                return False
            b = env.get(node.name)
            if b is None:
                return self.catalog.columns(self.table_name(node.name)) is not None
            if b.rel is not None:
                return True
            if b.value is not None:
                return False
            if b.node is not None:
                node, env, cols = b.node, b.env, {}
                continue
            return b.func is not None and self.lambda_is_tabular(b)

    def lambda_is_tabular(self, b: Binding) -> bool:
        assert b.func is not None
        fenv = dict(b.env)
        for name, ptype, _ in b.func.params:
            if isinstance(ptype, list):
                fenv[name] = Binding(rel=Rel(exp.select(exp.Null()), [(c.name, c.type) for c in ptype]))
            else:
                fenv[name] = Binding(value=null_of(ptype or "string"))
        for let in b.func.lets:
            fenv = self.bind_let(let, fenv)
        return self.is_tabular(b.func.body, Scope({}, fenv, self))

    def call_env(self, name: str, b: Binding, node: A.Call, scope: Scope, implicit: Rel | None = None) -> Env:
        assert b.func is not None
        fenv = dict(b.env)
        args = list(node.args)
        params = b.func.params
        if implicit is not None and params and isinstance(params[0][1], list):
            fenv[params[0][0]] = Binding(rel=implicit)
            params = params[1:]
        if len(args) + len(node.named) > len(params):
            raise self.semantic(
                f"{name}() takes {len(params)} argument(s), got {len(args) + len(node.named)}", node
            )
        unknown = sorted(set(node.named) - {pname for pname, _, _ in params})
        if unknown:
            raise self.semantic(f"{name}() has no parameter {unknown[0]!r}", node)
        positional = iter(args)  # positional arguments fill the parameters not given by name, in order
        for pname, ptype, default in params:
            arg = node.named[pname] if pname in node.named else next(positional, default)
            if arg is None:
                raise self.semantic(f"{name}(): missing argument {pname!r}", node)
            if isinstance(ptype, list) or self.is_tabular(arg, scope):
                fenv[pname] = Binding(rel=self.relation(arg, scope.env))
            else:
                v = self.compile(arg, scope)
                if ptype and ptype not in (v.type, "dynamic") and v.type != "null":
                    const = v.const
                    v = convert(v, ptype)
                    if ptype in ("real", "long", "int") and _number(const):
                        # a constant argument stays a constant (percentiles(x, p) with p a parameter)
                        assert isinstance(const, int | float)
                        v = literal(float(const) if ptype == "real" else int(const), ptype)
                fenv[pname] = Binding(value=v)
        for let in b.func.lets:
            fenv = self.bind_let(let, fenv)
        return fenv

    # ---------------------------------------------------------------- relations

    def relation(self, node: A.Node, env: Env) -> Rel:
        self.checkpoint()
        core = CORE_SOURCES.get(type(node))
        if core is not None:
            return core(self, node, env)
        entry = registry.SOURCES.get(type(node))
        if entry is None:
            raise self.semantic("expected a tabular expression here", node)
        lower = entry.spark if entry.spark is not None and self.dialect.name == "spark" else entry.lower
        return lower(self, node, env)

    def table_name(self, name: str) -> str:
        return TABLE_ALIASES.get(name, name)

    def src_name(self, node: A.Node, env: Env) -> Rel:
        assert isinstance(node, A.Name)
        b = env.get(node.name)
        if b is None:
            return self.table(node.name, node)
        if b.rel is not None:
            return Rel(b.rel.sql.copy(), list(b.rel.cols), b.rel.order)
        if b.node is not None:
            value = b.node
            return self.shared(node.name, b, lambda: self.relation(value, b.env))
        if b.func is not None and not b.func.params:
            call = A.Call(node.name, [], pos=node.pos)
            body = b.func.body
            return self.shared(
                node.name,
                b,
                lambda: self.relation(body, self.call_env(node.name, b, call, Scope({}, env, self))),
            )
        raise self.semantic(f"{node.name!r} is a scalar value, not a table", node)

    def discover(self, query: exp.Select) -> list[str]:
        """Run a small first query (bag keys, pivot values, partition values) with the CTEs defined so far."""
        sql = query.copy()
        for name, body in self.ctes.items():
            sql = sql.with_(name, as_=body.copy(), copy=False)
        return self.catalog.discover(self.dialect.render(sql))

    def shared(self, name: str, b: Binding, build: Callable[[], Rel]) -> Rel:
        """A tabular let (or a view without parameters) is lowered once, as a CTE every reference reads."""
        if b.cte is None:
            inner = build()
            cte_name = self.fresh("let_" + re.sub(r"\W", "_", name))
            self.ctes[cte_name] = inner.sql
            source = exp.Table(this=exp.to_identifier(cte_name))
            b.cte = Rel(
                exp.select(*[col(n) for n, _ in inner.cols]).from_(source, copy=False),
                inner.cols,
                graph=inner.graph,  # `let g = T | make-graph ...;` keeps its graph for g's graph operators
            )
        return Rel(b.cte.sql.copy(), list(b.cte.cols), graph=b.cte.graph)

    def table(self, name: str, node: A.Node) -> Rel:
        """An archive table, restricted to the planner's window when there is one."""
        real = self.table_name(name)
        cols = self.catalog.columns(real)
        if cols is None:
            hint = self.catalog.missing_reason(real)
            raise self.semantic(f"unknown table {name!r}{hint}", node)
        sql = exp.select(*[col(n) for n, _ in cols]).from_(self.catalog.table_expr(real), copy=False)
        if self.window is not None:
            restriction = self.window_restriction(real, dict(cols))
            if restriction is not None:
                sql = sql.where(restriction, copy=False)
        return Rel(sql, list(cols))

    def window_restriction(self, table: str, cols: dict[str, str]) -> exp.Expression | None:
        """`time >= start and time < end` (and the catalog's partition filter) for one table."""
        assert self.window is not None
        tcol = self.catalog.time_column(table)
        if tcol is None or cols.get(tcol) != "datetime":
            return None
        conds: list[exp.Expression] = []
        skip = self.catalog.window_filter(table, self.window)
        if skip is not None:
            conds.append(skip)
        conds.append(exp.GTE(this=col(tcol), expression=literal(self.window.start, "datetime").sql))
        conds.append(exp.LT(this=col(tcol), expression=literal(self.window.end, "datetime").sql))
        return cast_expr(exp.and_(*conds, copy=False))

    def src_call(self, node: A.Node, env: Env) -> Rel:
        assert isinstance(node, A.Call)
        low = node.name.lower()
        if low in ("materialize", "view") and node.args:
            return self.relation(node.args[0], env)
        if low == "table" and node.args and isinstance(node.args[0], A.Literal):
            return self.table(str(node.args[0].value), node)
        b = env.get(node.name)
        if b is not None and isinstance(b.node, A.Pattern):
            return self.src_pattern(node, env)
        if b is not None and b.func is not None:
            if not b.func.params and not node.args:
                body = b.func.body
                return self.shared(
                    node.name,
                    b,
                    lambda: self.relation(body, self.call_env(node.name, b, node, Scope({}, env, self))),
                )
            fenv = self.call_env(node.name, b, node, Scope({}, env, self))
            return self.relation(b.func.body, fenv)
        offline = registry.OFFLINE.get(low)
        if offline is not None:
            raise self.unsupported(f"{offline.reason}: not available offline", node)
        raise self.semantic(f"{node.name}() is not a tabular function", node)

    def pattern_call(self, node: A.Node, env: Env) -> tuple[A.Call, A.Pattern, Env] | None:
        """`P(args)`, `P(args).path` or `P(args)["path"]` of a declared pattern P."""
        call = node.obj if isinstance(node, (A.Member, A.Index)) else node
        if not isinstance(call, A.Call):
            return None
        b = env.get(call.name)
        if b is None or not isinstance(b.node, A.Pattern):
            return None
        return call, b.node, b.env

    def src_pattern(self, node: A.Node, env: Env) -> Rel:
        """The body of the pattern rule whose values (and path) match the invocation's constants."""
        found = self.pattern_call(node, env)
        if found is None:
            raise self.semantic("expected a tabular expression here", node)
        call, pattern, penv = found
        scope = Scope({}, env, self)
        values = []
        for arg in call.args:
            v = self.compile(arg, scope)
            if not v.is_const:
                raise self.semantic(f"{call.name}(): pattern arguments must be constants", arg)
            values.append(str(v.const))
        if len(values) != len(pattern.params):
            raise self.semantic(
                f"{call.name}() takes {len(pattern.params)} argument(s), got {len(values)}", call
            )
        path: str | None = None
        if isinstance(node, A.Member):
            path = node.name
        elif isinstance(node, A.Index):
            key = self.compile(node.index, scope)
            path = str(key.const) if key.is_const else None
        if pattern.has_path and path is None:
            raise self.semantic(f'{call.name}(...) needs a path (.name or ["name"])', node)
        for rule in pattern.rules:
            if all(r in ("*", v) for r, v in zip(rule.values, values, strict=True)) and (
                not pattern.has_path or rule.path in ("*", path)
            ):
                return self.relation(rule.body, penv)
        where = f"({', '.join(repr(v) for v in values)})" + (f".{path}" if path else "")
        raise self.semantic(f"pattern {call.name} has no rule for {where}", node)

    def src_pipeline(self, node: A.Node, env: Env) -> Rel:
        assert isinstance(node, A.Pipeline)
        return self.pipeline(node, env)

    def pipeline(self, node: A.Pipeline, env: Env, implicit: Rel | None = None) -> Rel:
        if node.source is None:
            if implicit is None:
                raise self.semantic("this pipeline has no input", node)
            rel = implicit
        else:
            rel = self.relation(node.source, env)
        pushed: A.Node | None = None
        for i, op in enumerate(node.ops):
            self.checkpoint()
            if op is pushed:  # already applied to the join's left side
                continue
            nxt = node.ops[i + 1] if i + 1 < len(node.ops) else None
            if isinstance(op, A.Join) and isinstance(nxt, A.Where) and _left_only(op, nxt, rel, env):
                # Kusto pushes a filter on the left's columns below an innerunique join, so it
                # picks the surviving left row per key (the join-innerunique page's example)
                rel = self.pipeline(A.Pipeline(None, [nxt], pos=nxt.pos), env, implicit=rel)
                pushed = nxt
            if isinstance(op, A.Fork | A.Facet) and op is not self.last_op:
                raise self.semantic(
                    "fork and facet must be the query's last operator (their tables cannot be used by "
                    "another operator, a let, a join or a function)",
                    op,
                )
            entry = registry.OPERATORS.get(type(op))
            if entry is None:
                raise self.unsupported(f"the {type(op).__name__.lower()} operator is not supported", op)
            lower = entry.spark if entry.spark is not None and self.dialect.name == "spark" else entry.lower
            try:
                rel = lower(self, rel, op, env)
            except KqlError:
                raise
            except LOWERING_FAILURES as exc:
                raise self.semantic(
                    f"internal error lowering this operator: {type(exc).__name__}: {exc}", op
                ) from None
            if isinstance(op, A.As):  # `as name`: the rows so far are a table for the rest of the query
                env = {**env, op.name: Binding(rel=rel)}
        return rel

    # ---------------------------------------------------------------- SQL building

    def wrap(self, rel: Rel) -> tuple[exp.Subquery, str]:
        name = self.fresh()
        return rel.sql.subquery(name, copy=False), name

    def select(self, rel: Rel, projections: list[exp.Expression]) -> exp.Select:
        sub, _ = self.wrap(rel)
        return exp.select(*projections).from_(sub, copy=False)

    def star(self, rel: Rel) -> list[exp.Expression]:
        """All of rel's columns, as they are (`*`: rel's SQL has exactly rel.cols, in order)."""
        return [exp.Star()]

    def filter(self, rel: Rel, cond: exp.Expression) -> exp.Select:
        """The rows of `rel` where `cond` holds: joined to rel's own WHERE when rel is a plain column
        SELECT (one SELECT level less per `where`), else a SELECT over it. `rel` is left as it was
        (a new SELECT shares its parts), so a relation bound with `as` keeps its rows.

        Below extends of new columns the filter goes first (`below_extend`), at most PUSH_DEPTH of them
        and while the condition stays small, so a long pipeline still compiles in linear time."""
        return self._filter(rel, null_rejecting(cond), PUSH_DEPTH)

    def _filter(self, rel: Rel, cond: exp.Expression, pushes: int) -> exp.Select:
        below = below_extend(rel, cond) if pushes > 0 else None
        if below is not None:  # filter first, then compute the extend's columns
            inner, moved, rebuild = below
            if _size(moved) <= max(PUSH_SIZE, 2 * _size(cond)):
                return rebuild(self._filter(inner, null_rejecting(moved), pushes - 1))
        sql = rel.sql
        if not _simple(sql) or cond.find(exp.Window) is not None:
            return self.select(rel, self.star(rel)).where(cond, copy=False)
        where = sql.args.get("where")
        both = exp.and_(where.this, exp.Paren(this=cond), copy=False) if where is not None else cond
        return exp.Select(**{**sql.args, "where": exp.Where(this=both)})


#: the sources the planner itself lowers (let names, calls of functions and views, pipelines)
CORE_SOURCES: dict[type[A.Node], Callable[[Planner, A.Node, Env], Rel]] = {
    A.Name: Planner.src_name,
    A.Call: Planner.src_call,
    A.Pipeline: Planner.src_pipeline,
    A.Member: Planner.src_pattern,
    A.Index: Planner.src_pattern,
}


#: calls whose value depends on the rows around (a filter using them cannot move below a join)
_ROW_DEPENDENT = frozenset(
    {"row_number", "row_cumsum", "row_rank_dense", "row_rank_min", "prev", "next", "rand"}
)


def _left_only(join: A.Join, where: A.Where, left: Rel, env: Env) -> bool:
    """Whether `where` right after an innerunique join reads only the left side's columns (or lets)."""
    if join.kind != "innerunique" or join.lookup:
        return False
    names = {n for n, _ in left.cols}
    for item in A.walk(where.predicate):
        if isinstance(item, A.Pipeline) or (isinstance(item, A.Call) and item.name.lower() in _ROW_DEPENDENT):
            return False
        if isinstance(item, A.Name) and item.name not in names and item.name not in env:
            return False
    return True


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
