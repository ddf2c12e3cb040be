"""Operators that bring in other tables or functions: union, as, invoke, evaluate (plugins)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, operator
from huntvault.kql.lowering.tables import union_of
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import call_args, options, union_tables
from huntvault.kql.values import T, alias, col, convert, null_of


def parse_union(c: Cursor, t: Token) -> A.Node:
    opts = options(c, {"kind", "withsource", "isfuzzy"})
    return A.UnionOp(union_tables(c), opts, pos=t.pos)


def lower_union(p: Planner, rel: Rel, op: A.UnionOp, env: Env) -> Rel:
    return union_of(p, op.tables, op.options, env, rel, op)


def parse_as(c: Cursor, t: Token) -> A.Node:
    options(c, {"hint.materialized"})
    return A.As(c.identifier("a name after as"), pos=t.pos)


def lower_as(p: Planner, rel: Rel, op: A.As, env: Env) -> Rel:
    """The rows pass through; the planner binds the name for the rest of the pipeline."""
    return rel


def parse_invoke(c: Cursor, t: Token) -> A.Node:
    s = c.tok
    name = c.identifier("a function name")
    return A.Invoke(call_args(c, name, s), pos=t.pos)


def lower_invoke(p: Planner, rel: Rel, op: A.Invoke, env: Env) -> Rel:
    b = env.get(op.call.name)
    offline = p.offline(op.call.name)
    if (b is None or b.func is None) and offline is not None:  # `invoke FileProfile(SHA1, 1000)`
        raise p.unsupported(f"invoke {op.call.name}(): {offline}; it cannot run offline", op)
    if b is None or b.func is None:
        raise p.semantic(f"invoke: unknown function {op.call.name!r}", op)
    fenv = p.call_env(op.call.name, b, op.call, p.scope_of(rel, env), implicit=rel)
    return p.relation(b.func.body, fenv)


#: plugins that need a service huntvault does not have: `evaluate` names them in its error
OFFLINE_PLUGINS: dict[str, str] = {
    "python": "runs Python in Kusto's sandbox",
    "r": "runs R in Kusto's sandbox",
    "sql_request": "queries a SQL Server database",
    "mysql_request": "queries a MySQL database",
    "postgresql_request": "queries a PostgreSQL database",
    "cosmosdb_sql_request": "queries Azure Cosmos DB",
    "http_request": "calls an HTTP endpoint",
    "http_request_post": "calls an HTTP endpoint",
    "azure_digital_twins_query_request": "queries Azure Digital Twins",
    "identity_query_request": "queries Microsoft Entra ID",
    "ai_chat_completion": "calls Azure OpenAI",
    "ai_chat_completion_prompt": "calls Azure OpenAI",
    "ai_embed_text": "calls Azure OpenAI",
    "ai_embeddings": "calls Azure OpenAI",
    "infer_storage_schema": "reads external Azure Storage",
    "infer_storage_schema_with_suggestions": "reads external Azure Storage",
}


def parse_evaluate(c: Cursor, t: Token) -> A.Node:
    opts = options(c, set())
    s = c.tok
    name = c.identifier("a plugin name")
    if name.lower() in OFFLINE_PLUGINS and c.at("("):  # its arguments may be another language's syntax
        depth = 0
        while c.tok.kind != "eof":
            tok = c.advance()
            value = str(tok.value) if tok.kind == "punct" else ""
            depth += 1 if value in ("(", "[", "{") else 0
            depth -= 1 if value in (")", "]", "}") else 0
            if depth == 0:
                break
        return A.Evaluate(A.Call(name, [], pos=s.pos), opts, pos=t.pos)
    call = call_args(c, name, s)
    schema = c.delimited("(", ")", lambda: _schema_entry(c)) if c.accept(":") else None
    return A.Evaluate(call, opts, schema, pos=t.pos)


def _schema_entry(c: Cursor) -> A.ColumnDecl:
    """One entry of a plugin's output schema: `Name:type`, or `*` (the input's columns the plugin kept)."""
    if c.at("*"):
        return A.ColumnDecl("*", "", pos=c.advance().pos)
    return c.column_decl()


def lower_evaluate(p: Planner, rel: Rel, op: A.Evaluate, env: Env) -> Rel:
    plugin = p.plugin(op.call.name.lower())
    why = OFFLINE_PLUGINS.get(op.call.name.lower())
    if why is not None:
        raise p.unsupported(f"evaluate {op.call.name}() {why}: it is not available offline", op)
    if plugin is None:
        raise p.unsupported(f"evaluate {op.call.name}() is not supported", op)
    lower = plugin.spark if p.dialect.name == "spark" and plugin.spark is not None else plugin.lower
    out = lower(p, rel, op.call, env)
    return out if op.schema is None else with_schema(p, out, op.schema, [n for n, _ in rel.cols])


def with_schema(p: Planner, rel: Rel, schema: list[A.ColumnDecl], inputs: list[str] | None = None) -> Rel:
    """The plugin's output as its declared schema `: (Name:type, ...)`: those columns in that order, each
    converted to its type (null when the output lacks it); a `*` entry stands for the input's columns
    (`inputs`) the plugin kept and the schema does not name (the bag_unpack page's wildcard example)."""
    have = dict(rel.cols)
    named = {d.name for d in schema}
    proj: list[exp.Expression] = []
    cols: list[tuple[str, str]] = []
    for decl in schema:
        if decl.name == "*":
            for name in inputs or []:
                if name in have and name not in named:
                    proj.append(col(name))
                    cols.append((name, have[name]))
            continue
        kind = decl.type
        v = convert(T(col(decl.name), have[decl.name]), kind) if decl.name in have else null_of(kind)
        proj.append(alias(v.sql, decl.name))
        cols.append((decl.name, kind))
    return Rel(p.select(rel, proj), cols, rel.order)


OPERATORS: list[Operator] = [
    operator(A.UnionOp, {"union": parse_union}, lower_union),
    operator(A.As, {"as": parse_as}, lower_as),
    operator(A.Invoke, {"invoke": parse_invoke}, lower_invoke),
    operator(A.Evaluate, {"evaluate": parse_evaluate}, lower_evaluate),
]
