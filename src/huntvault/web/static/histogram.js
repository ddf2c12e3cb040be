// huntvault hit histogram: rows per time bin as SVG bars above the results; drag, click or keys zoom the time range.
"use strict";

HV.histogram = (() => {
  const NS = "http://www.w3.org/2000/svg";
  //: bin sizes: milliseconds and their KQL timespan
  const STEPS = [
    [1e3, "1s"], [5e3, "5s"], [10e3, "10s"], [30e3, "30s"], [60e3, "1m"], [300e3, "5m"], [600e3, "10m"], [900e3, "15m"],
    [1800e3, "30m"], [3600e3, "1h"], [7200e3, "2h"], [10800e3, "3h"], [21600e3, "6h"], [43200e3, "12h"], [86400e3, "1d"],
    [172800e3, "2d"], [604800e3, "7d"], [2592000e3, "30d"], [7776000e3, "90d"], [31536000e3, "365d"],
  ];
  const TARGET_BARS = 60;

  // The bin size for a span: about 60 bars at most.
  function stepFor(spanMs, target = TARGET_BARS) {
    const found = STEPS.find(([ms]) => spanMs / ms <= target);
    return found ? { ms: found[0], kql: found[1] } : { ms: STEPS[STEPS.length - 1][0], kql: STEPS[STEPS.length - 1][1] };
  }

  const floor = (t, ms) => Math.floor(t / ms) * ms; // what KQL's bin() does (from the epoch, UTC)

  // Bins rows whose column `col` holds ISO times: {lo, hi, step, counts: Map(binStart -> n), total}.
  function fromRows(rows, col, range) {
    const times = [];
    for (const r of rows) { const t = Date.parse(r[col]); if (Number.isFinite(t)) times.push(t); }
    if (!times.length) return null;
    let lo = range ? Date.parse(range.from) : Math.min(...times);
    let hi = range ? Date.parse(range.to) : Math.max(...times) + 1;
    const step = stepFor(Math.max(1, hi - lo));
    const counts = new Map();
    for (const t of times) { const b = floor(t, step.ms); counts.set(b, (counts.get(b) || 0) + 1); }
    return { lo, hi, step, counts, total: times.length };
  }

  // From the rows of `summarize hits = count() by t = bin(col, step)`.
  function fromBins(rows, lo, hi, step) {
    const counts = new Map();
    let total = 0;
    for (const [t, n] of rows) { const ms = Date.parse(t); if (Number.isFinite(ms)) { counts.set(ms, (counts.get(ms) || 0) + Number(n)); total += Number(n); } }
    return { lo, hi, step, counts, total };
  }

  function s(tag, attrs, ...children) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) n.setAttribute(k, String(v));
    for (const c of children) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return n;
  }

  function label(ms, stepMs) {
    const d = new Date(ms).toISOString();
    if (stepMs >= 86400e3) return d.slice(0, 10);
    if (stepMs >= 60e3) return `${d.slice(5, 10)} ${d.slice(11, 16)}`;
    return d.slice(11, 19);
  }

  // Draws `h` into `container`; onZoom(fromIso, toIso) is called for a bar clicked or a dragged span.
  function draw(container, h, opts = {}) {
    const { el } = HV;
    HV.clear(container);
    const width = Math.max(300, Math.floor(container.clientWidth || 800) - 2);
    const height = 96, pad = { l: 44, r: 8, t: 6, b: 20 };
    const first = floor(h.lo, h.step.ms);
    const bins = [];
    for (let t = first; t < h.hi && bins.length < 2000; t += h.step.ms) bins.push([t, h.counts.get(t) || 0]);
    if (!bins.length) bins.push([first, 0]);
    const max = Math.max(1, ...bins.map((b) => b[1]));
    const plotW = width - pad.l - pad.r, plotH = height - pad.t - pad.b;
    const bw = plotW / bins.length;
    const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "histogram", role: "img", tabindex: "0",
      "aria-label": `${h.total} hits over time, one bar per ${h.step.kql}; arrows pick a bar, Enter zooms to it` });
    const axis = s("g", { class: "axis" });
    axis.append(s("text", { x: pad.l - 6, y: pad.t + 8, "text-anchor": "end" }, HV.fmtNum(max)));
    axis.append(s("text", { x: pad.l - 6, y: pad.t + plotH, "text-anchor": "end" }, "0"));
    axis.append(s("line", { x1: pad.l, x2: pad.l + plotW, y1: pad.t + plotH + 0.5, y2: pad.t + plotH + 0.5, class: "baseline" }));
    const every = Math.max(1, Math.ceil(bins.length / Math.max(2, Math.floor(plotW / 110))));
    bins.forEach(([t], i) => {
      if (i % every) return;
      axis.append(s("text", { x: pad.l + i * bw, y: height - 5, "text-anchor": i ? "middle" : "start" }, label(t, h.step.ms)));
    });
    svg.append(axis);
    const bars = s("g", { class: "bars" });
    bins.forEach(([t, n], i) => {
      const bh = n ? Math.max(1.5, (n / max) * plotH) : 0;
      const rect = s("rect", { x: (pad.l + i * bw + 0.5).toFixed(1), y: (pad.t + plotH - bh).toFixed(1), width: Math.max(1, bw - 1).toFixed(1),
        height: bh.toFixed(1), "data-start": new Date(t).toISOString(), "data-count": n, class: "bar" });
      rect.append(s("title", {}, `${label(t, h.step.ms)} (+${h.step.kql}): ${HV.fmtNum(n)} hits`));
      bars.append(rect);
    });
    svg.append(bars);
    const sel = s("rect", { class: "brush", y: pad.t, height: plotH, x: 0, width: 0, visibility: "hidden" });
    svg.append(sel);
    const live = el("span", { class: "sr-only", "aria-live": "polite" });
    const binAt = (clientX) => {
      const box = svg.getBoundingClientRect();
      const x = ((clientX - box.left) / box.width) * width;
      return Math.max(0, Math.min(bins.length - 1, Math.floor((x - pad.l) / bw)));
    };
    const show = (a, b) => {
      const i = Math.min(a, b), j = Math.max(a, b);
      sel.setAttribute("x", (pad.l + i * bw).toFixed(1));
      sel.setAttribute("width", ((j - i + 1) * bw).toFixed(1));
      sel.setAttribute("visibility", "visible");
      const hits = bins.slice(i, j + 1).reduce((t, x) => t + x[1], 0);
      live.textContent = `${label(bins[i][0], h.step.ms)} to ${label(bins[j][0] + h.step.ms, h.step.ms)}: ${HV.fmtNum(hits)} hits`;
    };
    const zoom = (a, b) => {
      const i = Math.min(a, b), j = Math.max(a, b);
      if (opts.onZoom) opts.onZoom(new Date(bins[i][0]).toISOString(), new Date(bins[j][0] + h.step.ms).toISOString());
    };
    let dragFrom = null;
    svg.addEventListener("pointerdown", (e) => { dragFrom = binAt(e.clientX); svg.setPointerCapture(e.pointerId); show(dragFrom, dragFrom); });
    svg.addEventListener("pointermove", (e) => { if (dragFrom !== null) show(dragFrom, binAt(e.clientX)); });
    svg.addEventListener("pointerup", (e) => { if (dragFrom === null) return; const a = dragFrom; dragFrom = null; zoom(a, binAt(e.clientX)); });
    let cur = null, anchor = null;
    svg.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        e.preventDefault();
        cur = cur === null ? (e.key === "ArrowRight" ? 0 : bins.length - 1) : Math.max(0, Math.min(bins.length - 1, cur + (e.key === "ArrowRight" ? 1 : -1)));
        if (!e.shiftKey || anchor === null) anchor = cur;
        show(anchor, cur);
      } else if (e.key === "Enter" && cur !== null) {
        e.preventDefault();
        zoom(anchor, cur);
      }
    });
    svg.addEventListener("blur", () => { cur = anchor = null; sel.setAttribute("visibility", "hidden"); });
    container.append(svg, live);
    return { bins: bins.length, max };
  }

  const AGGREGATING = new Set(["summarize", "make-series", "count", "top-nested", "evaluate", "getschema"]);

  function timeColumn(columns) {
    const ts = columns.findIndex((c) => c.name === "Timestamp" && c.type === "datetime");
    return ts >= 0 ? ts : columns.findIndex((c) => c.type === "datetime");
  }

  // The histogram of a hunt's result above its grid. Rows of a result that came whole are binned here; a
  // truncated result is counted by the engine with the same query and time range (`| summarize ... by bin()`).
  // o: {box, chart, summary, data, query, win, hunt(query, win, maxRows), onZoom(from, to), current()};
  // countAll: the engine counts even a whole result (the query's rows are a page of what it matches).
  async function show(o) {
    o.box.hidden = true;
    HV.clear(o.chart);
    const ti = timeColumn(o.data.columns);
    const ops = HV.kql.pipes(o.query).map((p) => p.word);
    if (ti < 0 || !o.data.rows.length || ops.some((w) => AGGREGATING.has(w))) return false;
    const col = o.data.columns[ti].name, c = HV.kql.ident(col);
    let h;
    try {
      if (!o.data.truncated && !o.countAll) {
        h = fromRows(o.data.rows, ti, o.win);
      } else {
        const body = HV.kql.splitRender(o.query).body;
        let lo, hi;
        if (o.win) { lo = Date.parse(o.win.from); hi = Date.parse(o.win.to); } else {
          const span = await o.hunt(`${body}\n| summarize lo = min(${c}), hi = max(${c})`, o.win, 1);
          lo = Date.parse(span.rows[0][0]);
          hi = Date.parse(span.rows[0][1]) + 1;
        }
        const step = stepFor(Math.max(1, hi - lo));
        const bins = await o.hunt(`${body}\n| summarize hits = count() by t = bin(${c}, ${step.kql})`, o.win, 5000);
        h = fromBins(bins.rows, lo, hi, step);
      }
    } catch (err) {
      if (!o.current()) return false;
      o.box.hidden = false;
      o.summary.textContent = `No histogram: ${HV.errorText(err)}`;
      return false;
    }
    if (!h || !o.current()) return false;
    o.box.hidden = false;
    o.total = h.total;
    o.summary.textContent = `${HV.fmtNum(h.total)} hits over ${col}${o.data.truncated || o.countAll ? " (all of them, not only the rows shown)" : ""}` +
      ` · one bar per ${h.step.kql} · drag across bars (or ←/→ then Enter) to zoom the time range`;
    draw(o.chart, h, { onZoom: o.onZoom });
    return true;
  }

  return { stepFor, fromRows, fromBins, draw, show, timeColumn, STEPS };
})();
