// huntvault Rules page: the detection rules of the rules folder, and a backtest of one with its alerts per day.
"use strict";

(async () => {
  const { el } = HV;
  const errBox = document.getElementById("rules-error");
  const form = document.getElementById("backtest-form");
  const select = document.getElementById("backtest-rule");
  const fromInput = document.getElementById("backtest-from");
  const toInput = document.getElementById("backtest-to");
  const runBtn = document.getElementById("backtest-run");
  const summary = document.getElementById("backtest-summary");
  const btErr = document.getElementById("backtest-error");
  const chartBox = document.getElementById("backtest-chart");
  const SEVERITY = { High: "bad", Medium: "warn", Low: "", Informational: "" };

  function renderRules(data) {
    document.getElementById("rules-folder").textContent =
      `${data.rules.length} rules in ${data.rules_dir}` + (data.problems.length ? `, ${data.problems.length} files that do not load` : "");
    const list = HV.clear(document.getElementById("rules-list"));
    list.append(HV.table([
      { key: "id", label: "Id", fmt: (v) => el("code", {}, v) },
      { key: "name", label: "Name", class: "wrap" },
      { key: "shape", label: "Shape" },
      { key: "severity", label: "Severity", fmt: (v) => el("span", { class: `badge ${SEVERITY[v] ?? ""}` }, v) },
      { key: "every", label: "Schedule", fmt: (v, r) => `every ${v}, lookback ${r.lookback}` + (r.enabled ? "" : " (disabled)") },
      { key: "tactics", label: "Tactics", class: "wrap", fmt: (v, r) => [...v, ...r.techniques].join(", ") },
    ], data.rules, { label: "Detection rules", empty: "No rule in the rules folder." }));
    const problems = document.getElementById("rules-problems");
    HV.clear(problems);
    document.getElementById("rules-problems-section").hidden = !data.problems.length;
    problems.append(HV.table([
      { key: "path", label: "File", fmt: (v, r) => `${v}${r.line ? `:${r.line}:${r.column}` : ""}` },
      { key: "field", label: "Field", fmt: (v) => v ? el("code", {}, v) : "" },
      { key: "message", label: "Why", class: "wrap" },
    ], data.problems, { label: "Rule files that do not load" }));
    HV.clear(select);
    for (const r of data.rules) select.append(el("option", { value: r.id }, `${r.name} (${r.id})`));
  }

  function renderReport(r) {
    summary.textContent = `${HV.fmtNum(r.alerts)} alerts in ${HV.fmtNum(r.windows)} windows · ${r.path}` +
      (r.fallback ? ` (${r.fallback})` : "") + ` · ${r.run_seconds} s`;
    const rows = r.daily.map((d) => [d.day, d.alerts]);
    HV.charts.draw(chartBox, { visualization: "columnchart", title: `Alerts per day · ${r.name}`, xcolumn: "day" },
      [{ name: "day", type: "string" }, { name: "alerts", type: "long" }], rows);
    document.getElementById("backtest-estimate").textContent =
      `Estimated alerts per day going forward: ${r.estimated_alerts_per_day} · ${HV.fmtNum(r.rows)} result rows, ` +
      `${HV.fmtNum(r.suppressed)} suppressed · every ${r.every}, lookback ${r.lookback}`;
    const ents = [];
    for (const [kind, values] of Object.entries(r.entities)) {
      for (const [value, n] of Object.entries(values).slice(0, 5)) ents.push({ kind, value, n });
    }
    HV.clear(document.getElementById("backtest-entities")).append(HV.table([
      { key: "kind", label: "Entity" }, { key: "value", label: "Value", class: "wrap" },
      { key: "n", label: "Alerts", class: "num", fmt: HV.fmtNum },
    ], ents, { label: "Top entities", caption: "Top entities", empty: "No alert." }));
    HV.clear(document.getElementById("backtest-busiest")).append(HV.table([
      { key: "from", label: "Window from", class: "time", fmt: HV.fmtTime },
      { key: "to", label: "to", class: "time", fmt: HV.fmtTime },
      { key: "alerts", label: "Alerts", class: "num" }, { key: "rows", label: "Rows", class: "num" },
    ], r.busiest_windows, { label: "Busiest windows", caption: "Busiest windows", empty: "No window found rows." }));
  }

  async function run(ev) {
    ev.preventDefault();
    btErr.textContent = "";
    runBtn.disabled = true;
    summary.textContent = "Backtesting…";
    try {
      const report = await HV.api("/api/detect/backtest",
        { method: "POST", body: { rule: select.value, from: fromInput.value, to: toInput.value } });
      renderReport(report);
      document.body.dataset.backtest = "done";
    } catch (err) {
      summary.textContent = "";
      btErr.textContent = HV.errorText(err);
    } finally {
      runBtn.disabled = false;
    }
  }

  form.addEventListener("submit", run);
  await HV.ready();
  try {
    renderRules(await HV.api("/api/detect/rules"));
  } catch (err) {
    errBox.textContent = HV.errorText(err);
  }
  const today = new Date();
  const weekAgo = new Date(today.getTime() - 6 * 86400000);
  toInput.value = toInput.value || today.toISOString().slice(0, 10);
  fromInput.value = fromInput.value || weekAgo.toISOString().slice(0, 10);
  document.body.dataset.ready = "true";
})();
