"""The hand-written recursive-descent KQL parser: statements and pipe operators into the typed AST (kql.ast)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from huntvault.errors import KqlSyntaxError
from huntvault.kql import ast as A
from huntvault.kql.parser_expr import (
    JOIN_KINDS,
    ExpressionParser,
    parse_datetime_text,
    parse_timespan_text,
)
from huntvault.kql.tokens import Token

__all__ = ["Parser", "parse", "parse_datetime_text", "parse_timespan_text"]


class Parser(ExpressionParser):
    """Statements (let, queries), pipelines and every tabular operator; expressions come from the base."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.operators: dict[str, Callable[[Token], A.Node]] = {
            "where": self.op_where,
            "filter": self.op_where,
            "project": self.op_project,
            "extend": self.op_extend,
            "project-away": self.op_project_away,
            "project-keep": self.op_project_keep,
            "project-rename": self.op_project_rename,
            "project-reorder": self.op_project_reorder,
            "summarize": self.op_summarize,
            "count": self.op_count,
            "distinct": self.op_distinct,
            "take": self.op_take,
            "limit": self.op_take,
            "sort": self.op_sort,
            "order": self.op_sort,
            "top": self.op_top,
            "top-nested": self.op_top_nested,
            "join": self.op_join,
            "lookup": self.op_lookup,
            "union": self.op_union,
            "mv-expand": self.op_mv_expand,
            "mvexpand": self.op_mv_expand,
            "mv-apply": self.op_mv_apply,
            "mvapply": self.op_mv_apply,
            "parse": self.op_parse,
            "parse-where": self.op_parse,
            "as": self.op_as,
            "invoke": self.op_invoke,
            "serialize": self.op_serialize,
            "evaluate": self.op_evaluate,
            "make-series": self.op_make_series,
            "getschema": self.op_getschema,
            "render": self.op_render,
            "sample": self.op_sample,
            "search": self.op_search,
            "partition": self.op_partition,
            "project-smart": self.op_project,
        }

    def parse_script(self) -> A.Script:
        lets: list[A.Let] = []
        queries: list[A.Node] = []
        while self.tok.kind != "eof":
            if self.accept(";"):
                continue
            if self.at_word("let"):
                lets.append(self.parse_let())
            elif self.at_word("declare", "set", "alias"):
                self.skip_statement()
            else:
                queries.append(self.parse_pipeline())
            if self.tok.kind == "eof":
                break
            if not self.at(";"):
                prev = self.toks[self.i - 1]
                if self.tok.line > prev.line:
                    raise self.error(
                        "several queries in one block without ';' between them (the next query starts here); "
                        "run them one at a time or separate the statements with ';'"
                    )
                raise self.error(
                    f"unexpected {self.describe(self.tok)}; expected '|', ';' or the end of the query"
                )
        if not queries:
            t = self.toks[-1]
            raise KqlSyntaxError(
                "the query has no tabular expression to run (only let statements)",
                t.line,
                t.column,
                self.text,
            )
        return A.Script(lets, queries[-1], len(queries), pos=0)

    def skip_statement(self) -> None:
        while self.tok.kind != "eof" and not self.at(";"):
            self.advance()

    def parse_let(self) -> A.Let:
        start = self.expect_word("let")
        name = self.identifier("a name after let")
        self.expect("=", "'=' after the let name")
        value: A.Node
        if self.at_word("view") and self.peek().kind == "punct" and self.peek().value == "(":
            self.advance()
            value = self.parse_lambda(view=True)
        elif self.at("(") and self.looks_like_lambda():
            value = self.parse_lambda(view=False)
        else:
            value = self.parse_pipeline()
        return A.Let(name, value, pos=start.pos)

    def looks_like_lambda(self) -> bool:
        depth = 0
        k = self.i
        while k < len(self.toks):
            t = self.toks[k]
            if t.kind == "punct" and str(t.value) in "([{":
                depth += 1
            elif t.kind == "punct" and str(t.value) in ")]}":
                depth -= 1
                if depth == 0:
                    nxt = self.toks[k + 1] if k + 1 < len(self.toks) else t
                    return nxt.kind == "punct" and nxt.value == "{"
            elif t.kind == "eof":
                return False
            k += 1
        return False

    def parse_lambda(self, view: bool) -> A.Lambda:
        start = self.expect("(")
        params: list[tuple[str, str | list[A.ColumnDecl] | None, A.Node | None]] = []
        while not self.at(")"):
            pname = self.identifier("a parameter name")
            ptype: str | list[A.ColumnDecl] | None = None
            default: A.Node | None = None
            if self.accept(":"):
                if self.at("("):
                    if self.peek().kind == "punct" and self.peek().value == "*":  # (*): any table
                        self.advance()
                        self.advance()
                        self.expect(")")
                        ptype = []
                    else:
                        ptype = self.delimited("(", ")", self.column_decl)
                else:
                    ptype = self.type_name()
            if self.accept("="):
                default = self.parse_expr()
            params.append((pname, ptype, default))
            if not self.accept(","):
                break
        self.expect(")")
        self.expect("{")
        lets: list[A.Let] = []
        body: A.Node | None = None
        while not self.at("}"):
            if self.accept(";"):
                continue
            if self.at_word("let"):
                lets.append(self.parse_let())
            else:
                body = self.parse_pipeline()
        self.expect("}")
        if body is None:
            raise self.error("a function body needs an expression", start)
        return A.Lambda(params, lets, body, view, pos=start.pos)

    def parse_pipeline(self, allow_implicit: bool = False) -> A.Node:
        start = self.tok
        source: A.Node | None
        if allow_implicit and self.at("|"):
            source = None
        elif allow_implicit and self.dashed_word() in self.operators and self.implicit_operator_start():
            source = None
            ops = [self.parse_operator()]
            while self.accept("|"):
                ops.append(self.parse_operator())
            return A.Pipeline(None, ops, pos=start.pos)
        else:
            source = self.parse_expr()
        if not self.at("|"):
            assert source is not None
            return source
        ops = []
        while self.accept("|"):
            ops.append(self.parse_operator())
        return A.Pipeline(source, ops, pos=start.pos)

    def implicit_operator_start(self) -> bool:
        """In a body with an implicit input, `where x` starts an operator; `where` alone is a name."""
        nxt = self.peek(1 + 2 * (self.dashed_word() or "").count("-"))
        return not (nxt.kind == "punct" and nxt.value in ("|", ")", ";", "}", ",", "."))

    def parse_operator(self) -> A.Node:
        word = self.dashed_word()
        t = self.tok
        if word is None or word.lower() not in self.operators:
            raise self.error(f"expected a tabular operator after '|', found {self.describe(t)}")
        self.consume_dashed(word)
        return self.operators[word.lower()](t)

    def op_where(self, t: Token) -> A.Node:
        return A.Where(self.parse_expr(), pos=t.pos)

    def op_project(self, t: Token) -> A.Node:
        return A.Project(self.assignments(), pos=t.pos)

    def op_extend(self, t: Token) -> A.Node:
        return A.Extend(self.assignments(), pos=t.pos)

    def op_project_away(self, t: Token) -> A.Node:
        return A.ProjectAway(self.name_patterns(), pos=t.pos)

    def op_project_keep(self, t: Token) -> A.Node:
        return A.ProjectKeep(self.name_patterns(), pos=t.pos)

    def op_project_rename(self, t: Token) -> A.Node:
        pairs = []
        while True:
            new = self.identifier("the new column name")
            self.expect("=")
            old = self.identifier("the column to rename")
            pairs.append((new, old))
            if not self.accept(","):
                return A.ProjectRename(pairs, pos=t.pos)

    def op_project_reorder(self, t: Token) -> A.Node:
        pats: list[tuple[str, str | None]] = []
        for p in self.name_patterns():
            order = None
            if self.at_word("asc", "desc", "granny-asc", "granny-desc"):
                order = str(self.advance().value).lower()
            pats.append((p, order))
        return A.ProjectReorder(pats, pos=t.pos)

    def op_summarize(self, t: Token) -> A.Node:
        opts = self.options({"hint.shufflekey", "hint.strategy", "hint.num_partitions"})
        aggs: list[A.Assign] = []
        if not self.at_word("by") and not (
            self.at("|") or self.at(";") or self.tok.kind == "eof" or self.at(")")
        ):
            aggs = self.assignments()
        by: list[A.Assign] = []
        if self.accept_word("by"):
            by = self.assignments()
        return A.Summarize(aggs, by, opts, pos=t.pos)

    def op_count(self, t: Token) -> A.Node:
        return A.Count(pos=t.pos)

    def op_distinct(self, t: Token) -> A.Node:
        if self.at("*"):
            s = self.advance()
            return A.Distinct([A.Star(pos=s.pos)], pos=t.pos)
        items = [self.parse_expr()]
        while self.accept(","):
            items.append(self.parse_expr())
        return A.Distinct(items, pos=t.pos)

    def op_take(self, t: Token) -> A.Node:
        return A.Take(self.parse_expr(), pos=t.pos)

    def op_sample(self, t: Token) -> A.Node:
        return A.Sample(self.parse_expr(), pos=t.pos)

    def sort_keys(self) -> list[A.SortKey]:
        keys = []
        while True:
            s = self.tok
            expr = self.parse_expr()
            desc = True
            if self.accept_word("asc"):
                desc = False
            elif self.accept_word("desc"):
                desc = True
            nulls = None
            if self.accept_word("nulls"):
                which = self.tok
                if self.accept_word("first"):
                    nulls = True
                elif self.accept_word("last"):
                    nulls = False
                else:
                    raise self.error("expected 'first' or 'last' after 'nulls'", which)
            keys.append(A.SortKey(expr, desc, nulls, pos=s.pos))
            if not self.accept(","):
                return keys

    def op_sort(self, t: Token) -> A.Node:
        self.options(set())
        self.expect_word("by")
        return A.Sort(self.sort_keys(), pos=t.pos)

    def op_top(self, t: Token) -> A.Node:
        count = self.parse_expr()
        self.expect_word("by")
        return A.Top(count, self.sort_keys(), pos=t.pos)

    def op_top_nested(self, t: Token) -> A.Node:
        levels = []
        while True:
            s = self.tok
            count = None if self.at_word("of") else self.parse_expr()
            self.expect_word("of")
            of = self.assignment()
            others = None
            if self.accept_word("with"):
                self.expect_word("others")
                self.expect("=")
                others = self.parse_expr()
            self.expect_word("by")
            agg = self.assignment()
            desc = True
            if self.accept_word("asc"):
                desc = False
            else:
                self.accept_word("desc")
            levels.append(A.TopNestedLevel(count, of, others, agg, desc, pos=s.pos))
            if not self.accept(","):
                break
            self.accept_word("top-nested")
            if self.dashed_word() == "top-nested":
                self.consume_dashed("top-nested")
        return A.TopNested(levels, pos=t.pos)

    def join_right(self) -> A.Node:
        if self.at("("):
            s = self.advance()
            inner = self.parse_pipeline()
            self.expect(")")
            if isinstance(inner, A.Pipeline):
                return inner
            return A.Pipeline(inner, [], pos=s.pos)
        return self.parse_postfix()

    def join_conditions(self) -> list[A.Node]:
        conds: list[A.Node] = []
        while True:
            expr = self.parse_expr()
            conds.extend(self.split_and(expr))
            if not self.accept(","):
                return conds

    def split_and(self, e: A.Node) -> list[A.Node]:
        if isinstance(e, A.Binary) and e.op == "and":
            return self.split_and(e.left) + self.split_and(e.right)
        return [e]

    def op_join(self, t: Token) -> A.Node:
        opts = self.options({"kind", "withsource"})
        kind = "innerunique"
        if "kind" in opts:
            k = opts.pop("kind")
            if not isinstance(k, A.Name) or k.name.lower() not in JOIN_KINDS:
                raise KqlSyntaxError("unknown join kind", *self.line_col(k.pos), self.text)
            kind = k.name.lower()
        right = self.join_right()
        opts.update(self.options({"kind"}))
        on: list[A.Node] = []
        if self.accept_word("on") or self.accept_word("where"):
            on = self.join_conditions()
        return A.Join(kind, right, on, opts, pos=t.pos)

    def op_lookup(self, t: Token) -> A.Node:
        opts = self.options({"kind"})
        kind = "leftouter"
        if "kind" in opts:
            k = opts.pop("kind")
            kind = k.name.lower() if isinstance(k, A.Name) else "leftouter"
        right = self.join_right()
        self.expect_word("on")
        return A.Join(kind, right, self.join_conditions(), opts, lookup=True, pos=t.pos)

    def op_union(self, t: Token) -> A.Node:
        opts = self.options({"kind", "withsource", "isfuzzy"})
        return A.UnionOp(self.union_tables(), opts, pos=t.pos)

    def mv_items(self) -> list[A.MvExpandItem]:
        items = []
        while True:
            s = self.tok
            a = self.assignment()
            to_type = None
            if self.accept_word("to"):
                self.expect_word("typeof")
                self.expect("(")
                to_type = self.type_name()
                self.expect(")")
            items.append(A.MvExpandItem(a.names[0] if a.names else None, a.expr, to_type, pos=s.pos))
            if not self.accept(","):
                return items

    def op_mv_expand(self, t: Token) -> A.Node:
        legacy = str(t.value).lower() == "mvexpand"
        opts = self.options({"bagexpansion", "with_itemindex", "kind"})
        items = self.mv_items()
        limit = None
        if self.accept_word("limit"):
            limit = self.parse_expr()
        return A.MvExpand(items, opts, limit, legacy, pos=t.pos)

    def op_mv_apply(self, t: Token) -> A.Node:
        opts = self.options({"with_itemindex"})
        items = self.mv_items()
        limit = None
        if self.accept_word("limit"):
            limit = self.parse_expr()
        self.expect_word("on")
        self.expect("(")
        body = self.parse_pipeline(allow_implicit=True)
        self.expect(")")
        if not isinstance(body, A.Pipeline):
            body = A.Pipeline(None, [], pos=body.pos)
        return A.MvApply(items, opts, body, limit, pos=t.pos)

    def op_parse(self, t: Token) -> A.Node:
        is_where = "where" in str(self.toks[self.i - 1].text).lower() or str(t.value).lower() == "parse-where"
        opts = self.options({"kind", "flags"})
        kind = "simple"
        if "kind" in opts and isinstance(opts["kind"], A.Name):
            kind = opts["kind"].name.lower()
        flags = ""
        if "flags" in opts and isinstance(opts["flags"], A.Name):
            flags = opts["flags"].name
        expr = self.parse_expr()
        self.expect_word("with")
        parts: list[A.ParsePart] = []
        while not (self.at("|") or self.at(";") or self.at(")") or self.tok.kind == "eof"):
            s = self.tok
            if self.at("*"):
                self.advance()
                parts.append(A.ParsePart(pos=s.pos))
            elif self.tok.kind == "string":
                parts.append(A.ParsePart(literal=str(self.advance().value), pos=s.pos))
            elif self.at_identifier():
                col = self.identifier()
                ctype = None
                if self.accept(":"):
                    ctype = self.type_name()
                parts.append(A.ParsePart(column=col, type=ctype, pos=s.pos))
            else:
                raise self.error(f"unexpected {self.describe(s)} in a parse pattern")
        return A.Parse(expr, parts, kind, flags, is_where, pos=t.pos)

    def op_as(self, t: Token) -> A.Node:
        self.options({"hint.materialized"})
        return A.As(self.identifier("a name after as"), pos=t.pos)

    def op_invoke(self, t: Token) -> A.Node:
        s = self.tok
        name = self.identifier("a function name")
        return A.Invoke(self.call_args(name, s), pos=t.pos)

    def op_serialize(self, t: Token) -> A.Node:
        items: list[A.Assign] = []
        if not (self.at("|") or self.at(";") or self.at(")") or self.tok.kind == "eof"):
            items = self.assignments()
        return A.Serialize(items, pos=t.pos)

    def op_evaluate(self, t: Token) -> A.Node:
        opts = self.options(set())
        s = self.tok
        name = self.identifier("a plugin name")
        return A.Evaluate(self.call_args(name, s), opts, pos=t.pos)

    def op_make_series(self, t: Token) -> A.Node:
        aggs: list[tuple[A.Assign, A.Node | None]] = []
        while True:
            a = self.assignment()
            default = None
            if self.accept_word("default"):
                self.expect("=")
                default = self.parse_expr()
            aggs.append((a, default))
            if not self.accept(","):
                break
        self.expect_word("on")
        on = self.parse_expr()
        start = end = None
        if self.accept_word("in"):
            self.expect_word("range")
            self.expect("(")
            start = self.parse_expr()
            self.expect(",")
            end = self.parse_expr()
            self.expect(",")
            step = self.parse_expr()
            self.expect(")")
        else:
            if self.accept_word("from"):
                start = self.parse_expr()
            if self.accept_word("to"):
                end = self.parse_expr()
            self.expect_word("step")
            step = self.parse_expr()
        by: list[A.Assign] = []
        if self.accept_word("by"):
            by = self.assignments()
        return A.MakeSeries(aggs, on, start, end, step, by, pos=t.pos)

    def op_getschema(self, t: Token) -> A.Node:
        return A.GetSchema(pos=t.pos)

    def op_render(self, t: Token) -> A.Node:
        chart = self.identifier("a chart type")
        props: dict[str, Any] = {}
        if self.accept_word("with"):
            self.expect("(")
            while not self.at(")"):
                key = self.identifier("a render property")
                self.expect("=")
                val = self.parse_expr()
                props[key] = (
                    val.value
                    if isinstance(val, A.Literal)
                    else (val.name if isinstance(val, A.Name) else None)
                )
                if not self.accept(","):
                    break
            self.expect(")")
        return A.Render(chart, props, pos=t.pos)

    def op_search(self, t: Token) -> A.Node:
        self.options({"kind"})
        return A.SearchOp(self.parse_expr(), pos=t.pos)

    def op_partition(self, t: Token) -> A.Node:
        self.options(set())
        self.expect_word("by")
        col = self.identifier("a column")
        self.options(set())
        self.expect("(")
        body = self.parse_pipeline(allow_implicit=True)
        self.expect(")")
        if not isinstance(body, A.Pipeline):
            body = A.Pipeline(body, [], pos=body.pos)
        return A.Partition(col, body, pos=t.pos)


def parse(text: str) -> A.Script:
    """Parse a whole query (let statements and one tabular expression) into a Script."""
    return Parser(text).parse_script()
