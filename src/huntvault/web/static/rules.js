// huntvault Rules page: the detection rules of the rules folder with their last run in the scheduler, the alerts
// they raised (per day, each pivoting to a hunt), and a backtest of one with its alerts per day; state in the URL.
"use strict";

(async () => {
  const { el } = HV;
  const $ = (id) => document.getElementById(id);
  const errBox = $("rules-error");
  const form = $("backtest-form");
  const select = $("backtest-rule");
  const fromInput = $("backtest-from");
  const toInput = $("backtest-to");
  const runBtn = $("backtest-run");
  const summary = $("backtest-summary");
  const btErr = $("backtest-error");
  const chartBox = $("backtest-chart");
  const detRule = $("detections-rule");
  const detCount = $("detections-count");
  const detErr = $("detections-error");
  const detGrid = $("detections-grid");
  const SEVERITY = { High: "bad", Medium: "warn", Low: "", Informational: "" };
  const MAX_ALERTS = 1000;
  let rules = [];
  let runs = { state: false, rules: {} };
  let grid = null;
  let backtested = false;

  const inspector = new HV.Inspector($("inspector"), {
    onMove: (d) => moveRecord(d),
    onClose: () => { document.body.classList.remove("inspecting"); if (grid) grid.focus(); },
    range: (r) => (r.WindowStart ? { from: r.WindowStart, to: r.WindowEnd } : {}),
    actions: (r) => alertActions(r),
  });

  function saveHash() {
    HV.writeHash({ alerts: detRule.value, rule: select.value, from: fromInput.value, to: toInput.value, backtest: backtested ? "1" : "" });
  }

  function ago(iso) {
    const t = Date.parse(iso);
    return Number.isFinite(t) ? `${HV.fmtDuration((Date.now() - t) / 1000)} ago` : "";
  }

  function huntRule(rule, range) {
    const header = `// Rule ${rule.id}: ${rule.name} (every ${rule.every}, lookback ${rule.lookback})\n`;
    return HV.pivots.huntHref(header + rule.query.trim(), range || {});
  }

  function renderRules(data) {
    $("rules-folder").textContent =
      `${data.rules.length} rules in ${data.rules_dir}` + (data.problems.length ? `, ${data.problems.length} files that do not load` : "") +
      (runs.state ? ` · scheduler watermark ${HV.fmtTime(runs.watermark) || "none yet"}` : " · the scheduler has not run yet (huntvault detect)");
    const list = HV.clear($("rules-list"));
    list.append(HV.table([
      { key: "id", label: "Id", fmt: (v) => el("code", {}, v) },
      { key: "name", label: "Name", class: "wrap" },
      { key: "shape", label: "Shape" },
      { key: "severity", label: "Severity", fmt: (v) => el("span", { class: `badge ${SEVERITY[v] ?? ""}` }, v) },
      { key: "every", label: "Schedule", fmt: (v, r) => `every ${v}, lookback ${r.lookback}` + (r.enabled ? "" : " (disabled)") },
      { key: "tactics", label: "Tactics", class: "wrap", fmt: (v, r) => [...v, ...r.techniques].join(", ") },
      { key: "id", label: "Last run", class: "time", fmt: (v) => {
        const s = runs.rules[v];
        if (!s || !s.last_window_end) return el("span", { class: "hint" }, "never");
        return el("span", { title: `the last window run ended ${HV.fmtTime(s.last_window_end)} (${ago(s.last_window_end)})` },
          HV.fmtTime(s.last_window_end).slice(0, 16),
          s.undelivered_windows ? el("span", { class: "badge warn" }, ` ${s.undelivered_windows} undelivered`) : "");
      } },
      { key: "id", label: "Windows", class: "num", fmt: (v) => HV.fmtNum((runs.rules[v] || {}).windows || 0) },
      { key: "id", label: "Alerts", class: "num", fmt: (v) => {
        const n = (runs.rules[v] || {}).alerts || 0;
        return n ? el("button", { type: "button", class: "link", "data-alerts": v, onclick: () => { detRule.value = v; loadDetections(); } }, HV.fmtNum(n)) : "0";
      } },
      { key: "id", label: "", fmt: (v, r) => el("span", { class: "row-actions" },
        el("a", { class: "mini pivot", href: huntRule(r), "data-hunt": v, title: "Open the rule's query in Hunting" }, "Hunt"),
        el("button", { type: "button", class: "mini", "data-backtest": v, onclick: () => { select.value = v; form.scrollIntoView(); select.focus(); } }, "Backtest")) },
    ], data.rules, { label: "Detection rules", empty: "No rule in the rules folder." }));
    const problems = $("rules-problems");
    HV.clear(problems);
    $("rules-problems-section").hidden = !data.problems.length;
    problems.append(HV.table([
      { key: "path", label: "File", fmt: (v, r) => `${v}${r.line ? `:${r.line}:${r.column}` : ""}` },
      { key: "field", label: "Field", fmt: (v) => v ? el("code", {}, v) : "" },
      { key: "message", label: "Why", class: "wrap" },
    ], data.problems, { label: "Rule files that do not load" }));
    HV.clear(select);
    for (const r of data.rules) select.append(el("option", { value: r.id }, `${r.name} (${r.id})`));
    for (const r of data.rules) detRule.append(el("option", { value: r.id }, r.name));
  }

  // ---- the alerts the scheduler raised (huntvault's own HuntvaultAlerts table, read with a hunt)
  function detectionsQuery() {
    const where = detRule.value ? `\n| where RuleId == ${HV.kql.str(detRule.value)}` : "";
    return `HuntvaultAlerts${where}\n| sort by Timestamp desc\n| take ${MAX_ALERTS}`;
  }
  function perDayQuery() {
    const where = detRule.value ? `\n| where RuleId == ${HV.kql.str(detRule.value)}` : "";
    return `HuntvaultAlerts${where}\n| summarize Alerts = count() by Day = bin(Timestamp, 1d), RuleId\n| sort by Day asc` +
      "\n| render columnchart with (title = \"Alerts raised per day\")";
  }

  async function loadDetections() {
    detErr.textContent = "";
    saveHash();
    $("detections-hunt").href = HV.pivots.huntHref(detectionsQuery(), {});
    try {
      const [list, days] = await Promise.all([
        HV.api("/api/hunt", { method: "POST", body: { query: detectionsQuery() } }),
        HV.api("/api/hunt", { method: "POST", body: { query: perDayQuery() } }),
      ]);
      inspector.close();
      detCount.textContent = `${HV.fmtNum(list.row_count)} alert${list.row_count === 1 ? "" : "s"}` +
        (list.row_count >= MAX_ALERTS ? ` (the newest ${MAX_ALERTS})` : "");
      HV.clear($("detections-chart"));
      if (days.rows.length) {
        const rows = days.rows.map((r) => [String(r[0]).slice(0, 10), r[1], r[2]]);
        HV.charts.draw($("detections-chart"), days.chart,
          [{ name: "Day", type: "string" }, { name: "RuleId", type: "string" }, { name: "Alerts", type: "long" }], rows, { height: 220 });
      }
      const cols = ["Timestamp", "Severity", "Title", "DeviceName", "RuleId", "GroupKey", "RowCount", "WindowStart", "WindowEnd"];
      const idx = cols.map((c) => list.columns.findIndex((x) => x.name === c));
      grid = new HV.Grid(detGrid, idx.map((i) => list.columns[i]), list.rows.map((r) => idx.map((i) => r[i])), {
        label: "Alerts raised",
        onOpen: (k) => { openRecord(list, k); inspector.focus(); },
        onSelect: (k) => { if (inspector.open) openRecord(list, k); },
      });
      if (!list.row_count) {
        HV.clear(detGrid).append(el("p", { class: "hint" }, runs.state
          ? "No alert raised yet." : "No alert raised yet: run `huntvault detect` (the demo does)."));
      }
      document.body.dataset.detections = String(list.row_count);
    } catch (err) {
      detErr.textContent = HV.errorText(err);
    }
  }

  function openRecord(list, k) {
    const pos = grid.view.indexOf(k);
    inspector.show(list.columns, list.rows[k], pos, grid.view.length);
    inspector.list = list;
    document.body.classList.add("inspecting");
  }
  function moveRecord(d) {
    if (!grid || !inspector.current) return;
    const pos = Math.max(0, Math.min(grid.view.length - 1, inspector.current.pos + d));
    grid.reveal(pos);
    openRecord(inspector.list, grid.indexAt(pos));
    inspector.focus();
  }

  // alert -> hunt: the rule's own query over the window that raised it; the device's timeline over it
  function alertActions(r) {
    const out = [];
    const rule = rules.find((x) => x.id === r.RuleId);
    const win = r.WindowStart && r.WindowEnd ? { from: r.WindowStart, to: r.WindowEnd } : null;
    if (rule && win) out.push({ id: "hunt-window", label: "Hunt the rule over its window", href: huntRule(rule, win) });
    if (r.DeviceName && win) out.push({ id: "timeline", label: "Device timeline of the window", href: HV.pivots.deviceHref(r.DeviceName, win) });
    return out;
  }

  function renderReport(r) {
    summary.textContent = `${HV.fmtNum(r.alerts)} alerts in ${HV.fmtNum(r.windows)} windows · ${r.path}` +
      (r.fallback ? ` (${r.fallback})` : "") + ` · ${r.run_seconds} s`;
    const rows = r.daily.map((d) => [d.day, d.alerts]);
    HV.charts.draw(chartBox, { visualization: "columnchart", title: `Alerts per day · ${r.name}`, xcolumn: "day" },
      [{ name: "day", type: "string" }, { name: "alerts", type: "long" }], rows);
    $("backtest-estimate").textContent =
      `Estimated alerts per day going forward: ${r.estimated_alerts_per_day} · ${HV.fmtNum(r.rows)} result rows, ` +
      `${HV.fmtNum(r.suppressed)} suppressed · every ${r.every}, lookback ${r.lookback}`;
    const ents = [];
    for (const [kind, values] of Object.entries(r.entities)) {
      for (const [value, n] of Object.entries(values).slice(0, 5)) ents.push({ kind, value, n });
    }
    HV.clear($("backtest-entities")).append(HV.table([
      { key: "kind", label: "Entity" }, { key: "value", label: "Value", class: "wrap" },
      { key: "n", label: "Alerts", class: "num", fmt: HV.fmtNum },
    ], ents, { label: "Top entities", caption: "Top entities", empty: "No alert." }));
    HV.clear($("backtest-busiest")).append(HV.table([
      { key: "from", label: "Window from", class: "time", fmt: HV.fmtTime },
      { key: "to", label: "to", class: "time", fmt: HV.fmtTime },
      { key: "alerts", label: "Alerts", class: "num" }, { key: "rows", label: "Rows", class: "num" },
      { key: "from", label: "", fmt: (v, w) => {
        const rule = rules.find((x) => x.id === select.value);
        return rule ? el("a", { class: "mini pivot", href: huntRule(rule, { from: w.from, to: w.to }) }, "Hunt this window") : "";
      } },
    ], r.busiest_windows, { label: "Busiest windows", caption: "Busiest windows", empty: "No window found rows." }));
  }

  async function run(ev) {
    if (ev) ev.preventDefault();
    btErr.textContent = "";
    runBtn.disabled = true;
    summary.textContent = "Backtesting…";
    try {
      const report = await HV.api("/api/detect/backtest",
        { method: "POST", body: { rule: select.value, from: fromInput.value, to: toInput.value } });
      renderReport(report);
      backtested = true;
      saveHash();
      document.body.dataset.backtest = "done";
    } catch (err) {
      summary.textContent = "";
      btErr.textContent = HV.errorText(err);
    } finally {
      runBtn.disabled = false;
    }
  }

  form.addEventListener("submit", run);
  detRule.addEventListener("change", loadDetections);
  for (const input of [select, fromInput, toInput]) input.addEventListener("change", () => { backtested = false; saveHash(); });
  $("rules-link").addEventListener("click", () => HV.copy(location.href, "a link to this view"));
  $("keys-help").addEventListener("click", () => HV.keys.show());
  $("inspector").addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); inspector.close(); return; }
    if (HV.isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j" || e.key === "k") { e.preventDefault(); moveRecord(e.key === "j" ? 1 : -1); }
  });
  HV.keys.add("Rules", "a", "Go to the alerts raised", "a", () => (grid ? grid.focus() : detRule.focus()));
  HV.keys.add("Rules", "b", "Go to the backtest form", "b", () => select.focus());
  HV.keys.describe("Alerts raised", "↑ ↓ / j k, Enter", "Move between alerts; inspect one (hunt its window, its device)");

  await HV.ready();
  try {
    const [data, status, schema] = await Promise.all([
      HV.api("/api/detect/rules"), HV.api("/api/detect/status"), HV.api("/api/hunt/schema"),
    ]);
    runs = status;
    rules = data.rules;
    HV.pivots.setSchema(schema.tables);
    renderRules(data);
  } catch (err) {
    errBox.textContent = HV.errorText(err);
  }
  const h = HV.readHash();
  // the backtest range defaults to the archive's last week of data (not the calendar's)
  const newest = Math.max(...HV.pivots.tables().map((t) => Date.parse(t.newest)).filter(Number.isFinite));
  const today = new Date(Number.isFinite(newest) ? newest : Date.now());
  const weekAgo = new Date(today.getTime() - 6 * 86400000);
  if (h.rule && rules.some((r) => r.id === h.rule)) select.value = h.rule;
  if (h.alerts && rules.some((r) => r.id === h.alerts)) detRule.value = h.alerts;
  toInput.value = h.to || toInput.value || today.toISOString().slice(0, 10);
  fromInput.value = h.from || fromInput.value || weekAgo.toISOString().slice(0, 10);
  await loadDetections();
  if (h.backtest === "1") await run();
  document.body.dataset.ready = "true";
})();
