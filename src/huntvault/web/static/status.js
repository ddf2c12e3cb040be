// huntvault Status page: archive tables, ingestion lag, quarantined lines, indexers, forwarder.
"use strict";

(async () => {
  const { el } = HV;
  const errBox = document.getElementById("status-error");
  const qBtn = document.getElementById("quarantine-show");
  const qBox = document.getElementById("quarantine-lines");
  const Q_PAGE = 50;
  let qOffset = 0;

  function badge(text, kind) { return el("span", { class: `badge ${kind || ""}` }, text); }

  function sinkHealth(s) {
    const h = s.health || {};
    if (h.state === "paused") return badge(`paused: fix ${h.setting} · ${s.pending} queued`, "bad");
    if (h.state === "down") return badge(`down, retrying · ${s.pending} queued`, "warn");
    if (s.dead_letter_files > 0) return badge(`${s.dead_letter_files} dead-letter file(s)`, "bad");
    if (s.pending > 0) return badge(`${s.pending} queued`, "warn");
    if (s.sent > 0) return badge("healthy", "ok");
    return badge("idle", "");
  }

  function apiHealth(h) {
    if (h.state === "paused") return badge(`paused: fix ${h.setting}: ${h.error}`, "bad");
    if (h.state === "down") return badge(`down since ${HV.fmtTime(h.since)}, retrying: ${h.error}`, "warn");
    if (h.state === "ok") return badge("ok", "ok");
    return badge("not tried yet", "");
  }

  function renderArchive(a) {
    const tables = document.getElementById("status-tables");
    const sources = document.getElementById("status-sources");
    HV.clear(tables); HV.clear(sources);
    if (a.error) { tables.append(el("p", { class: "error" }, a.error)); return; }
    tables.append(el("p", { class: "hint" }, `${a.archive} · ${HV.fmtNum(a.total_rows)} rows · ${HV.fmtBytes(a.total_bytes)}`));
    tables.append(HV.table([
      { key: "table", label: "Table" },
      { key: "rows", label: "Rows", class: "num", fmt: HV.fmtNum },
      { key: "bytes", label: "Size", class: "num", fmt: HV.fmtBytes },
      { key: "partitions", label: "Days", class: "num" },
      { key: "parts", label: "Files", class: "num" },
      { key: "min_timestamp", label: "Oldest event", class: "time", fmt: HV.fmtTime },
      { key: "max_timestamp", label: "Newest event", class: "time", fmt: HV.fmtTime },
    ], a.tables, { label: "Archive tables", empty: "The archive is empty." }));
    sources.append(HV.table([
      { key: "source", label: "Source" },
      { key: "rows", label: "Rows", class: "num", fmt: HV.fmtNum },
      { key: "duplicates", label: "Duplicates", class: "num", fmt: HV.fmtNum },
      { key: "quarantined", label: "Quarantined", class: "num", fmt: HV.fmtNum },
      { key: "last_commit", label: "Last commit", fmt: (v, r) => v ? `${HV.fmtTime(v)} (${HV.fmtDuration(r.seconds_since_commit)} ago)` : "never" },
      { key: "newest_event", label: "Newest event", class: "time", fmt: HV.fmtTime },
      { key: "event_lag_seconds", label: "Event lag", class: "num", fmt: HV.fmtDuration },
      { key: "unread_bytes", label: "Unread", class: "num", fmt: HV.fmtBytes },
    ], a.sources || [], { label: "Ingestion sources", empty: "Nothing ingested yet." }));
    document.getElementById("quarantine-count").textContent = `${HV.fmtNum(a.quarantined || 0)} quarantined lines`;
    qBtn.disabled = !a.quarantined;
  }

  function renderIndexers(list) {
    const box = HV.clear(document.getElementById("status-indexers"));
    if (!Array.isArray(list)) { box.append(el("p", { class: "error" }, list.error || "unavailable")); return; }
    box.append(HV.table([
      { key: "index", label: "Index", fmt: (v, r) => el("span", { title: r.name }, v) },
      { key: "last_status", label: "Last run", fmt: (v, r) => badge(v || r.status || "never", v === "success" ? "ok" : v === "transientFailure" || v === "error" ? "bad" : "") },
      { key: "last_end", label: "Finished", class: "time", fmt: HV.fmtTime },
      { key: "documents", label: "Documents", class: "num", fmt: HV.fmtNum },
      { key: "items_processed", label: "Processed", class: "num", fmt: HV.fmtNum },
      { key: "items_failed", label: "Failed", class: "num", fmt: HV.fmtNum },
      { key: "error", label: "Error" },
    ], list, { label: "Indexers", empty: "No index yet." }));
  }

  function renderForwarder(f) {
    const box = HV.clear(document.getElementById("status-forwarder"));
    if (f.error) box.append(el("p", { class: "error" }, f.error));
    if (!f.state) {
      box.append(el("p", { class: "hint" }, f.configured_sinks && f.configured_sinks.length
        ? `Configured sinks: ${f.configured_sinks.join(", ")}. The forwarder has not run yet.`
        : "No forwarder configured ([forward] in huntvault.toml)."));
      return;
    }
    box.append(el("dl", { class: "facts" },
      el("dt", {}, "Cursor (lastUpdateTime)"), el("dd", { id: "forward-cursor" }, HV.fmtTime(f.cursor) || "not set"),
      el("dt", {}, "Defender API calls"), el("dd", {}, HV.fmtNum(f.api_calls)),
      el("dt", {}, "Alert versions polled"), el("dd", {}, HV.fmtNum(f.alert_versions_polled)),
      el("dt", {}, "Forwarder process"), el("dd", {}, f.running ? "running" : "not running"),
      el("dt", {}, "Defender API"), el("dd", { id: "forward-defender" }, apiHealth(f.defender || {}))));
    const rows = Object.entries(f.sinks || {}).map(([name, s]) => Object.assign({ name }, s));
    box.append(HV.table([
      { key: "name", label: "Sink" },
      { key: "health", label: "Health", fmt: (v, r) => sinkHealth(r) },
      { key: "sent", label: "Sent", class: "num", fmt: HV.fmtNum },
      { key: "pending", label: "Queued", class: "num", fmt: HV.fmtNum },
      { key: "dead_lettered", label: "Dead-lettered", class: "num", fmt: HV.fmtNum },
      { key: "replayed", label: "Replayed", class: "num", fmt: HV.fmtNum },
      { key: "dead_letter_files", label: "Dead-letter files", class: "num", fmt: HV.fmtNum },
      { key: "error", label: "Last error", class: "wrap", fmt: (v, r) => (r.health && r.health.error) || "" },
    ], rows, { label: "Sinks", empty: "No sink has delivered yet." }));
  }

  async function loadQuarantine() {
    HV.clear(qBox);
    HV.writeHash({ quarantine: String(qOffset / Q_PAGE + 1) }); // the open lines and their page are shareable
    try {
      const data = await HV.api(`/api/status/quarantine?offset=${qOffset}&limit=${Q_PAGE}`);
      qBox.append(HV.table([
        { key: "file", label: "Quarantine file", fmt: (v, r) => `${v}:${r.file_line}` },
        { key: "source", label: "Source" },
        { key: "stream", label: "Stream", class: "wrap" },
        { key: "offset", label: "Byte offset", class: "num", fmt: HV.fmtNum },
        { key: "reason", label: "Reason", class: "wrap" },
        { key: "line", label: "Line", class: "mono wrap", fmt: (v) => el("code", {}, String(v ?? "").slice(0, 600)) },
      ], data.items, { label: "Quarantined lines", class: "quarantine" }));
      const pages = Math.ceil(data.total / Q_PAGE);
      if (pages > 1) {
        const page = qOffset / Q_PAGE;
        qBox.append(el("div", { class: "pager" },
          el("button", { type: "button", disabled: page === 0, onclick: () => { qOffset -= Q_PAGE; loadQuarantine(); } }, "‹ Prev"),
          el("span", { class: "hint" }, `page ${page + 1} of ${pages}`),
          el("button", { type: "button", disabled: page >= pages - 1, onclick: () => { qOffset += Q_PAGE; loadQuarantine(); } }, "Next ›")));
      }
    } catch (err) {
      qBox.append(el("p", { class: "error" }, HV.errorText(err)));
    }
  }

  qBtn.addEventListener("click", () => {
    const open = qBox.hidden;
    qBox.hidden = !open;
    qBtn.setAttribute("aria-expanded", open ? "true" : "false");
    qBtn.textContent = open ? "Hide lines" : "Show lines";
    if (open) loadQuarantine(); else HV.writeHash({});
  });

  function card(href, label, value, note, kind) {
    return el("li", { class: `card ${kind || ""}` }, el("a", { href },
      el("span", { class: "card-label" }, label), el("span", { class: "card-value" }, value),
      el("span", { class: "card-note" }, note)));
  }

  function renderCards(d) {
    const box = HV.clear(document.getElementById("status-cards"));
    const a = d.archive || {};
    const srcs = a.sources || [];
    const lag = srcs.length ? Math.max(...srcs.map((s) => s.seconds_since_commit ?? 0)) : null;
    const idx = Array.isArray(d.indexers) ? d.indexers : [];
    const failing = idx.filter((i) => i.last_status && i.last_status !== "success" && i.last_status !== "inProgress").length;
    const f = d.forwarder || {};
    const sinks = Object.values(f.sinks || {});
    const badSinks = sinks.filter((s) => s.dead_letter_files > 0 || s.pending > 0 || (s.health && s.health.state !== "ok" && s.health.state !== "unknown")).length
      + (f.defender && (f.defender.state === "down" || f.defender.state === "paused") ? 1 : 0);
    box.append(
      card("#h-tables", "Archive", a.error ? "—" : `${HV.fmtNum(a.total_rows)} rows`, a.error ? a.error : `${(a.tables || []).length} tables · ${HV.fmtBytes(a.total_bytes)}`, a.error ? "bad" : ""),
      card("#h-sources", "Ingestion", srcs.length ? `${srcs.length} source${srcs.length > 1 ? "s" : ""}` : "none",
        lag !== null ? `last commit ${HV.fmtDuration(lag)} ago` : "nothing ingested yet", ""),
      card("#h-quarantine", "Quarantine", HV.fmtNum(a.quarantined || 0), "malformed lines kept", a.quarantined ? "warn" : "ok"),
      card("#h-indexers", "Indexers", `${idx.length}`, failing ? `${failing} failing` : "all up to date", failing ? "bad" : "ok"),
      card("#h-forwarder", "Forwarder", f.state ? `${sinks.length} sink${sinks.length === 1 ? "" : "s"}` : "not run",
        f.state ? (badSinks ? `${badSinks} part(s) need attention` : `cursor ${HV.fmtTime(f.cursor).slice(0, 16)}`) : "", f.state ? (badSinks ? "warn" : "ok") : ""));
  }

  async function load() {
    errBox.textContent = "";
    try {
      const data = await HV.api("/api/status");
      document.getElementById("status-generated").textContent = `as of ${HV.fmtTime(data.generated)}`;
      renderCards(data);
      renderArchive(data.archive);
      renderIndexers(data.indexers);
      renderForwarder(data.forwarder);
      if (!qBox.hidden) loadQuarantine();
    } catch (err) {
      errBox.textContent = HV.errorText(err);
    }
  }

  document.getElementById("status-refresh").addEventListener("click", load);
  await HV.ready();
  const linked = Number(HV.readHash().quarantine);
  if (linked >= 1) qOffset = (Math.floor(linked) - 1) * Q_PAGE;
  await load();
  if (linked >= 1 && qBox.hidden) qBtn.click();
  document.body.dataset.ready = "true";
})();
