// huntvault KQL helpers: tokenizer and highlighter, literals and filters, and query edits the pages share.
"use strict";

HV.kql = (() => {
  const OPERATORS = new Set(("where filter project project-away project-keep project-rename project-reorder extend summarize " +
    "order sort by asc desc take limit top top-nested count distinct join union lookup mv-expand mv-apply parse parse-where " +
    "make-series render let as on kind with evaluate invoke search find sample sample-distinct getschema serialize " +
    "range print datatable externaldata materialize partition scan fork facet consume step from to of and or not " +
    "in between has has_any has_all hasprefix hassuffix contains startswith endswith matches regex nulls first last " +
    "inner leftouter rightouter fullouter leftanti rightanti leftsemi rightsemi innerunique anti semi").split(" "));
  const LITERALS = new Set(["true", "false", "null", "dynamic", "datetime", "timespan", "time", "guid", "real", "long",
    "int", "string", "bool", "decimal"]);
  const TOKEN = new RegExp([
    "(\\/\\/[^\\n]*)", // 1 comment
    "(@?\"(?:[^\"\\\\\\n]|\\\\.)*\"?|@?'(?:[^'\\\\\\n]|\\\\.)*'?|```[\\s\\S]*?(?:```|$))", // 2 string
    "(\\b\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?(?:d|h|m|s|ms|microsecond|tick|days?|hours?|minutes?|seconds?)?\\b)", // 3 number / timespan
    "([A-Za-z_][A-Za-z0-9_]*(?:-[a-z]+)*)(?=\\s*\\()", // 4 function call
    "([A-Za-z_][A-Za-z0-9_]*(?:-(?:away|keep|rename|reorder|expand|apply|where|series|nested|distinct)\\b)?)", // 5 word
    "(!?[=~]~?|!?=|[<>]=?|\\||[-+*/%]|=>)", // 6 operator
  ].join("|"), "gi");

  function esc(t) { return t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }

  // [{text, cls}] covering the whole input.
  function tokens(src) {
    const out = [];
    let last = 0;
    TOKEN.lastIndex = 0;
    let m;
    let afterPipe = true; // the first word of the query (a table) and each word after `|` (an operator)
    while ((m = TOKEN.exec(src)) !== null) {
      if (m.index > last) out.push({ text: src.slice(last, m.index), cls: "" });
      let cls = "";
      if (m[1]) cls = "tok-comment";
      else if (m[2]) cls = "tok-string";
      else if (m[3]) cls = "tok-number";
      else if (m[4]) cls = OPERATORS.has(m[4].toLowerCase()) ? "tok-keyword" : "tok-function";
      else if (m[5]) {
        const w = m[5].toLowerCase();
        if (OPERATORS.has(w)) cls = "tok-keyword";
        else if (LITERALS.has(w)) cls = "tok-literal";
        else if (afterPipe && /^[A-Z]/.test(m[5])) cls = "tok-table";
      } else if (m[6]) cls = m[6] === "|" ? "tok-pipe" : "tok-op";
      if (m[0] === "|") afterPipe = true;
      else if (!m[1] && m[0].trim()) afterPipe = false;
      out.push({ text: m[0], cls });
      last = m.index + m[0].length;
      if (m[0].length === 0) TOKEN.lastIndex++;
    }
    if (last < src.length) out.push({ text: src.slice(last), cls: "" });
    return out;
  }

  // Offset in `src` of a 1-based line/column (clamped to the text).
  function offsetOf(src, line, column) {
    let off = 0;
    for (let l = 1; l < line; l++) {
      const nl = src.indexOf("\n", off);
      if (nl < 0) return src.length;
      off = nl + 1;
    }
    const end = src.indexOf("\n", off);
    return Math.min(off + Math.max(0, column - 1), end < 0 ? src.length : end);
  }

  // Highlighted HTML; `mark` = {start, end} wraps that span as the error.
  function highlight(src, mark) {
    let html = "", pos = 0;
    for (const t of tokens(src)) {
      const a = pos, b = pos + t.text.length;
      pos = b;
      const pieces = [];
      if (mark && b > mark.start && a < mark.end) {
        const s = Math.max(a, mark.start) - a, e = Math.min(b, mark.end) - a;
        if (s > 0) pieces.push([t.text.slice(0, s), false]);
        pieces.push([t.text.slice(s, e), true]);
        if (e < t.text.length) pieces.push([t.text.slice(e), false]);
      } else pieces.push([t.text, false]);
      for (const [text, err] of pieces) {
        let h = t.cls ? `<span class="${t.cls}">${esc(text)}</span>` : esc(text);
        if (err) h = `<mark class="err-mark" id="err-mark">${h}</mark>`;
        html += h;
      }
    }
    if (mark && mark.start >= src.length) html += `<mark class="err-mark" id="err-mark"> </mark>`;
    return html + "\n";
  }


  const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

  // A column name as KQL text: bare when it is an identifier, else ['name'].
  function ident(name) {
    const low = String(name).toLowerCase();
    if (IDENT.test(name) && !OPERATORS.has(low) && !LITERALS.has(low)) return name;
    return `['${String(name).replace(/\\/g, "\\\\").replace(/'/g, "\\'")}']`;
  }

  // A string literal: verbatim @"..." for text with backslashes (paths, command lines), else "..." with escapes.
  function str(v) {
    const s = String(v);
    if (s.includes("\\") && !/[\n\r]/.test(s)) return `@"${s.replace(/"/g, '""')}"`;
    return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`;
  }

  const NUMERIC = ["long", "int", "real", "decimal"];

  // The KQL literal of a result value of KQL type `type`.
  function literal(v, type) {
    if (type === "datetime") return `datetime(${v})`;
    if (type === "timespan") return `timespan(${v})`;
    if (type === "bool") return v ? "true" : "false";
    if (NUMERIC.includes(type) && typeof v === "number") return String(v);
    if (type === "guid") return `guid(${v})`;
    return str(typeof v === "object" ? JSON.stringify(v) : v);
  }

  // The predicate keeping (or, with negate, dropping) rows whose `col` equals `v`.
  function predicate(col, type, v, negate) {
    const c = ident(col);
    if (v === null || v === undefined || v === "") {
      if (type === "string" || type === "dynamic") return negate ? `isnotempty(${c})` : `isempty(${c})`;
      return negate ? `isnotnull(${c})` : `isnull(${c})`;
    }
    if (type === "dynamic") return `tostring(${c}) ${negate ? "!=" : "=="} ${str(JSON.stringify(v))}`;
    return `${c} ${negate ? "!=" : "=="} ${literal(v, type)}`;
  }

  // Top-level pipes of the last statement: [{pos, word}] for each `|` outside brackets, with the word after it.
  function pipes(src) {
    let out = [];
    let depth = 0, pos = 0;
    const toks = tokens(src);
    toks.forEach((t, i) => {
      const at = pos;
      pos += t.text.length;
      if (t.cls === "tok-comment" || t.cls === "tok-string") return;
      for (const ch of t.text) {
        if ("([{".includes(ch)) depth++;
        else if (")]}".includes(ch)) depth = Math.max(0, depth - 1);
        else if (ch === ";" && depth === 0) out = [];
      }
      if (t.text === "|" && depth === 0) {
        const next = toks.slice(i + 1).find((x) => x.text.trim() && x.cls !== "tok-comment");
        out.push({ pos: at, word: next ? next.text.toLowerCase() : "" });
      }
    });
    return out;
  }

  // Splits a trailing `| render ...` off: {body, render} (render is "" when the query has none).
  function splitRender(src) {
    const last = pipes(src).pop();
    if (!last || last.word !== "render") return { body: src.replace(/\s+$/, ""), render: "" };
    return { body: src.slice(0, last.pos).replace(/\s+$/, ""), render: src.slice(last.pos).trim() };
  }

  // The query with `| clause` appended (before a trailing render).
  function append(src, clause) {
    const { body, render } = splitRender(src);
    return `${body}\n| ${clause}${render ? "\n" + render : ""}`;
  }

  return { tokens, highlight, offsetOf, ident, str, literal, predicate, pipes, splitRender, append, OPERATORS };
})();
