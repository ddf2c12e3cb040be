// huntvault Hunting page: KQL editor (highlighting, error markers, autocomplete), schema browser, time range,
// samples and history, hit histogram, results grid with record inspector, charts; the whole view in the URL.
"use strict";

(async () => {
  const { el } = HV;
  const HISTORY = "huntvault.huntHistory";
  const DRAFT = "huntvault.huntDraft";
  const SCHEMA_OPEN = "huntvault.schemaOpen";
  const WRAP = "huntvault.gridWrap";
  const MAX_HISTORY = 50;
  const $ = (id) => document.getElementById(id);
  const input = $("kql");
  const hl = $("editor-hl");
  const errBox = $("hunt-error");
  const applied = $("hunt-applied");
  const summary = $("hunt-summary");
  const gridBox = $("hunt-grid");
  const chartBox = $("hunt-chart");
  const tabGrid = $("tab-grid");
  const tabChart = $("tab-chart");
  const runBtn = $("hunt-run");
  const samplePicker = $("sample-picker");
  const historyPicker = $("history-picker");
  const csvBtn = $("dl-csv");
  const jsonBtn = $("dl-json");
  const wrapBtn = $("wrap-toggle");
  const schemaPane = $("schema-pane");
  const schemaToggle = $("schema-toggle");
  const histBox = $("hunt-histogram");
  const histChart = $("hist-chart");
  const histSummary = $("hist-summary");
  const tablesBox = $("hunt-tables");
  let mark = null;
  let grid = null;
  let last = null; // {data, query, window}
  let escPressed = false;
  let written = ""; // the fragment this page wrote itself (a hashchange to it is not a new link)
  let schema = null;
  let language = null;
  let wrap = localStorage.getItem(WRAP) === "1";
  let running = 0;

  const timeRange = new HV.TimeRange($("time-range-box"), { id: "hunt-time", onChange: () => { showApplied(); saveHash(); } });
  const inspector = new HV.Inspector($("inspector"), {
    onFilter: (name, type, v, negate) => addFilter(name, type, v, negate),
    onMove: (d) => moveRecord(d),
    onClose: () => { document.body.classList.remove("inspecting"); if (grid) grid.focus(); },
    range: () => pivotRange(),
  });
  const complete = new HV.Complete(input, () => ({ tables: schema || [], language: language || {} }));

  const selectTab = HV.tabs([tabGrid, tabChart], (b) => {
    if (b === tabChart) { inspector.close(); if (last) drawChart(); }
    saveHash();
  });

  // ---- the editor
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
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); complete.close(); run(); return; }
    if (e.key === "Escape") { escPressed = true; return; }
    if (e.key === "Tab" && !escPressed && !e.shiftKey && !e.ctrlKey && !e.altKey) {
      e.preventDefault();
      const s = input.selectionStart, t = input.selectionEnd;
      input.setRangeText("  ", s, t, "end");
      input.dispatchEvent(new Event("input"));
    }
    escPressed = false;
  });

  // Inserts `text` at the caret (a table name on an empty editor starts a query), then returns to the editor.
  function insert(text, kind) {
    const s = input.selectionStart, t = input.selectionEnd;
    const before = input.value.slice(0, s);
    let piece = text;
    if (kind === "table" && !input.value.trim()) piece = `${text}\n| `;
    else if (before && /[A-Za-z0-9_\])"']$/.test(before)) piece = " " + piece;
    input.focus();
    input.setRangeText(piece, s, t, "end");
    input.dispatchEvent(new Event("input"));
  }

  function setQuery(q) {
    input.value = q;
    mark = null;
    errBox.textContent = "";
    input.removeAttribute("aria-invalid");
    paint();
    localStorage.setItem(DRAFT, q);
  }

  // ---- history
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
    if (historyPicker.value !== "" && h) { setQuery(h.query); input.focus(); }
    historyPicker.value = "";
  });

  // ---- the time range, shown as the filter it applies
  function showApplied(win) {
    HV.clear(applied);
    let w = win;
    if (w === undefined) { try { w = timeRange.resolve(); } catch (e) { applied.append(el("span", { class: "error" }, e.message)); return; } }
    if (!w) {
      applied.append(el("span", { class: "hint" }, "Time range: any time (the query's own filters decide)."));
      return;
    }
    applied.append(el("span", { class: "hint" }, `Time range ${timeRange.label().replace("…", "")}: each table the query reads is filtered on its time column, `),
      el("code", { id: "applied-filter" }, `where Timestamp >= datetime(${w.from}) and Timestamp < datetime(${w.to})`),
      el("span", { class: "hint" }, " (EventTime on AlertEvents). A time filter in the query narrows it further."));
  }

  function pivotRange() {
    const st = timeRange.state();
    return st.range ? (st.range === "all" ? {} : { range: st.range }) : { from: st.from, to: st.to };
  }

  // ---- the URL: query, time range, view, wrap; `run=1` once results show
  function hashState(runFlag) {
    const chartShown = tabChart.getAttribute("aria-selected") === "true";
    return { q: input.value, ...timeRange.hash(), view: chartShown ? "chart" : last && last.data.chart ? "grid" : "",
      wrap: wrap ? "1" : "", run: runFlag ? "1" : "" };
  }
  function saveHash() { written = HV.writeHash(hashState(!!last)); }

  // ---- filters from the grid and the inspector
  function addFilter(name, type, v, negate) {
    setQuery(HV.kql.append(input.value, `where ${HV.kql.predicate(name, type, v, negate)}`));
    run();
  }

  // ---- running
  async function hunt(query, win, maxRows) {
    const body = { query };
    if (win) { body.from = win.from; body.to = win.to; }
    if (maxRows) body.max_rows = maxRows;
    return HV.api("/api/hunt", { method: "POST", body });
  }

  function drawHistogram(data, query, win, token) {
    return HV.histogram.show({
      box: histBox, chart: histChart, summary: histSummary, data, query, win, hunt,
      onZoom: (from, to) => { timeRange.set({ from, to }); showApplied(); run(); },
      current: () => token === running,
    });
  }

  function drawChart() {
    HV.charts.draw(chartBox, last.data.chart, last.data.columns, last.data.rows);
  }

  function openRecord(k) {
    if (!grid) return;
    const pos = grid.view.indexOf(k);
    inspector.show(grid.columns, grid.rows[k], pos, grid.view.length);
    document.body.classList.add("inspecting");
  }

  function moveRecord(d) {
    if (!grid || !inspector.current) return;
    const pos = Math.max(0, Math.min(grid.view.length - 1, inspector.current.pos + d));
    grid.reveal(pos);
    openRecord(grid.indexAt(pos));
    inspector.focus();
  }

  // the grid over one result table; only the first (the query's own rows) takes filters back into the query
  function showGrid(columns, rows, filterable) {
    inspector.close();
    grid = new HV.Grid(gridBox, columns, rows, {
      label: "Hunt results", wrap,
      onOpen: (k) => { openRecord(k); inspector.focus(); },
      onSelect: (k) => { if (inspector.open) openRecord(k); },
      onFilter: filterable ? (i, v, negate) => addFilter(columns[i].name, columns[i].type, v, negate) : null,
    });
  }

  // fork / facet: one button per result table, by name
  function showTables(data) {
    HV.clear(tablesBox);
    const tables = data.tables || [];
    tablesBox.hidden = tables.length < 2;
    tables.forEach((t, i) => {
      const b = el("button", { type: "button", "aria-pressed": String(i === 0), "data-table": t.name },
        `${t.name} (${HV.fmtNum(t.row_count)})`);
      b.addEventListener("click", () => {
        for (const other of tablesBox.querySelectorAll("button")) other.setAttribute("aria-pressed", String(other === b));
        selectTab(tabGrid);
        showGrid(t.columns, t.rows, i === 0);
      });
      tablesBox.append(b);
    });
  }

  async function run() {
    const query = input.value;
    if (!query.trim()) { errBox.textContent = "Type a query first (or pick a sample)."; return; }
    let win;
    try { win = timeRange.resolve(); } catch (err) { errBox.textContent = err.message; return; }
    const token = ++running;
    mark = null;
    paint();
    errBox.textContent = "";
    input.removeAttribute("aria-invalid");
    runBtn.disabled = true;
    summary.textContent = "Running…";
    showApplied(win);
    try {
      const data = await hunt(query, win);
      if (token !== running) return;
      last = { data, query, window: win };
      const t = data.timing;
      summary.textContent = `${HV.fmtNum(data.row_count)} rows${data.truncated ? " (truncated)" : ""} · ${t.total_ms} ms ` +
        `(compile ${t.compile_ms} ms, execute ${t.execute_ms} ms, ${data.engine})`;
      if (data.window) showApplied(data.window);
      showGrid(data.columns, data.rows, true);
      showTables(data);
      csvBtn.disabled = jsonBtn.disabled = false;
      const chartable = HV.charts.supported(data.chart);
      tabChart.disabled = !data.chart;
      remember(query, data.row_count, true);
      const wantChart = data.chart && chartable && HV.readHash().view !== "grid";
      if (wantChart) { selectTab(tabChart); } else { selectTab(tabGrid); HV.clear(chartBox); }
      if (data.chart && !chartable) HV.charts.draw(chartBox, data.chart, data.columns, data.rows);
      if (!data.row_count && win) {
        errBox.append(el("span", { class: "hint" }, `No rows in ${timeRange.label()}. `),
          el("button", { type: "button", class: "link", id: "widen-range", onclick: () => { timeRange.set({ range: "all" }); run(); } }, "Search any time"));
      }
      saveHash();
      document.body.dataset.ran = String(token);
      drawHistogram(data, query, win, token).then(() => { if (token === running) document.body.dataset.histogram = String(token); });
    } catch (err) {
      if (token !== running) return;
      summary.textContent = "";
      if (err instanceof HV.ApiError && err.status === 400 && err.body && err.body.error && err.body.error.line !== undefined) {
        showError(err.body, err.status); remember(query, null, false);
      } else errBox.textContent = HV.errorText(err);
      document.body.dataset.ran = String(token);
    } finally {
      if (token === running) runBtn.disabled = false;
    }
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

  // ---- controls
  function setWrap(on) {
    wrap = on;
    localStorage.setItem(WRAP, on ? "1" : "0");
    wrapBtn.setAttribute("aria-pressed", String(on));
    if (grid) grid.setWrap(on);
    saveHash();
  }
  function setSchemaOpen(on) {
    schemaPane.hidden = !on;
    schemaToggle.setAttribute("aria-expanded", String(on));
    document.body.classList.toggle("schema-closed", !on);
    localStorage.setItem(SCHEMA_OPEN, on ? "1" : "0");
  }

  runBtn.addEventListener("click", run);
  wrapBtn.addEventListener("click", () => setWrap(!wrap));
  schemaToggle.addEventListener("click", () => setSchemaOpen(schemaPane.hidden));
  csvBtn.addEventListener("click", () => grid && HV.download("hunt-results.csv", grid.toCSV(), "text/csv"));
  jsonBtn.addEventListener("click", () => grid && HV.download("hunt-results.json", grid.toJSON(), "application/json"));
  $("hunt-link").addEventListener("click", () => {
    const url = `${location.origin}${location.pathname}#${HV.hashOf(hashState(true))}`;
    HV.copy(url, "a link to this hunt");
  });
  $("keys-help").addEventListener("click", () => HV.keys.show());
  window.addEventListener("resize", () => {
    if (last && last.data.chart && !chartBox.hidden) drawChart();
  });
  $("inspector").addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); inspector.close(); return; }
    if (HV.isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j" || e.key === "k") { e.preventDefault(); moveRecord(e.key === "j" ? 1 : -1); }
  });

  HV.keys.describe("Hunting", "Ctrl+Enter / ⌘+Enter", "Run the query (in the editor)");
  HV.keys.describe("Hunting", "Ctrl+Space", "Suggest tables, columns, operators and functions (in the editor)");
  HV.keys.describe("Hunting", "Esc, then Tab", "Leave the editor (Tab alone indents)");
  HV.keys.add("Hunting", "/", "Go to the editor", "/", () => input.focus());
  HV.keys.add("Hunting", "s", "Show or hide the schema", "s", () => setSchemaOpen(schemaPane.hidden));
  HV.keys.add("Hunting", "t", "Go to the time range", "t", () => timeRange.select.focus());
  HV.keys.add("Hunting", "g", "Go to the results grid", "g", () => grid && grid.focus());
  HV.keys.add("Hunting", "w", "Wrap long values in the grid (or not)", "w", () => setWrap(!wrap));
  HV.keys.describe("Results grid", "↑ ↓ / j k", "Previous or next row");
  HV.keys.describe("Results grid", "← → / h l", "Previous or next cell");
  HV.keys.describe("Results grid", "Home / End", "First or last cell of the row");
  HV.keys.describe("Results grid", "PageUp / PageDown", "Previous or next page of rows");
  HV.keys.describe("Results grid", "Enter", "Inspect the record (every value whole, JSON, copy, pivots)");
  HV.keys.describe("Results grid", "c", "Copy the cell's value");
  HV.keys.describe("Results grid", "+ / -", "Keep only, or drop, rows with the cell's value (adds a where and runs)");
  HV.keys.describe("Results grid", "Alt+← / Alt+→", "Narrow or widen the column (on its header)");
  HV.keys.describe("Record inspector", "j / k", "Next or previous record");
  HV.keys.describe("Record inspector", "Esc", "Close the inspector, back to the grid");
  HV.keys.describe("Hit histogram", "← → (Shift to extend), Enter", "Pick bars and zoom the time range to them");

  // ---- start: the URL's state wins over the draft
  wrapBtn.setAttribute("aria-pressed", String(wrap));
  setSchemaOpen(localStorage.getItem(SCHEMA_OPEN) !== "0" && window.innerWidth > 820);
  input.value = localStorage.getItem(DRAFT) || "";
  paint();
  fillHistory();
  showApplied();
  await HV.ready();
  const loads = await Promise.allSettled([HV.api("/api/hunt/samples"), HV.api("/api/hunt/schema"), HV.api("/api/hunt/language")]);
  const [samplesRes, schemaRes, langRes] = loads;
  if (schemaRes.status === "fulfilled") {
    schema = schemaRes.value.tables;
    HV.pivots.setSchema(schema);
    new HV.SchemaBrowser(schemaPane, schema, { onInsert: insert });
  } else {
    HV.clear(schemaPane).append(el("p", { class: "error" }, `Schema: ${HV.errorText(schemaRes.reason)}`));
  }
  if (langRes.status === "fulfilled") language = langRes.value;
  if (samplesRes.status === "fulfilled") {
    const samples = samplesRes.value.value;
    for (const smp of samples) samplePicker.append(el("option", { value: smp.name, title: smp.description }, smp.title));
    samplePicker.addEventListener("change", () => {
      const smp = samples.find((x) => x.name === samplePicker.value);
      if (smp) { setQuery(`// ${smp.title}: ${smp.description}\n${smp.query}`); input.focus(); }
      samplePicker.value = "";
    });
    if (!input.value && samples.length) setQuery(samples[0].query);
  } else {
    errBox.textContent = HV.errorText(samplesRes.reason);
  }

  // links like /ui/hunt#q=<query>&range=7d&run=1 (the demo prints them; pivots make them) open that hunt
  async function openHash() {
    const h = HV.readHash();
    if (h.q === undefined && !h.range && !h.from) return;
    if (h.q !== undefined) setQuery(h.q);
    timeRange.set(HV.TimeRange.fromHash(h));
    showApplied();
    if (h.wrap) setWrap(true);
    written = location.hash.slice(1);
    if (h.run === "1") await run();
  }
  window.addEventListener("hashchange", () => {
    if (location.hash.slice(1) !== written) openHash();
  });
  await openHash();
  document.body.dataset.ready = "true";
})();
