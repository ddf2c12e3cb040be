"""The planner: KQL statements and tabular expressions lowered to one sqlglot SELECT (operators are a table)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from huntvault.errors import KqlError, KqlSemanticError, KqlUnsupportedError
from huntvault.kql import ast as A
from huntvault.kql.aggregates import AGGREGATES, ARG_EXTREMES
from huntvault.kql.dialect import Dialect
from huntvault.kql.scalar import ExprCompiler, Scope
from huntvault.kql.values import (
    NOCONST,
    SQL_TYPES,
    T,
    alias,
    anon,
    col,
    convert,
    literal,
    null_of,
    to_dynamic,
    to_string,
)

if TYPE_CHECKING:
    from huntvault.kql.backends import Catalog

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


@dataclass
class Rel:
    """A lowered tabular expression: a SELECT and its output columns (name, KQL type) in order."""

    sql: exp.Select
    cols: list[tuple[str, str]]
    order: list[exp.Ordered] | None = None

    def types(self) -> dict[str, str]:
        return dict(self.cols)


@dataclass
class Binding:
    """A let binding: a lazy AST (scalar or tabular), a compiled value, a relation, or a function."""

    node: A.Node | None = None
    env: dict[str, Any] = field(default_factory=dict)
    value: T | None = None
    rel: Rel | None = None
    func: A.Lambda | None = None
    cte: Rel | None = None  # a tabular let compiled once and shared as a CTE


class Planner:
    """Turns a parsed Script into a Rel; one Planner per query (now() is fixed once here)."""

    def __init__(
        self,
        text: str,
        catalog: Catalog,
        dialect: Dialect,
        now: datetime,
        window: tuple[datetime, datetime] | None = None,
    ) -> None:
        self.text = text
        self.catalog = catalog
        self.dialect = dialect
        self.now = now
        self.window = window  # [start, end): every archive table read is restricted to it on its time column
        self.counter = 0
        self.render: dict[str, Any] | None = None
        self.ctes: dict[str, exp.Select] = {}
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    # ---------------------------------------------------------------- errors and names

    def position(self, pos: int) -> tuple[int, int]:
        line = 0
        for i, start in enumerate(self.line_starts):
            if start <= pos:
                line = i
            else:
                break
        return line + 1, pos - self.line_starts[line] + 1

    def error(self, cls: type[KqlError], msg: str, node: A.Node) -> Any:
        line, column = self.position(node.pos)
        return cls(msg, line, column, self.text)

    def error_unsupported(self, msg: str, node: A.Node) -> KqlUnsupportedError:
        return self.error(KqlUnsupportedError, msg, node)  # type: ignore[no-any-return]

    def semantic(self, msg: str, node: A.Node) -> KqlSemanticError:
        return self.error(KqlSemanticError, msg, node)  # type: ignore[no-any-return]

    def fresh(self, prefix: str = "t") -> str:
        self.counter += 1
        return f"_{prefix}{self.counter}"

    # ---------------------------------------------------------------- script

    def plan(self, script: A.Script) -> Rel:
        env: dict[str, Any] = {}
        for let in script.lets:
            env = self.bind_let(let, env)
        rel = self.relation(script.query, env)
        if self.ctes:
            sql = rel.sql
            for name, body in self.ctes.items():
                sql = sql.with_(name, as_=body, copy=False)
            rel = Rel(sql, rel.cols, rel.order)
        return rel

    def bind_let(self, let: A.Let, env: dict[str, Any]) -> dict[str, Any]:
        new = dict(env)
        if isinstance(let.value, A.Lambda):
            new[let.name] = Binding(func=let.value, env=env)
        else:
            new[let.name] = Binding(node=let.value, env=env)
        return new

    # ---------------------------------------------------------------- scopes

    def scope_of(self, rel: Rel, env: dict[str, Any], table: str | None = None) -> Scope:
        cols = {name: T(col(name, table), kind) for name, kind in rel.cols}
        return Scope(cols, env, self, order=rel.order)

    def compile(self, node: A.Node, scope: Scope) -> T:
        return ExprCompiler(scope).compile(node)

    def wrap(self, rel: Rel) -> tuple[exp.Subquery, str]:
        name = self.fresh()
        return rel.sql.subquery(name), name

    def select(self, rel: Rel, projections: list[exp.Expression]) -> exp.Select:
        sub, _ = self.wrap(rel)
        return exp.select(*projections).from_(sub, copy=False)

    def star(self, rel: Rel) -> list[exp.Expression]:
        return [col(n) for n, _ in rel.cols]

    # ---------------------------------------------------------------- bindings

    def is_tabular(self, node: A.Node, scope: Scope | None = None) -> bool:
        env = scope.env if scope else {}
        cols = scope.cols if scope else {}
        if isinstance(
            node,
            (
                A.Pipeline,
                A.Datatable,
                A.PrintSource,
                A.RangeSource,
                A.UnionSource,
                A.Externaldata,
                A.FindSource,
                A.SearchSource,
            ),
        ):
            return True
        if isinstance(node, A.Name):
            if node.name in cols:
                return False
            b = env.get(node.name)
            if isinstance(b, Binding):
                if b.rel is not None:
                    return True
                if b.value is not None:
                    return False
                if b.node is not None:
                    return self.is_tabular(b.node, Scope({}, b.env, self))
                if b.func is not None:
                    return (
                        not b.func.params and self.is_tabular(b.func.body, Scope({}, b.func_env(), self))
                        if hasattr(b, "func_env")
                        else self.lambda_is_tabular(b)
                    )
                return False
            return self.catalog.has_table(self.table_name(node.name))
        if isinstance(node, A.Call):
            low = node.name.lower()
            if low in ("materialize", "view") and node.args:
                return self.is_tabular(node.args[0], scope)
            if low == "table":
                return True
            b = env.get(node.name)
            if isinstance(b, Binding) and b.func is not None:
                return self.lambda_is_tabular(b)
            return False
        return False

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

    def scalar_binding(self, name: str, b: Binding, node: A.Node, scope: Scope) -> T:
        if b.value is not None:
            return T(b.value.sql.copy(), b.value.type, b.value.const, name)
        if b.rel is not None or (b.node is not None and self.is_tabular(b.node, Scope({}, b.env, self))):
            raise self.semantic(
                f"{name!r} is a tabular expression; it cannot be used as a scalar (use toscalar() or `in`)",
                node,
            )
        if b.func is not None:
            raise self.semantic(f"{name!r} is a function; call it with ()", node)
        assert b.node is not None
        value = self.compile(b.node, Scope({}, b.env, self))
        b.value = value
        return T(value.sql.copy(), value.type, value.const, name)

    def call_env(
        self, name: str, b: Binding, node: A.Call, scope: Scope, implicit: Rel | None = None
    ) -> dict[str, Any]:
        assert b.func is not None
        fenv = dict(b.env)
        args = list(node.args)
        params = b.func.params
        if implicit is not None and params and isinstance(params[0][1], list):
            fenv[params[0][0]] = Binding(rel=implicit)
            params = params[1:]
        if len(args) > len(params):
            raise self.semantic(f"{name}() takes {len(params)} argument(s), got {len(args)}", node)
        for i, (pname, ptype, default) in enumerate(params):
            arg = args[i] if i < len(args) else node.named.get(pname, default)
            if arg is None:
                raise self.semantic(f"{name}(): missing argument {pname!r}", node)
            if isinstance(ptype, list) or self.is_tabular(arg, scope):
                fenv[pname] = Binding(rel=self.relation(arg, scope.env))
            else:
                v = self.compile(arg, scope)
                if ptype and ptype not in (v.type, "dynamic") and v.type != "null":
                    v = convert(v, ptype)
                fenv[pname] = Binding(value=v)
        for let in b.func.lets:
            fenv = self.bind_let(let, fenv)
        return fenv

    def call_user_scalar(self, name: str, b: Binding, node: A.Call, scope: Scope) -> T:
        if b.func is None:
            raise self.semantic(f"{name!r} is not a function", node)
        fenv = self.call_env(name, b, node, scope)
        if self.is_tabular(b.func.body, Scope({}, fenv, self)):
            raise self.semantic(f"{name}() returns a table; it cannot be used as a scalar", node)
        return self.compile(b.func.body, scope.child(env=fenv))

    # ---------------------------------------------------------------- relations

    def relation(self, node: A.Node, env: dict[str, Any]) -> Rel:
        handler = SOURCES.get(type(node))
        if handler is None:
            raise self.semantic("expected a tabular expression here", node)
        return handler(self, node, env)

    def table_name(self, name: str) -> str:
        return TABLE_ALIASES.get(name, name)

    def src_name(self, node: A.Name, env: dict[str, Any]) -> Rel:
        b = env.get(node.name)
        if isinstance(b, Binding):
            if b.rel is not None:
                return Rel(b.rel.sql.copy(), list(b.rel.cols), b.rel.order)
            if b.node is not None:
                return self.shared(node.name, b, lambda: self.relation(b.node, b.env))  # type: ignore[arg-type]
            if b.func is not None and not b.func.params:
                call = A.Call(node.name, [], pos=node.pos)
                body = b.func.body
                return self.shared(
                    node.name,
                    b,
                    lambda: self.relation(body, self.call_env(node.name, b, call, Scope({}, env, self))),
                )
            raise self.semantic(f"{node.name!r} is a scalar value, not a table", node)
        return self.table(node.name, node)

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
            b.cte = Rel(
                exp.select(*[col(n) for n, _ in inner.cols]).from_(
                    exp.Table(this=exp.to_identifier(cte_name)), copy=False
                ),
                inner.cols,
            )
        return Rel(b.cte.sql.copy(), list(b.cte.cols))

    def table(self, name: str, node: A.Node) -> Rel:
        real = self.table_name(name)
        cols = self.catalog.columns(real)
        if cols is None:
            hint = self.catalog.missing_reason(real)
            raise self.semantic(f"unknown table {name!r}{hint}", node)
        sql = exp.select(*[col(n) for n, _ in cols]).from_(self.catalog.table_expr(real), copy=False)
        time_column = self.time_column(real, cols)
        if self.window is not None and time_column is not None:
            start, end = (exp.cast(exp.Literal.string(t.isoformat()), "TIMESTAMPTZ") for t in self.window)
            sql = sql.where(
                exp.and_(
                    exp.GTE(this=col(time_column), expression=start),
                    exp.LT(this=col(time_column), expression=end),
                ),
                copy=False,
            )
        return Rel(sql, list(cols))

    @staticmethod
    def time_column(name: str, cols: list[tuple[str, str]]) -> str | None:
        """The column a hunt window restricts: the schema's time column, else a datetime `Timestamp`."""
        from huntvault import schema

        table = schema.get_table(name)
        wanted = table.time_column if table is not None else "Timestamp"
        return wanted if (wanted, "datetime") in cols else None

    def src_call(self, node: A.Call, env: dict[str, Any]) -> Rel:
        low = node.name.lower()
        if low in ("materialize", "view"):
            return self.relation(node.args[0], env)
        if low == "table" and node.args and isinstance(node.args[0], A.Literal):
            return self.table(str(node.args[0].value), node)
        b = env.get(node.name)
        if isinstance(b, Binding) and b.func is not None:
            if not b.func.params and not node.args:
                body = b.func.body
                return self.shared(
                    node.name,
                    b,
                    lambda: self.relation(body, self.call_env(node.name, b, node, Scope({}, env, self))),
                )
            fenv = self.call_env(node.name, b, node, Scope({}, env, self))
            return self.relation(b.func.body, fenv)
        from huntvault.kql.functions import OFFLINE_FUNCTIONS

        if low in OFFLINE_FUNCTIONS:
            raise self.error_unsupported(f"{OFFLINE_FUNCTIONS[low]}: not available offline", node)
        raise self.semantic(f"{node.name}() is not a tabular function", node)

    def src_pipeline(self, node: A.Pipeline, env: dict[str, Any], implicit: Rel | None = None) -> Rel:
        if node.source is None:
            if implicit is None:
                raise self.semantic("this pipeline has no input", node)
            rel = implicit
        else:
            rel = self.relation(node.source, env)
        for op in node.ops:
            if isinstance(op, A.As):
                env = dict(env)
                env[op.name] = Binding(rel=rel)
                continue
            handler = OPERATORS.get(type(op))
            if handler is None:
                raise self.error_unsupported(f"the {type(op).__name__.lower()} operator is not supported", op)
            rel = handler(self, rel, op, env)
        return rel

    def src_datatable(self, node: A.Datatable, env: dict[str, Any]) -> Rel:
        ncols = len(node.columns)
        if ncols == 0 or len(node.values) % ncols:
            raise self.semantic(f"datatable has {len(node.values)} values for {ncols} columns", node)
        scope = Scope({}, env, self)
        rows: list[exp.Expression] = []
        for r in range(0, len(node.values), ncols):
            cells = []
            for cdecl, vnode in zip(node.columns, node.values[r : r + ncols], strict=True):
                v = self.compile(vnode, scope)
                cells.append(alias(self.coerce_literal(v, cdecl.type).sql, cdecl.name))
            rows.append(exp.select(*cells))
        cols = [(c.name, c.type) for c in node.columns]
        if not rows:
            empty = exp.select(*[alias(null_of(t).sql, n) for n, t in cols]).where(exp.false(), copy=False)
            return Rel(empty, cols)
        query: exp.Query = rows[0]  # type: ignore[assignment]
        for r2 in rows[1:]:
            query = exp.union(query, r2, distinct=False)  # type: ignore[assignment]
        if isinstance(query, exp.Select):
            return Rel(query, cols)
        return Rel(
            exp.select(*[col(n) for n, _ in cols]).from_(query.subquery(self.fresh()), copy=False), cols
        )

    def coerce_literal(self, v: T, kind: str) -> T:
        if v.type == kind or (kind in ("long", "int") and v.type in ("long", "int")):
            return v
        if v.type == "null" or (v.is_const and v.const is None):
            return null_of(kind)
        if kind in ("real", "decimal") and v.type in ("long", "int"):
            return T(exp.Cast(this=v.sql, to=exp.DataType.build("DOUBLE")), "real")
        return convert(v, kind)

    def src_print(self, node: A.PrintSource, env: dict[str, Any]) -> Rel:
        scope = Scope({}, env, self)
        items, cols = [], []
        for i, (name, expr) in enumerate(node.items):
            v = self.compile(expr, scope)
            out = name or (expr.name if isinstance(expr, A.Name) else f"print_{i}")
            items.append(alias(v.sql, out))
            cols.append((out, v.type if v.type != "null" else "string"))
        return Rel(exp.select(*items), cols)

    def src_range(self, node: A.RangeSource, env: dict[str, Any]) -> Rel:
        scope = Scope({}, env, self)
        start, stop, step = (self.compile(n, scope) for n in (node.start, node.stop, node.step))
        d = self.dialect
        if start.type == "datetime":
            n = exp.Div(
                this=exp.Sub(this=d.epoch_us(stop.sql), expression=d.epoch_us(start.sql)), expression=step.sql
            )
            gen = anon(
                "range",
                exp.Literal.number(0),
                exp.Add(
                    this=exp.Cast(this=anon("floor", n), to=exp.DataType.build("BIGINT")),
                    expression=exp.Literal.number(1),
                ),
            )
            value = d.add_micros(start.sql, exp.Mul(this=col("i"), expression=step.sql))
            sql = exp.select(alias(value, node.column)).from_(d.integers(*gen.expressions))
            return Rel(sql, [(node.column, "datetime")])
        kind = (
            "real"
            if "real" in (start.type, stop.type, step.type)
            else ("timespan" if start.type == "timespan" else "long")
        )
        if kind == "real":
            n = exp.Div(this=exp.Sub(this=stop.sql, expression=start.sql), expression=step.sql)
            gen = anon(
                "range",
                exp.Literal.number(0),
                exp.Add(
                    this=exp.Cast(this=anon("floor", n), to=exp.DataType.build("BIGINT")),
                    expression=exp.Literal.number(1),
                ),
            )
            value = exp.Add(this=start.sql, expression=exp.Mul(this=col("i"), expression=step.sql))
            sql = exp.select(alias(value, node.column)).from_(d.integers(*gen.expressions))
            return Rel(sql, [(node.column, "real")])
        gen = anon("range", start.sql, exp.Add(this=stop.sql, expression=exp.Literal.number(1)), step.sql)
        sql = exp.select(alias(exp.Cast(this=col("i"), to=exp.DataType.build("BIGINT")), node.column)).from_(
            d.integers(*gen.expressions)
        )
        return Rel(sql, [(node.column, kind)])

    def src_union(self, node: A.UnionSource, env: dict[str, Any]) -> Rel:
        return self.union_of(node.tables, node.options, env, None, node)

    def expand_tables(
        self, tables: list[A.Node], fuzzy: bool, env: dict[str, Any]
    ) -> list[tuple[str, A.Node]]:
        out: list[tuple[str, A.Node]] = []
        for t in tables:
            if isinstance(t, A.Name) and "*" in t.name:
                for name in self.catalog.table_names():
                    if fnmatch.fnmatchcase(name, t.name):
                        out.append((name, A.Name(name, pos=t.pos)))
                continue
            if (
                fuzzy
                and isinstance(t, A.Name)
                and t.name not in env
                and not self.catalog.has_table(self.table_name(t.name))
            ):
                continue
            label = t.name if isinstance(t, A.Name) else "union_arg" + str(len(out))
            out.append((label, t))
        return out

    def union_of(
        self,
        tables: list[A.Node],
        options: dict[str, A.Node],
        env: dict[str, Any],
        first: Rel | None,
        node: A.Node,
    ) -> Rel:
        fuzzy = _opt_bool(options.get("isfuzzy"))
        kind = _opt_name(options.get("kind")) or "outer"
        source_col = _opt_name(options.get("withsource"))
        rels: list[tuple[str, Rel]] = []
        if first is not None:
            rels.append(("", first))
        for label, t in self.expand_tables(tables, fuzzy, env):
            try:
                rels.append((label, self.relation(t, env)))
            except KqlSemanticError:
                if not fuzzy:
                    raise
        if not rels:
            raise self.semantic("union has no tables to read", node)
        return self.union_rels(rels, kind, source_col)

    def union_rels(self, rels: list[tuple[str, Rel]], kind: str, source_col: str | None) -> Rel:
        names: list[str] = []
        types: dict[str, set[str]] = {}
        for _, r in rels:
            for n, t in r.cols:
                if n not in types:
                    names.append(n)
                    types[n] = set()
                types[n].add(t)
        if kind == "inner":
            common = set.intersection(*[{n for n, _ in r.cols} for _, r in rels])
            names = [n for n in names if n in common]
        out_cols: list[tuple[str, str, str]] = []  # output name, source name, type
        for n in names:
            ts = types[n]
            if len(ts) == 1:
                out_cols.append((n, n, next(iter(ts))))
            else:
                for t in sorted(ts):
                    out_cols.append((f"{n}_{t}", n, t))
        selects: list[exp.Expression] = []
        for label, r in rels:
            rtypes = r.types()
            proj: list[exp.Expression] = []
            if source_col:
                proj.append(alias(exp.Literal.string(label), source_col))
            for out, src, t in out_cols:
                if rtypes.get(src) == t:
                    proj.append(alias(col(src), out))
                else:
                    proj.append(alias(null_of(t).sql, out))
            selects.append(self.select(r, proj))
        query: exp.Query = selects[0]  # type: ignore[assignment]
        for s in selects[1:]:
            query = exp.union(query, s, distinct=False)  # type: ignore[assignment]
        cols = ([(source_col, "string")] if source_col else []) + [(o, t) for o, _, t in out_cols]
        if isinstance(query, exp.Select):
            return Rel(query, cols)
        return Rel(
            exp.select(*[col(n) for n, _ in cols]).from_(query.subquery(self.fresh()), copy=False), cols
        )

    def src_externaldata(self, node: A.Externaldata, env: dict[str, Any]) -> Rel:
        from huntvault.kql.external import externaldata

        return externaldata(self, node, env)

    def src_find(self, node: A.FindSource, env: dict[str, Any]) -> Rel:
        from huntvault.kql.search import find

        return find(self, node, env)

    def src_search(self, node: A.SearchSource, env: dict[str, Any]) -> Rel:
        from huntvault.kql.search import search_source

        return search_source(self, node, env)

    # ---------------------------------------------------------------- aggregates

    def aggregate_call(self, c: ExprCompiler, node: A.Call) -> T:
        low = node.name.lower()
        if low in ARG_EXTREMES:
            raise self.semantic(f"{node.name}() must be the whole aggregate expression", node)
        inner = c.scope.child(aggregates=None)
        args = [ExprCompiler(inner).compile(a) for a in node.args if not isinstance(a, A.Star)]
        v = AGGREGATES[low].lower(c, args)
        if c.scope.aggregates is not None:
            c.scope.aggregates.append(node)
        return v


def ident_(name: str) -> exp.Identifier:
    return exp.to_identifier(name)


def _opt_bool(node: A.Node | None) -> bool:
    if isinstance(node, A.Literal):
        return bool(node.value)
    if isinstance(node, A.Name):
        return node.name.lower() == "true"
    return False


def _opt_name(node: A.Node | None) -> str | None:
    if isinstance(node, A.Name):
        return node.name
    if isinstance(node, A.Literal) and isinstance(node.value, str):
        return node.value
    return None


SOURCES: dict[type, Callable[[Planner, Any, dict[str, Any]], Rel]] = {
    A.Name: Planner.src_name,
    A.Call: Planner.src_call,
    A.Pipeline: Planner.src_pipeline,
    A.Datatable: Planner.src_datatable,
    A.PrintSource: Planner.src_print,
    A.RangeSource: Planner.src_range,
    A.UnionSource: Planner.src_union,
    A.Externaldata: Planner.src_externaldata,
    A.FindSource: Planner.src_find,
    A.SearchSource: Planner.src_search,
}

from huntvault.kql.operators import OPERATORS  # noqa: E402  (the operator table needs Planner defined)

__all__ = [
    "NOCONST",
    "OPERATORS",
    "SOURCES",
    "SQL_TYPES",
    "Binding",
    "Planner",
    "Rel",
    "literal",
    "to_dynamic",
    "to_string",
]
