// huntvault Search explorer: the portal's query-string box over the Azure-compatible search API.
"use strict";

(async () => {
  const { el } = HV;
  const API_VERSION = "2024-07-01";
  const DEFAULT_TOP = 50;
  let written = "";  // the last hash run() wrote itself (a hashchange to it is not a new link)
  const picker = document.getElementById("index-picker");
  const box = document.getElementById("query-string");
  const form = document.getElementById("search-form");
  const facetsBox = document.getElementById("facets");
  const countBox = document.getElementById("search-count");
  const pagerBox = document.getElementById("search-pager");
  const errBox = document.getElementById("search-error");
  const tableBox = document.getElementById("search-table");
  const jsonBox = document.getElementById("search-json");
  HV.tabs([document.getElementById("tab-table"), document.getElementById("tab-json")]);

  // "a=1&b=x y" -> [[a, "1"], [b, "x y"]] (values as typed; `+` stays a plus).
  function parseQS(text) {
    return text.split("&").map((p) => p.trim()).filter(Boolean).map((p) => {
      const i = p.indexOf("=");
      const k = (i < 0 ? p : p.slice(0, i)).trim();
      let v = i < 0 ? "" : p.slice(i + 1);
      try { v = decodeURIComponent(v); } catch (e) { /* typed with a literal % */ }
      return [k, v];
    });
  }
  function formatQS(pairs) { return pairs.map(([k, v]) => `${k}=${v}`).join("&"); }
  function getParam(pairs, name) {
    const p = pairs.find(([k]) => k.toLowerCase() === name.toLowerCase());
    return p ? p[1] : undefined;
  }
  function setParam(pairs, name, value) {
    const rest = pairs.filter(([k]) => k.toLowerCase() !== name.toLowerCase());
    if (value !== undefined && value !== null && value !== "") rest.push([name, value]);
    return rest;
  }

  function odataLiteral(v) {
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    return `'${String(v).replace(/'/g, "''")}'`;
  }

  function facetFilter(field, value) {
    return `${field} eq ${odataLiteral(value)}`;
  }

  function addFilter(field, value) {
    let pairs = parseQS(box.value);
    const clause = facetFilter(field, value);
    const current = getParam(pairs, "$filter");
    if (current && current.includes(clause)) return;
    pairs = setParam(pairs, "$filter", current ? `(${current}) and ${clause}` : clause);
    pairs = setParam(pairs, "$skip", undefined);
    box.value = formatQS(pairs);
    run();
  }

  // {"properties": {"A": 1}} -> {"properties/A": 1} (complex fields become paths, as in $select).
  function flatten(doc, prefix = "", out = {}) {
    for (const [k, v] of Object.entries(doc)) {
      const path = prefix ? `${prefix}/${k}` : k;
      if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, path, out);
      else out[path] = v;
    }
    return out;
  }

  function columnsOf(docs, select) {
    if (select) return select.split(",").map((s) => s.trim()).filter(Boolean);
    const cols = [];
    for (const d of docs.slice(0, 50)) for (const k of Object.keys(d)) if (!cols.includes(k) && !k.startsWith("@search.")) cols.push(k);
    return cols;
  }

  function jsonHtml(value) {
    const text = JSON.stringify(value, null, 2);
    const esc = (t) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    return esc(text).replace(/("(?:[^"\\]|\\.)*")(\s*:)?|\b(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\b|\b(true|false|null)\b/g,
      (m, str, colon, num, lit) => {
        if (str) return colon ? `<span class="j-key">${str}</span>${colon}` : `<span class="j-str">${str}</span>`;
        if (num) return `<span class="j-num">${num}</span>`;
        return `<span class="j-lit">${lit}</span>`;
      });
  }

  function renderFacets(facets, pairs) {
    HV.clear(facetsBox);
    const filter = getParam(pairs, "$filter");
    if (filter) {
      facetsBox.append(el("div", { class: "active-filter" }, el("span", { class: "hint" }, "Filter: "), el("code", {}, filter),
        el("button", { type: "button", class: "link", onclick: () => { box.value = formatQS(setParam(parseQS(box.value), "$filter", undefined)); run(); } }, "Clear")));
    }
    if (!facets || !Object.keys(facets).length) {
      facetsBox.append(el("p", { class: "hint" }, "Add facet=Field to the query string (e.g. facet=DeviceName) to see facets here."));
      return;
    }
    for (const [field, buckets] of Object.entries(facets)) {
      const list = el("ul", { class: "facet-list" });
      for (const b of buckets) {
        const label = b.value !== undefined ? String(b.value) : `${b.from ?? ""}–${b.to ?? ""}`;
        const btn = el("button", { type: "button", class: "facet", "data-field": field, "data-value": label,
          title: `Filter on ${field} = ${label}` }, el("span", { class: "facet-value" }, label || "(empty)"),
        el("span", { class: "facet-count" }, HV.fmtNum(b.count)));
        if (b.value === undefined) btn.disabled = true;
        else btn.addEventListener("click", () => addFilter(field, b.value));
        list.append(el("li", {}, btn));
      }
      facetsBox.append(el("section", { class: "facet-group", "aria-label": `Facet ${field}` }, el("h2", {}, field), list));
    }
  }

  function renderPager(pairs, count, shown) {
    HV.clear(pagerBox);
    const skip = Number(getParam(pairs, "$skip") || 0);
    const top = Number(getParam(pairs, "$top") || DEFAULT_TOP);
    const go = (s) => { box.value = formatQS(setParam(setParam(parseQS(box.value), "$skip", s > 0 ? String(s) : undefined), "$top", String(top))); run(); };
    const hasNext = count !== undefined ? skip + shown < count : shown >= top;
    pagerBox.append(
      el("button", { type: "button", disabled: skip <= 0, onclick: () => go(Math.max(0, skip - top)), "aria-label": "Previous page" }, "‹ Prev"),
      el("span", { class: "hint" }, shown ? `${HV.fmtNum(skip + 1)}–${HV.fmtNum(skip + shown)}` : "none"),
      el("button", { type: "button", disabled: !hasNext, onclick: () => go(skip + top), "aria-label": "Next page" }, "Next ›"));
  }

  async function run() {
    const index = picker.value;
    if (!index) { errBox.textContent = "No index yet: ingest some data first."; return; }
    let pairs = parseQS(box.value);
    if (getParam(pairs, "$count") === undefined) pairs = setParam(pairs, "$count", "true");
    if (getParam(pairs, "$top") === undefined) pairs = setParam(pairs, "$top", String(DEFAULT_TOP));
    if (getParam(pairs, "search") === undefined) pairs = [["search", "*"], ...pairs];
    const params = new URLSearchParams();
    for (const [k, v] of pairs) params.append(k, v);
    params.set("api-version", API_VERSION);
    written = new URLSearchParams({ index, q: box.value }).toString();
    location.hash = written;
    errBox.textContent = "";
    countBox.textContent = "Searching…";
    try {
      const data = await HV.api(`/indexes/${encodeURIComponent(index)}/docs?${params.toString()}`);
      const docs = data.value || [];
      const count = data["@odata.count"];
      countBox.textContent = count !== undefined ? `${HV.fmtNum(count)} documents` : `${docs.length} documents on this page`;
      const select = getParam(pairs, "$select");
      const flat = docs.map((d) => flatten(d));
      const cols = ["@search.score", ...columnsOf(flat, select && select !== "*" ? select : "")];
      const rows = flat.map((d) => cols.map((c) => d[c]));
      new HV.Grid(tableBox, cols.map((c) => ({ name: c, type: c === "@search.score" ? "real" : "string" })), rows,
        { label: "Search results", pageSize: 1000 });
      jsonBox.innerHTML = jsonHtml(data);
      renderFacets(data["@search.facets"], pairs);
      renderPager(pairs, count, docs.length);
    } catch (err) {
      countBox.textContent = "";
      errBox.textContent = HV.errorText(err);
      HV.clear(tableBox);
      jsonBox.textContent = err.body ? JSON.stringify(err.body, null, 2) : "";
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  picker.addEventListener("change", () => run());

  // An index is named by its own name or, as the search API accepts, by its table's name in any case.
  function resolveIndex(name, indexes, tables) {
    if (indexes.includes(name)) return name;
    const low = name.toLowerCase();
    return indexes.find((n) => (tables[n] || "").toLowerCase() === low || n.toLowerCase() === low);
  }

  const sess = await HV.ready();
  const indexes = sess.indexes || [];
  const tables = sess.tables || {};
  for (const name of indexes) {
    picker.append(el("option", { value: name, title: name }, tables[name] || name));
  }
  if (!indexes.length) picker.append(el("option", { value: "" }, "(no index yet)"));

  // #index=<index or table>&q=<query string>: what links (the demo's too) open; followed on every change
  async function openHash() {
    const hash = new URLSearchParams(location.hash.slice(1));
    const asked = hash.get("index");
    const found = asked ? resolveIndex(asked, indexes, tables) : undefined;
    if (found) picker.value = found;
    else {
      const dpe = indexes.find((n) => n.endsWith("deviceprocessevents"));
      if (dpe) picker.value = dpe;
    }
    box.value = hash.get("q") ??
      "search=*&$select=properties/Timestamp,properties/DeviceName,properties/FileName,properties/ProcessCommandLine&facet=properties/DeviceName";
    if (asked && !found) {
      // never search another index than the link names: say so, and wait for a choice
      HV.clear(tableBox);
      HV.clear(facetsBox);
      HV.clear(pagerBox);
      countBox.textContent = "";
      jsonBox.textContent = "";
      errBox.textContent = `No index or table named "${asked}". Pick one from the Index list.`;
      picker.value = "";
    } else if (picker.value) await run();
  }
  window.addEventListener("hashchange", () => {
    if (location.hash.slice(1) !== written) openHash();
  });
  await openHash();
  document.body.dataset.ready = "true";
})();
