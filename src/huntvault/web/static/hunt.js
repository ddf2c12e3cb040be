// huntvault Hunting page: KQL editor with highlighting and error markers, samples, history, grid, charts.
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

  return { tokens, highlight, offsetOf };
})();

(async () => {
  const { el } = HV;
  const HISTORY = "huntvault.huntHistory";
  const DRAFT = "huntvault.huntDraft";
  const MAX_HISTORY = 50;
  const input = document.getElementById("kql");
  const hl = document.getElementById("editor-hl");
  const errBox = document.getElementById("hunt-error");
  const summary = document.getElementById("hunt-summary");
  const gridBox = document.getElementById("hunt-grid");
  const chartBox = document.getElementById("hunt-chart");
  const tabGrid = document.getElementById("tab-grid");
  const tabChart = document.getElementById("tab-chart");
  const runBtn = document.getElementById("hunt-run");
  const samplePicker = document.getElementById("sample-picker");
  const historyPicker = document.getElementById("history-picker");
  const csvBtn = document.getElementById("dl-csv");
  const jsonBtn = document.getElementById("dl-json");
  let mark = null;
  let grid = null;
  let last = null;
  let escPressed = false;

  const selectTab = HV.tabs([tabGrid, tabChart], (b) => { if (b === tabChart && last) drawChart(); });

  function paint() {
    hl.innerHTML = HV.kql.highlight(input.value, mark);
    hl.scrollTop = input.scrollTop;
    hl.scrollLeft = input.scrollLeft;
  }
  input.addEventListener("input", () => {
    if (mark) { mark = null; errBox.textContent = ""; input.removeAttribute("aria-invalid"); }
    paint();
    localStorage.setItem(DRAFT, input.value);
  });
  input.addEventListener("scroll", () => { hl.scrollTop = input.scrollTop; hl.scrollLeft = input.scrollLeft; });
  input.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); run(); return; }
    if (e.key === "Escape") { escPressed = true; return; }
    if (e.key === "Tab" && !escPressed && !e.shiftKey && !e.ctrlKey && !e.altKey) {
      e.preventDefault();
      const s = input.selectionStart, t = input.selectionEnd;
      input.setRangeText("  ", s, t, "end");
      input.dispatchEvent(new Event("input"));
    }
    escPressed = false;
  });

  function loadHistory() {
    try { return JSON.parse(localStorage.getItem(HISTORY) || "[]"); } catch (e) { return []; }
  }
  function remember(query, rows, ok) {
    const list = loadHistory().filter((h) => h.query !== query);
    list.unshift({ query, at: new Date().toISOString(), rows, ok });
    localStorage.setItem(HISTORY, JSON.stringify(list.slice(0, MAX_HISTORY)));
    fillHistory();
  }
  function fillHistory() {
    HV.clear(historyPicker);
    const list = loadHistory();
    historyPicker.append(el("option", { value: "" }, list.length ? `Query history (${list.length})…` : "No history yet"));
    list.forEach((h, i) => {
      const first = h.query.split("\n").find((l) => l.trim() && !l.trim().startsWith("//")) || h.query;
      historyPicker.append(el("option", { value: String(i) },
        `${HV.fmtTime(h.at).slice(5, 16)} · ${h.ok ? (h.rows ?? "?") + " rows" : "error"} · ${first.trim().slice(0, 60)}`));
    });
  }
  historyPicker.addEventListener("change", () => {
    const h = loadHistory()[Number(historyPicker.value)];
    if (historyPicker.value !== "" && h) setQuery(h.query);
    historyPicker.value = "";
  });

  function setQuery(q) {
    input.value = q;
    mark = null;
    errBox.textContent = "";
    paint();
    localStorage.setItem(DRAFT, q);
    input.focus();
  }

  function showError(body, status) {
    const e = (body && body.error) || { message: `HTTP ${status}` };
    errBox.textContent = "";
    if (e.line) {
      const start = HV.kql.offsetOf(input.value, e.line, e.column || 1);
      const m = /^[A-Za-z0-9_]+|^\S/.exec(input.value.slice(start));
      mark = { start, end: start + (m ? m[0].length : 1) };
      paint();
      errBox.append(el("span", { class: "pos" }, `line ${e.line}, column ${e.column}`), ": ", e.message, " ",
        el("button", { type: "button", class: "link", onclick: () => { input.focus(); input.setSelectionRange(mark.start, mark.end); } }, "Go to error"));
      input.setAttribute("aria-invalid", "true");
      input.focus();
      input.setSelectionRange(mark.start, mark.start);
      const markEl = document.getElementById("err-mark");
      if (markEl) {
        const top = markEl.offsetTop - input.clientHeight / 2;
        input.scrollTop = Math.max(0, top);
        hl.scrollTop = input.scrollTop;
      }
    } else {
      errBox.append(e.message || String(body));
    }
  }

  function drawChart() {
    HV.charts.draw(chartBox, last.chart, last.columns, last.rows);
  }

  async function run() {
    const query = input.value;
    if (!query.trim()) { errBox.textContent = "Type a query first (or pick a sample)."; return; }
    mark = null;
    paint();
    errBox.textContent = "";
    input.removeAttribute("aria-invalid");
    runBtn.disabled = true;
    summary.textContent = "Running…";
    try {
      const data = await HV.api("/api/hunt", { method: "POST", body: { query } });
      last = data;
      const t = data.timing;
      summary.textContent = `${HV.fmtNum(data.row_count)} rows${data.truncated ? " (truncated)" : ""} · ${t.total_ms} ms ` +
        `(compile ${t.compile_ms} ms, execute ${t.execute_ms} ms, ${data.engine})`;
      grid = new HV.Grid(gridBox, data.columns, data.rows, { label: "Hunt results" });
      csvBtn.disabled = jsonBtn.disabled = false;
      const chartable = HV.charts.supported(data.chart);
      tabChart.disabled = !data.chart;
      remember(query, data.row_count, true);
      if (data.chart && chartable) { selectTab(tabChart); } else { selectTab(tabGrid); HV.clear(chartBox); }
      if (data.chart && !chartable) HV.charts.draw(chartBox, data.chart, data.columns, data.rows);
    } catch (err) {
      summary.textContent = "";
      if (err instanceof HV.ApiError && err.status === 400) { showError(err.body, err.status); remember(query, null, false); }
      else errBox.textContent = HV.errorText(err);
    } finally {
      runBtn.disabled = false;
    }
  }

  runBtn.addEventListener("click", run);
  csvBtn.addEventListener("click", () => grid && HV.download("hunt-results.csv", grid.toCSV(), "text/csv"));
  jsonBtn.addEventListener("click", () => grid && HV.download("hunt-results.json", grid.toJSON(), "application/json"));
  window.addEventListener("resize", () => { if (last && last.chart && !chartBox.hidden) drawChart(); });

  input.value = localStorage.getItem(DRAFT) || "";
  paint();
  fillHistory();
  await HV.ready();
  try {
    const samples = (await HV.api("/api/hunt/samples")).value;
    for (const smp of samples) {
      samplePicker.append(el("option", { value: smp.name, title: smp.description }, smp.title));
    }
    samplePicker.addEventListener("change", () => {
      const smp = samples.find((x) => x.name === samplePicker.value);
      if (smp) setQuery(`// ${smp.title}: ${smp.description}\n${smp.query}`);
      samplePicker.value = "";
    });
    if (!input.value && samples.length) setQuery(samples[0].query);
  } catch (err) {
    errBox.textContent = HV.errorText(err);
  }
  // links like /ui/hunt#q=<query>&run=1 (the demo prints them) open with that query, and run it
  async function openHash() {
    const linked = new URLSearchParams(location.hash.slice(1));
    if (linked.get("q")) {
      setQuery(linked.get("q"));
      window.history.replaceState(null, "", location.pathname);
      if (linked.get("run") === "1") await run();
    }
  }
  window.addEventListener("hashchange", () => openHash());  // a link followed from this very page
  await openHash();
  document.body.dataset.ready = "true";
})();
