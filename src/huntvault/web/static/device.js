// huntvault Device timeline: every table with a DeviceName for one device over a time range, newest first,
// with the record inspector and its pivots; without a device, the devices seen. The KQL is shown, never hidden.
"use strict";

(async () => {
  const { el } = HV;
  const PAGE = 200;
  const $ = (id) => document.getElementById(id);
  const form = $("device-form");
  const nameBox = $("device-name");
  const namesList = $("device-names");
  const errBox = $("device-error");
  const applied = $("device-applied");
  const summary = $("device-summary");
  const tablesBox = $("device-tables");
  const gridBox = $("device-grid");
  const olderBtn = $("device-older");
  const huntLink = $("device-hunt");
  let tables = []; // device tables with rows: names
  let grid = null;
  let shown = null; // {device, records: [{...}], keys: Set, oldest}
  let written = "";
  let running = 0;

  const timeRange = new HV.TimeRange($("device-time-box"), { id: "device-time", onChange: () => showApplied() });
  const inspector = new HV.Inspector($("inspector"), {
    onMove: (d) => moveRecord(d),
    onClose: () => { document.body.classList.remove("inspecting"); if (grid) grid.focus(); },
    range: () => pivotRange(),
    actions: (r) => eventActions(r),
  });

  const join = (...parts) => parts.filter((p) => p !== null && p !== undefined && p !== "").join(" ");
  const account = (r) => (r.AccountName ? `${r.AccountDomain ? r.AccountDomain + "\\" : ""}${r.AccountName}`
    : r.InitiatingProcessAccountName ? `${r.InitiatingProcessAccountDomain ? r.InitiatingProcessAccountDomain + "\\" : ""}${r.InitiatingProcessAccountName}` : "");
  const remote = (r) => join(r.RemoteIP ? `${r.RemoteIP}${r.RemotePort ? ":" + r.RemotePort : ""}` : "", r.RemoteUrl);

  //: table -> one line saying what happened (the inspector shows every value)
  const DESCRIBE = {
    DeviceProcessEvents: (r) => join(r.InitiatingProcessFileName, "→", r.FileName, r.ProcessCommandLine ? `· ${r.ProcessCommandLine}` : ""),
    DeviceNetworkEvents: (r) => join(r.InitiatingProcessFileName, "→", remote(r) || r.LocalIP, r.Protocol ? `(${r.Protocol})` : ""),
    DeviceFileEvents: (r) => join(r.InitiatingProcessFileName, "·", r.FolderPath || r.FileName, r.PreviousFileName ? `(was ${r.PreviousFileName})` : ""),
    DeviceRegistryEvents: (r) => join(r.InitiatingProcessFileName, "·", `${r.RegistryKey || ""}${r.RegistryValueName ? "\\" + r.RegistryValueName : ""}`,
      r.RegistryValueData ? `= ${r.RegistryValueData}` : ""),
    DeviceLogonEvents: (r) => join(r.LogonType, "logon", r.RemoteIP ? `from ${r.RemoteIP}` : "", r.FailureReason ? `(${r.FailureReason})` : ""),
    DeviceImageLoadEvents: (r) => join(r.InitiatingProcessFileName, "loaded", r.FolderPath || r.FileName),
    DeviceEvents: (r) => join(r.InitiatingProcessFileName, "·", r.FileName || r.RemoteUrl || r.RegistryKey || remote(r), r.ProcessCommandLine),
    DeviceInfo: (r) => join(r.OSPlatform, r.OSVersion, r.PublicIP ? `public IP ${r.PublicIP}` : "", r.ExposureLevel ? `exposure ${r.ExposureLevel}` : ""),
    DeviceNetworkInfo: (r) => join(r.NetworkAdapterName, r.MacAddress, r.IPAddresses ? JSON.stringify(r.IPAddresses) : ""),
    DeviceFileCertificateInfo: (r) => join(r.Signer || r.Issuer, "signs", r.SHA1),
    AlertEvidence: (r) => join(r.Title, "·", r.EntityType, r.FileName || r.RemoteIP || r.AccountName || r.RemoteUrl),
  };
  const describe = (r) => (DESCRIBE[r.Table] || ((x) => join(x.FileName || x.FolderPath, remote(x), x.AccountName)))(r);

  function showApplied(win) {
    HV.clear(applied);
    let w = win;
    if (w === undefined) { try { w = timeRange.resolve(); } catch (e) { applied.append(el("span", { class: "error" }, e.message)); return; } }
    if (!w) { applied.append(el("span", { class: "hint" }, "Time range: any time.")); return; }
    applied.append(el("span", { class: "hint" }, `Time range ${timeRange.label().replace("…", "")}: every table is filtered `),
      el("code", {}, `where Timestamp >= datetime(${w.from}) and Timestamp < datetime(${w.to})`));
  }

  function pivotRange() {
    const st = timeRange.state();
    return st.range ? (st.range === "all" ? {} : { range: st.range }) : { from: st.from, to: st.to };
  }

  function unionOf(list) {
    return `union withsource=Table\n    ${list.join(",\n    ")}`;
  }

  // The timeline's KQL: every device table, this device, newest first (one page; `before` pages back).
  function timelineBody(device) {
    const lit = HV.kql.str(device);
    return `// Device timeline: ${tables.length} tables with a DeviceName column, newest first\n${unionOf(tables)}\n` +
      `| where DeviceName =~ ${lit} or DeviceId == ${lit}`;
  }
  function timelineQuery(device, before) {
    return `${timelineBody(device)}${before ? `\n| where Timestamp <= datetime(${before})` : ""}\n| sort by Timestamp desc\n| take ${PAGE}`;
  }
  function devicesQuery() {
    return `// Devices: every table with a DeviceName column\n${unionOf(tables)}\n| where isnotempty(DeviceName)\n` +
      "| summarize Events = count(), FirstSeen = min(Timestamp), LastSeen = max(Timestamp), DeviceId = take_any(DeviceId) by DeviceName\n" +
      "| sort by LastSeen desc";
  }

  async function hunt(query, win, maxRows) {
    const body = { query };
    if (win) { body.from = win.from; body.to = win.to; }
    if (maxRows) body.max_rows = maxRows;
    return HV.api("/api/hunt", { method: "POST", body });
  }

  function saveHash() {
    written = HV.writeHash({ device: nameBox.value.trim(), ...timeRange.hash() });
  }

  function records(data) {
    return data.rows.map((row) => Object.fromEntries(data.columns.map((c, i) => [c.name, row[i]])));
  }
  function columnsOf(data) { return data.columns; }

  const TIMELINE_COLUMNS = [
    { name: "Timestamp", type: "datetime" }, { name: "Table", type: "string" }, { name: "ActionType", type: "string" },
    { name: "Event", type: "string" }, { name: "Account", type: "string" }, { name: "Remote", type: "string" },
  ];

  function renderTimeline() {
    const rows = shown.records.map((r) => [r.Timestamp, r.Table, r.ActionType, describe(r), account(r), remote(r)]);
    grid = new HV.Grid(gridBox, TIMELINE_COLUMNS, rows, {
      label: `Timeline of ${shown.device}`, pageSize: 100,
      onOpen: (k) => { openRecord(k); inspector.focus(); },
      onSelect: (k) => { if (inspector.open) openRecord(k); },
    });
  }

  function openRecord(k) {
    const r = shown.records[k];
    const cols = shown.columns.filter((c) => r[c.name] !== undefined);
    inspector.show(cols, cols.map((c) => r[c.name]), grid.view.indexOf(k), grid.view.length);
    document.body.classList.add("inspecting");
  }
  function moveRecord(d) {
    if (!grid || !inspector.current) return;
    const pos = Math.max(0, Math.min(grid.view.length - 1, inspector.current.pos + d));
    grid.reveal(pos);
    openRecord(grid.indexAt(pos));
    inspector.focus();
  }

  function eventActions(r) {
    const around = HV.pivots.around(r.Timestamp, 5 * 60e3, 5 * 60e3);
    const out = [];
    if (around) {
      out.push({ id: "zoom", label: "Timeline ±5 min", run: () => { timeRange.set(around); load(); } });
      const q = `${r.Table}\n| where DeviceId == ${HV.kql.str(r.DeviceId || "")}` +
        (r.ReportId !== undefined && r.ReportId !== null ? ` and ReportId == ${r.ReportId}` : "") +
        `\n| where Timestamp == datetime(${r.Timestamp})`;
      if (r.DeviceId) out.push({ id: "hunt-event", label: "Hunt this event", href: HV.pivots.huntHref(q, around) });
    }
    return out;
  }

  async function load(older) {
    const device = nameBox.value.trim();
    let win;
    try { win = timeRange.resolve(); } catch (e) { errBox.textContent = e.message; return; }
    const token = ++running;
    errBox.textContent = "";
    showApplied(win);
    saveHash();
    if (!tables.length) { errBox.textContent = "No table with a DeviceName column has data yet: ingest some first."; return; }
    const query = device ? timelineQuery(device, older ? shown.oldest : null) : devicesQuery();
    huntLink.href = HV.pivots.huntHref(device ? timelineQuery(device) : devicesQuery(), pivotRange());
    summary.textContent = older ? "Loading older events…" : "Loading…";
    olderBtn.hidden = true;
    // the histogram counts every event of the device in the range: asked for alongside the page of events
    const histogram = device && !older ? drawHistogram(device, win, token) : null;
    try {
      const data = await hunt(query, win);
      if (token !== running) return;
      if (!device) {
        inspector.close();
        shown = null;
        const devices = records(data);
        HV.clear(namesList).append(...devices.map((d) => el("option", { value: d.DeviceName })));
        summary.textContent = `${HV.fmtNum(devices.length)} devices · pick one to see its timeline`;
        tablesBox.textContent = `${tables.length} tables`;
        grid = new HV.Grid(gridBox, data.columns, data.rows, {
          label: "Devices",
          onOpen: (k) => { nameBox.value = devices[k].DeviceName; load(); },
        });
        document.body.dataset.loaded = String(token);
        return;
      }
      const recs = records(data);
      if (!older) {
        inspector.close();
        shown = { device, records: [], keys: new Set(), columns: columnsOf(data), oldest: null, total: null };
        histogram.then(() => { if (token === running) document.body.dataset.histogram = String(token); });
      }
      const had = shown.records.length;
      for (const r of recs) {
        const key = JSON.stringify(r);
        if (shown.keys.has(key)) continue;
        shown.keys.add(key);
        shown.records.push(r);
      }
      for (const c of data.columns) if (!shown.columns.some((x) => x.name === c.name)) shown.columns.push(c);
      shown.oldest = recs.length ? recs[recs.length - 1].Timestamp : shown.oldest;
      const perTable = {};
      for (const r of shown.records) perTable[r.Table] = (perTable[r.Table] || 0) + 1;
      renderTimeline();
      if (older && shown.records.length > had) grid.reveal(had); // the first event this page added
      olderBtn.hidden = recs.length < PAGE;
      summary.textContent = shown.records.length
        ? `${HV.fmtNum(shown.records.length)} newest events of ${device}${recs.length < PAGE ? " (all in the range)" : ""}`
        : `No event of ${device} in this time range.`;
      tablesBox.textContent = Object.entries(perTable).sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${HV.fmtNum(n)}`).join(" · ");
      document.body.dataset.loaded = String(token);
    } catch (err) {
      if (token !== running) return;
      summary.textContent = "";
      errBox.textContent = HV.errorText(err);
    }
  }

  function drawHistogram(device, win, token) {
    return HV.histogram.show({
      box: $("device-histogram"), chart: $("device-hist-chart"), summary: $("device-hist-summary"),
      data: { columns: [{ name: "Timestamp", type: "datetime" }], rows: [[null]], truncated: true },
      query: timelineBody(device), win, hunt, countAll: true,
      onZoom: (from, to) => { timeRange.set({ from, to }); load(); },
      current: () => token === running,
    });
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  olderBtn.addEventListener("click", () => load(true));
  $("device-link").addEventListener("click", () => HV.copy(`${location.origin}${location.pathname}#${HV.hashOf({ device: nameBox.value.trim(), ...timeRange.hash() })}`, "a link to this timeline"));
  $("keys-help").addEventListener("click", () => HV.keys.show());
  $("inspector").addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); inspector.close(); return; }
    if (HV.isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j" || e.key === "k") { e.preventDefault(); moveRecord(e.key === "j" ? 1 : -1); }
  });
  HV.keys.add("Device timeline", "/", "Go to the device box", "/", () => { nameBox.focus(); nameBox.select(); });
  HV.keys.add("Device timeline", "t", "Go to the time range", "t", () => timeRange.select.focus());
  HV.keys.add("Device timeline", "g", "Go to the timeline grid", "g", () => grid && grid.focus());
  HV.keys.add("Device timeline", "o", "Load older events", "o", () => { if (!olderBtn.hidden) load(true); });
  HV.keys.describe("Timeline grid", "↑ ↓ / j k, ← → / h l", "Move between events and cells");
  HV.keys.describe("Timeline grid", "Enter", "Inspect the event (every value, JSON, pivots)");
  HV.keys.describe("Timeline grid", "c", "Copy the cell's value");
  HV.keys.describe("Record inspector", "j / k, Esc", "Next or previous event; close");

  await HV.ready();
  try {
    const sch = (await HV.api("/api/hunt/schema")).tables;
    HV.pivots.setSchema(sch);
    tables = sch.filter((t) => t.rows && t.columns.some((c) => c.name === "DeviceName") && t.columns.some((c) => c.name === "Timestamp"))
      .map((t) => t.name);
  } catch (err) {
    errBox.textContent = HV.errorText(err);
  }

  async function openHash() {
    const h = HV.readHash();
    nameBox.value = h.device || "";
    timeRange.set(HV.TimeRange.fromHash(h));
    written = location.hash.slice(1);
    await load();
  }
  window.addEventListener("hashchange", () => { if (location.hash.slice(1) !== written) openHash(); });
  await openHash();
  document.body.dataset.ready = "true";
})();
