"""scan: a state machine over the serialized rows, as one recursive SQL query (a row per step of the
recursion: the state of every step, then the records each step outputs for that row).

Kusto's rules, for each row and each step s_k from the last to the first: (1) when s_(k-1) has an active
sequence and the row meets s_k's condition (given s_(k-1)'s state), s_(k-1)'s state moves to s_k, extended
by the row and s_k's assignments, and the row is output (unless `output=none`); otherwise (2) when s_k has
an active sequence, or is the first step, and the row meets its condition (given s_k's state), s_k's own
record is replaced by the extended row and the row is output (`output=all`); a first step without an
active sequence starts a new one (the match id grows by one). `sJ.x` reads the state's record of step J
(a declared variable's default, or null, when that state is empty)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, operator
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import parse_expr
from huntvault.kql.values import SQL_TYPES, alias, as_bool, col, convert, dtype, null_of


def parse_scan(c: Cursor, t: Token) -> A.Node:
    match_id = None
    declares: list[tuple[str, str, A.Node | None]] = []
    while True:
        if c.accept_word("with_match_id"):
            c.expect("=")
            match_id = c.identifier("a column name for the match id")
        elif c.accept_word("declare"):
            c.expect("(")
            while not c.at(")"):
                name = c.identifier("a variable name")
                c.expect(":", "':' and a type")
                kind = c.type_name()
                default = parse_expr(c) if c.accept("=") else None
                declares.append((name, kind, default))
                if not c.accept(","):
                    break
            c.expect(")")
        else:
            break
    c.expect_word("with")
    c.expect("(")
    steps: list[A.ScanStep] = []
    while not c.at(")"):
        at = c.expect_word("step")
        name = c.identifier("a step name")
        if c.accept_word("optional"):
            raise c.error("optional scan steps are not supported", at)
        output = "all"
        if c.accept_word("output"):
            c.expect("=")
            word = c.identifier("all, last or none").lower()
            if word not in ("all", "last", "none"):
                raise c.error(f"output={word}: expected all, last or none", at)
            output = word
        c.expect(":")
        cond = parse_expr(c)
        assigns: list[tuple[str, A.Node]] = []
        if c.accept("=>"):
            while True:
                target = c.identifier("a declared variable")
                c.expect("=")
                assigns.append((target, parse_expr(c)))
                if not c.accept(","):
                    break
        steps.append(A.ScanStep(name, output, cond, assigns, pos=at.pos))
        if not c.accept(";"):
            break
    c.expect(")")
    if not steps:
        raise c.error("scan needs at least one step", t)
    return A.Scan(match_id, declares, steps, pos=t.pos)


def _refs(node: Any, steps: dict[str, int]) -> Any:
    """The expression with `sJ.x` turned into the name `__ref_J_x` (columns the layer provides)."""
    if isinstance(node, A.Member) and isinstance(node.obj, A.Name) and node.obj.name in steps:
        return A.Name(f"__ref_{steps[node.obj.name]}_{node.name}", pos=node.pos)
    if isinstance(node, A.Node):
        changes = {
            f.name: _refs(getattr(node, f.name), steps) for f in dataclasses.fields(node) if f.name != "pos"
        }
        return dataclasses.replace(node, **changes)
    if isinstance(node, list):
        return [_refs(x, steps) for x in node]
    if isinstance(node, tuple):
        return tuple(_refs(x, steps) for x in node)
    if isinstance(node, dict):
        return {k: _refs(v, steps) for k, v in node.items()}
    return node


def _case(cond: exp.Expression, then: exp.Expression, other: exp.Expression) -> exp.Expression:
    return exp.Case(ifs=[exp.If(this=cond, true=then)], default=other)


def lower_scan(p: Planner, rel: Rel, op: A.Scan, env: Env) -> Rel:
    n = len(op.steps)
    steps = {s.name: i for i, s in enumerate(op.steps, start=1)}
    inputs = list(rel.cols)
    scope0 = p.scope_of(Rel(exp.select("1"), []), env)
    var_types = {name: kind for name, kind, _ in op.declares}
    defaults: dict[str, exp.Expression] = {}
    for name, kind, default in op.declares:
        v = p.compile(default, scope0) if default is not None else null_of(kind)
        defaults[name] = convert(v, kind).sql if v.type not in (kind, "null") else v.sql
        if v.type == "null":
            defaults[name] = null_of(kind).sql
    fields = inputs + [(n_, t) for n_, t, _ in op.declares]
    known = {n_ for n_, _ in inputs}
    for name in var_types:
        if name in known:
            raise p.semantic(f"scan: the declared variable {name!r} is already a column", op)
    for s in op.steps:
        for target, node in s.assigns:
            if target not in var_types:
                raise p.semantic(f"scan: {target!r} is not a declared variable", node)

    def field_default(f: str, t: str) -> exp.Expression:
        return defaults[f].copy() if f in defaults else null_of(t).sql

    # the state: flags, match ids, a record per step J <= K in the state of step K, outputs
    state: list[tuple[str, str]] = [("__rn", "long"), ("__id", "long"), *inputs]
    for k in range(1, n + 1):
        state += [(f"__a{k}", "bool"), (f"__m{k}", "long"), (f"__o{k}", "bool"), (f"__om{k}", "long")]
        state += [(f"__v{k}_{j}_{fi}", t) for j in range(1, k + 1) for fi, (_, t) in enumerate(fields)]
        state += [(f"__e{k}_{vi}", var_types[v]) for vi, v in enumerate(var_types)]

    order = [o.copy() for o in rel.order] if rel.order else [exp.Ordered(this=exp.Literal.number(1))]
    numbered = p.select(
        rel,
        [
            *[col(c) for c, _ in inputs],
            alias(exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=order)), "__rn"),
        ],
    )
    init_values: dict[str, exp.Expression] = {}
    for name, t in state:
        if name == "__rn" or name == "__id":
            init_values[name] = exp.Cast(this=exp.Literal.number(0), to=dtype("BIGINT"))
        elif name.startswith(("__a", "__o")) and t == "bool":
            init_values[name] = exp.Cast(this=exp.false(), to=dtype("BOOLEAN"))
        else:
            init_values[name] = exp.Cast(this=exp.Null(), to=dtype(SQL_TYPES[t]))
    init = exp.select(*[alias(init_values[name], name) for name, _ in state])

    # layer 0: the previous state joined to the next row (its input columns replace the old row's)
    cur: dict[str, exp.Expression] = {}
    for name, _t in state:
        if name == "__rn":
            cur[name] = exp.column("__rn", "i")
        elif name in known:
            cur[name] = exp.column(name, "i", quoted=True)
        elif name.startswith("__o"):  # a row's outputs start empty: no output, no output match id
            cur[name] = init_values[name].copy()
        else:
            cur[name] = exp.column(name, "s", quoted=True)
    layer: exp.Select = (
        exp.select(*[alias(e, name) for name, e in cur.items()])
        .from_(
            exp.Table(
                this=exp.to_identifier("__scan_state"), alias=exp.TableAlias(this=exp.to_identifier("s"))
            ),
            copy=False,
        )
        .join(
            exp.Table(
                this=exp.to_identifier("__scan_input"), alias=exp.TableAlias(this=exp.to_identifier("i"))
            ),
            on=exp.EQ(
                this=exp.column("__rn", "i"),
                expression=exp.Add(this=exp.column("__rn", "s"), expression=exp.Literal.number(1)),
            ),
            copy=False,
        )
    )

    def with_refs(sql: exp.Select, ctx: int) -> tuple[exp.Select, list[tuple[str, str]]]:
        """A layer over `sql` adding `__ref_J_x` (state ctx's record of step J) and the bare variables."""
        extra: list[exp.Expression] = []
        cols: list[tuple[str, str]] = list(state)
        for j, _s in enumerate(op.steps, start=1):
            for fi, (f, t) in enumerate(fields):
                if ctx and j <= ctx:
                    v: exp.Expression = _case(
                        col(f"__a{ctx}"), col(f"__v{ctx}_{j}_{fi}"), field_default(f, t)
                    )
                else:
                    v = field_default(f, t)
                extra.append(alias(v, f"__ref_{j}_{f}"))
                cols.append((f"__ref_{j}_{f}", t))
        for vi, (v_name, t) in enumerate(var_types.items()):
            fi = len(inputs) + vi
            own = (
                _case(col(f"__a{ctx}"), col(f"__v{ctx}_{ctx}_{fi}"), field_default(v_name, t))
                if ctx
                else field_default(v_name, t)
            )
            extra.append(alias(own, v_name))
            cols.append((v_name, t))
        sub = sql.subquery(p.fresh("sc"), copy=False)
        return exp.select(*[col(name) for name, _ in state], *extra).from_(sub, copy=False), cols

    def compiled(
        step: A.ScanStep, sql: exp.Select, cols: list[tuple[str, str]]
    ) -> tuple[exp.Expression, dict[str, exp.Expression]]:
        scope = p.scope_of(Rel(sql, cols), env)
        cond = as_bool(p.compile(_refs(step.condition, steps), scope))
        values: dict[str, exp.Expression] = {}
        for v_name, _t in var_types.items():
            values[v_name] = col(v_name)
        for target, node in step.assigns:
            v = p.compile(_refs(node, steps), scope)
            values[target] = convert(v, var_types[target]).sql if v.type != var_types[target] else v.sql
        return cond, values

    for k in range(n, 0, -1):
        step = op.steps[k - 1]
        out: dict[str, exp.Expression] = {name: col(name) for name, _ in state}
        c1: exp.Expression = exp.false()
        if k > 1:  # check 1: the previous step's sequence moves on to this step
            view, cols = with_refs(layer, k - 1)
            cond, values = compiled(step, view, cols)
            c1 = exp.Paren(
                this=exp.and_(col(f"__a{k - 1}"), exp.Coalesce(this=cond, expressions=[exp.false()]))
            )
            out = {name: col(name) for name, _ in state}
            out[f"__a{k}"] = _case(c1, exp.true(), col(f"__a{k}"))
            out[f"__m{k}"] = _case(c1.copy(), col(f"__m{k - 1}"), col(f"__m{k}"))
            for j in range(1, k):
                for fi in range(len(fields)):
                    out[f"__v{k}_{j}_{fi}"] = _case(
                        c1.copy(), col(f"__v{k - 1}_{j}_{fi}"), col(f"__v{k}_{j}_{fi}")
                    )
            for fi, (f, _) in enumerate(fields):
                new = values[f] if f in values else col(f)
                out[f"__v{k}_{k}_{fi}"] = _case(c1.copy(), new.copy(), col(f"__v{k}_{k}_{fi}"))
            out[f"__a{k - 1}"] = _case(c1.copy(), exp.false(), col(f"__a{k - 1}"))
            emit = exp.true() if step.output != "none" else exp.false()
            out[f"__o{k}"] = exp.Paren(this=exp.and_(c1.copy(), emit))
            out[f"__om{k}"] = col(f"__m{k - 1}")
            for vi, v_name in enumerate(var_types):
                out[f"__e{k}_{vi}"] = values[v_name].copy()
            out["__c1"] = c1.copy()
            layer = exp.select(*[alias(e, name) for name, e in out.items()]).from_(
                view.subquery(p.fresh("sc"), copy=False), copy=False
            )
        else:
            layer = exp.select(*[col(name) for name, _ in state], alias(exp.false(), "__c1")).from_(
                layer.subquery(p.fresh("sc"), copy=False), copy=False
            )
        # check 2: this step's own sequence (or a new one at the first step)
        view, cols = with_refs(layer, k)
        view = view.select(col("__c1"), copy=False)
        cond, values = compiled(step, view, [*cols, ("__c1", "bool")])
        active = col(f"__a{k}")
        gate: exp.Expression = exp.true() if k == 1 else active
        c2 = exp.Paren(
            this=exp.and_(exp.Not(this=col("__c1")), gate, exp.Coalesce(this=cond, expressions=[exp.false()]))
        )
        fresh: exp.Expression = exp.false()
        if k == 1:
            fresh = exp.Paren(this=exp.and_(c2.copy(), exp.Not(this=active.copy())))
        out = {name: col(name) for name, _ in state}
        out[f"__a{k}"] = _case(c2, exp.true(), col(f"__a{k}"))
        match = _case(fresh, col("__id"), col(f"__m{k}"))
        out[f"__m{k}"] = match
        out["__id"] = _case(
            fresh.copy(), exp.Add(this=col("__id"), expression=exp.Literal.number(1)), col("__id")
        )
        for fi, (f, _) in enumerate(fields):
            new = values[f] if f in values else col(f)
            out[f"__v{k}_{k}_{fi}"] = _case(c2.copy(), new.copy(), col(f"__v{k}_{k}_{fi}"))
        emit2 = exp.and_(c2.copy(), exp.true() if step.output == "all" else exp.false())
        out[f"__o{k}"] = exp.Paren(this=exp.or_(col(f"__o{k}"), emit2))
        out[f"__om{k}"] = _case(c2.copy(), match.copy(), col(f"__om{k}"))
        for vi, v_name in enumerate(var_types):
            out[f"__e{k}_{vi}"] = _case(c2.copy(), values[v_name].copy(), col(f"__e{k}_{vi}"))
        layer = exp.select(*[alias(e, name) for name, e in out.items()]).from_(
            view.subquery(p.fresh("sc"), copy=False), copy=False
        )
        layer = exp.select(*[col(name) for name, _ in state]).from_(
            layer.subquery(p.fresh("sc"), copy=False), copy=False
        )

    recursive = exp.union(init, layer, distinct=False)
    emitted: list[exp.Select] = []
    out_cols = inputs + list(var_types.items()) + ([(op.match_id, "long")] if op.match_id else [])
    for k in range(1, n + 1):
        items = [col("__rn"), alias(exp.Literal.number(k), "__k")] + [col(c) for c, _ in inputs]
        items += [alias(col(f"__e{k}_{vi}"), v) for vi, v in enumerate(var_types)]
        if op.match_id:
            items.append(alias(col(f"__om{k}"), op.match_id))
        emitted.append(exp.select(*items).from_("__scan_state", copy=False).where(col(f"__o{k}"), copy=False))
    union: exp.Query = emitted[0]
    for e in emitted[1:]:
        union = exp.union(union, e, distinct=False)
    body = exp.select(*[col(c) for c, _ in out_cols], col("__rn"), col("__k")).from_(
        union.subquery(p.fresh("sc"), copy=False), copy=False
    )
    final = (
        exp.select(*[col(c) for c, _ in out_cols])
        .from_(body.subquery(p.fresh("sc"), copy=False), copy=False)
        .order_by(col("__rn"), exp.Ordered(this=col("__k"), desc=True), copy=False)
        .with_("__scan_input", as_=numbered, copy=False)
        .with_("__scan_state", as_=recursive, recursive=True, copy=False)
    )
    outer = exp.select(*[col(c) for c, _ in out_cols]).from_(
        final.subquery(p.fresh("scan"), copy=False), copy=False
    )
    return Rel(outer, out_cols)  # the recursive WITH stays inside: the query's own CTEs go on the outside


def _no_spark(p: Planner, rel: Rel, op: A.Scan, env: Env) -> Rel:
    # Spark 4.3 runs the same recursive query and gives the same rows, but one Spark job per input row
    # (30-120 s for the reference's 10-row examples on local[1]): not a plan to hand a hunter
    raise p.unsupported("scan runs on the DuckDB engine only (a recursive query)", op)


OPERATORS: list[Operator] = [operator(A.Scan, {"scan": parse_scan}, lower_scan, spark=_no_spark)]
