// huntvault Alerts page: forwarded alerts with machine, evidence and delivery state per sink.
"use strict";

(async () => {
  const { el } = HV;
  const list = document.getElementById("alerts-list");
  const filter = document.getElementById("alerts-filter");
  const countBox = document.getElementById("alerts-count");
  const errBox = document.getElementById("alerts-error");
  let data = null;
  let hasAlertTables = false;

  const SEVERITY = { High: "bad", Medium: "warn", Low: "", Informational: "" };
  const DELIVERY = { sent: ["delivered", "ok"], pending: ["queued", "warn"], dead: ["dead-lettered", "bad"] };

  function evidenceText(e) {
    const main = e.fileName || e.processCommandLine || e.ipAddress || e.url || e.accountName || e.userPrincipalName ||
      e.registryKey || e.sha1 || "";
    const extra = e.filePath ? ` in ${e.filePath}` : e.domainName && e.accountName ? ` (${e.domainName})` : "";
    return `${main}${extra}`;
  }

  function card(a, sinks) {
    const m = a.machine || {};
    const deliveries = el("ul", { class: "deliveries", "aria-label": "Delivery per sink" }, sinks.map((s) => {
      const d = a.deliveries[s];
      const [text, kind] = d ? DELIVERY[d.state] || [d.state, ""] : ["not queued", ""];
      const title = d ? [d.at ? `at ${HV.fmtTime(d.at)}` : "", d.reason || "", d.version ? `version ${HV.fmtTime(d.version)}` : ""].filter(Boolean).join(" · ") : "";
      return el("li", { "data-sink": s, "data-state": d ? d.state : "none" }, el("span", { class: "sink-name" }, s), " ",
        el("span", { class: `badge ${kind}`, title }, text));
    }));
    const evidence = a.evidence || [];
    const details = el("details", { class: "evidence" },
      el("summary", {}, `${evidence.length} evidence item${evidence.length === 1 ? "" : "s"}`),
      evidence.length ? HV.table([
        { key: "entityType", label: "Entity" },
        { key: "x", label: "What", class: "wrap", fmt: (v, e) => evidenceText(e) },
        { key: "detectionStatus", label: "Detection" },
        { key: "evidenceCreationTime", label: "Seen", fmt: HV.fmtTime },
      ], evidence, { label: "Evidence" }) : el("p", { class: "hint" }, "No evidence in the forwarded record."));
    const machine = [m.computerDnsName || m.id || "unknown machine", m.osPlatform, m.healthStatus,
      m.riskScore ? `risk ${m.riskScore}` : "", m.lastIpAddress].filter(Boolean).join(" · ");
    return el("article", { class: "alert-card", "data-alert": a.id, tabindex: "0", "aria-label": a.title || a.id },
      pivots(a),
      el("header", {},
        el("span", { class: `badge ${SEVERITY[a.severity] ?? ""}` }, a.severity || "?"), " ",
        el("h2", {}, a.title || (a.body_known ? a.id : `${a.id} (body not kept locally)`))),
      el("p", { class: "meta" },
        el("span", { class: "machine" }, machine), " · ",
        `${a.status || ""}${a.classification ? " (" + a.classification + ")" : ""}`, " · ",
        `updated ${HV.fmtTime(a.lastUpdateTime)}`, a.incidentId ? ` · incident ${a.incidentId}` : "",
        (a.mitreTechniques || []).length ? ` · ${a.mitreTechniques.join(", ")}` : ""),
      deliveries, details);
  }

  // Alert -> hunt: the evidence on the machine around the alert, the machine's timeline, the alert's rows.
  function pivots(a) {
    const created = a.alertCreationTime || a.lastUpdateTime;
    const day = HV.pivots.around(created, 86400e3, 86400e3);

    const links = [];
    const q = HV.pivots.evidenceQuery(a);
    if (q) links.push(el("a", { class: "mini pivot", "data-pivot": "hunt", href: HV.pivots.huntHref(q, day || {}),
      title: "Hunt the alert's files, hashes, IPs, URLs and accounts on its machine, a day either side" }, "Hunt the evidence"));
    const device = (a.machine || {}).computerDnsName;
    if (device) links.push(el("a", { class: "mini pivot", "data-pivot": "timeline", href: HV.pivots.deviceHref(device, day || {}),
      title: "The machine's events a day either side of the alert (its histogram shows where to zoom)" }, "Device timeline"));
    if (hasAlertTables) {
      links.push(el("a", { class: "mini pivot", "data-pivot": "rows", href: HV.pivots.huntHref(
        `// Alert ${a.id} as the streaming export has it\nAlertInfo\n| where AlertId == ${HV.kql.str(a.id)}\n` +
        `| join kind=leftouter (AlertEvidence | where AlertId == ${HV.kql.str(a.id)}) on AlertId`, {}),
      title: "AlertInfo and AlertEvidence rows of this alert in the archive" }, "Alert rows"));
    }
    return el("p", { class: "alert-pivots" }, links);
  }

  function render() {
    HV.clear(list);
    if (!data) return;
    const q = filter.value.trim().toLowerCase();
    const rows = data.value.filter((a) => !q || JSON.stringify(a).toLowerCase().includes(q));
    countBox.textContent = `${HV.fmtNum(rows.length)} of ${HV.fmtNum(data.total)} alerts` +
      (data.total > data.value.length ? ` (newest ${data.value.length} loaded)` : "");
    if (!data.total) {
      list.append(el("p", { class: "hint" }, data.sinks.length
        ? "No alert forwarded yet: run `huntvault forward`."
        : "No forwarder configured ([forward] in huntvault.toml)."));
      return;
    }
    for (const a of rows) list.append(card(a, data.sinks));
    drawPerDay(rows);
  }

  // Alerts per day (by creation time) and severity, for the alerts the filter keeps.
  function drawPerDay(rows) {
    const box = document.getElementById("alerts-chart");
    const counts = new Map();
    for (const a of rows) {
      const day = String(a.alertCreationTime || a.lastUpdateTime || "").slice(0, 10);
      if (!day) continue;
      const key = `${day}|${a.severity || "?"}`;
      counts.set(key, (counts.get(key) || 0) + 1);
    }
    const table = [...counts.entries()].map(([k, n]) => [...k.split("|"), n]).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    HV.clear(box);
    if (!table.length) return;
    HV.charts.draw(box, { visualization: "columnchart", title: "Alerts per day (created)", xcolumn: "Day", series: "Severity" },
      [{ name: "Day", type: "string" }, { name: "Severity", type: "string" }, { name: "Alerts", type: "long" }], table, { height: 200 });
  }

  async function load() {
    errBox.textContent = "";
    try {
      data = await HV.api("/api/alerts");
      render();
    } catch (err) {
      errBox.textContent = HV.errorText(err);
    }
  }

  filter.addEventListener("input", () => { render(); HV.writeHash({ filter: filter.value }); });
  document.getElementById("alerts-refresh").addEventListener("click", load);
  window.addEventListener("hashchange", () => { filter.value = HV.readHash().filter || ""; render(); });
  HV.keys.add("Alerts", "/", "Go to the filter", "/", () => filter.focus());
  filter.value = HV.readHash().filter || "";
  await HV.ready();
  try {
    const tables = (await HV.api("/api/hunt/schema")).tables;
    HV.pivots.setSchema(tables);
    hasAlertTables = tables.some((t) => t.name === "AlertInfo" && t.rows) && tables.some((t) => t.name === "AlertEvidence");
  } catch (err) {
    errBox.textContent = `Pivots need the schema: ${HV.errorText(err)}`;
  }
  await load();
  document.body.dataset.ready = "true";
})();
