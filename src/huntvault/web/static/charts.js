// huntvault charts: the KQL `render` hint drawn as inline SVG (timechart, columnchart, barchart, piechart).
"use strict";

HV.charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569", "#ea580c"];
  const NUMERIC = ["long", "int", "real", "decimal"];
  const MAX_SERIES = 10;
  const MAX_CATEGORIES = 60;

  function s(tag, attrs, ...children) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) n.setAttribute(k, String(v));
    for (const c of children) if (c !== null && c !== undefined) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return n;
  }

  function niceMax(max) {
    if (!(max > 0)) return { top: 1, step: 0.25 };
    const raw = max / 5;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw) || 10 * mag;
    return { top: Math.ceil(max / step) * step, step };
  }

  function fmtValue(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1).replace(/\.0$/, "") + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(1).replace(/\.0$/, "") + "k";
    return Number.isInteger(v) ? String(v) : v.toFixed(2).replace(/0+$/, "").replace(/\.$/, "");
  }

  function colIndex(columns, name) { return name ? columns.findIndex((c) => c.name === name) : -1; }

  function ycols(columns, hint, exclude) {
    if (hint.ycolumns) {
      const want = String(hint.ycolumns).split(",").map((x) => x.trim());
      const idx = want.map((n) => colIndex(columns, n)).filter((i) => i >= 0);
      if (idx.length) return idx;
    }
    return columns.map((c, i) => i).filter((i) => NUMERIC.includes(columns[i].type) && !exclude.includes(i));
  }

  // -> {x, y: [idx], series: idx|-1} or an error string
  function roles(kind, columns, hint) {
    let x = colIndex(columns, hint.xcolumn);
    if (x < 0) {
      if (kind === "timechart") x = columns.findIndex((c) => c.type === "datetime");
      else x = columns.findIndex((c) => !NUMERIC.includes(c.type));
      if (x < 0 && kind !== "timechart") x = 0;
    }
    if (x < 0) return "a timechart needs a datetime column for its x-axis";
    const y = ycols(columns, hint, [x]);
    if (!y.length) return "the chart needs at least one numeric column";
    let series = colIndex(columns, hint.series);
    if (series < 0) series = columns.findIndex((c, i) => i !== x && !y.includes(i) && ["string", "bool", "guid"].includes(c.type));
    return { x, y, series };
  }

  // Pivot rows into ordered series: [{name, points: Map(xKey -> value)}] plus the x keys in first-seen order.
  function pivot(rows, r, xKey) {
    const xs = [], seen = new Set(), series = new Map();
    for (const row of rows) {
      const xv = xKey(row[r.x]);
      if (xv === null) continue;
      if (!seen.has(xv)) { seen.add(xv); xs.push(xv); }
      for (const yi of r.y) {
        const label = r.series >= 0 ? (r.y.length > 1 ? `${row[r.series]}:${r.yName(yi)}` : String(row[r.series] ?? "")) : r.yName(yi);
        if (!series.has(label)) series.set(label, new Map());
        const v = Number(row[yi]);
        if (Number.isFinite(v)) series.get(label).set(xv, (series.get(label).get(xv) || 0) + v);
      }
    }
    let list = [...series.entries()].map(([name, points]) => ({ name, points }));
    let dropped = 0;
    if (list.length > MAX_SERIES) {
      list.sort((a, b) => total(b) - total(a));
      dropped = list.length - MAX_SERIES;
      list = list.slice(0, MAX_SERIES);
    }
    return { xs, series: list, dropped };
  }
  function total(sr) { let t = 0; for (const v of sr.points.values()) t += v; return t; }

  function frame(width, height, title, label) {
    const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label, class: "chart" });
    svg.append(s("title", {}, label));
    if (title) svg.append(s("text", { x: width / 2, y: 18, "text-anchor": "middle", class: "chart-title" }, title));
    return svg;
  }

  // Lays legend entries out in rows of `width`; returns {rows, draw(svg, x, yTop)}.
  function legend(names, width) {
    const items = [];
    let cx = 0, row = 0;
    names.forEach((name, i) => {
      const text = String(name).length > 28 ? String(name).slice(0, 27) + "…" : String(name);
      const w = 18 + text.length * 6.4 + 14;
      if (cx + w > width && cx > 0) { cx = 0; row++; }
      items.push({ text, dx: cx, row, color: PALETTE[i % PALETTE.length] });
      cx += w;
    });
    return {
      rows: names.length ? row + 1 : 0,
      draw(svg, x, yTop) {
        const g = s("g", { class: "legend" });
        for (const it of items) {
          const y = yTop + it.row * 16 + 10;
          g.append(s("rect", { x: x + it.dx, y: y - 9, width: 10, height: 10, fill: it.color, rx: 2 }));
          g.append(s("text", { x: x + it.dx + 14, y }, it.text));
        }
        svg.append(g);
      },
    };
  }

  function yAxis(svg, plot, top, step, horizontal) {
    const g = s("g", { class: "axis" });
    for (let v = 0; v <= top + 1e-9; v += step) {
      if (horizontal) {
        const x = plot.x + (v / top) * plot.w;
        g.append(s("line", { x1: x, x2: x, y1: plot.y, y2: plot.y + plot.h, class: "gridline" }));
        g.append(s("text", { x, y: plot.y + plot.h + 14, "text-anchor": "middle" }, fmtValue(v)));
      } else {
        const y = plot.y + plot.h - (v / top) * plot.h;
        g.append(s("line", { x1: plot.x, x2: plot.x + plot.w, y1: y, y2: y, class: "gridline" }));
        g.append(s("text", { x: plot.x - 6, y: y + 4, "text-anchor": "end" }, fmtValue(v)));
      }
    }
    svg.append(g);
  }

  function timeLabel(ms, span) {
    const d = new Date(ms).toISOString();
    if (span <= 2 * 86400e3) return d.slice(11, 16) === "00:00" ? d.slice(5, 10) : d.slice(11, 16);
    if (span <= 90 * 86400e3) return d.slice(5, 10) + " " + d.slice(11, 16);
    return d.slice(0, 10);
  }

  function timechart(kind, hint, columns, rows, width, label) {
    const r = roles(kind, columns, hint);
    if (typeof r === "string") return r;
    r.yName = (i) => columns[i].name;
    const p = pivot(rows, r, (v) => { const t = Date.parse(v); return Number.isFinite(t) ? t : null; });
    if (!p.xs.length) return "no rows with a time to draw";
    const height = 380;
    const svg = frame(width, height, hint.title, label);
    const names = p.series.map((x) => x.name);
    const plot = { x: 64, y: hint.title ? 34 : 16, w: width - 64 - 20, h: 0 };
    const lg = legend(names, plot.w);
    plot.h = height - plot.y - 30 - 16 * lg.rows;
    lg.draw(svg, plot.x, height - 4 - 16 * lg.rows);
    const xs = p.xs.slice().sort((a, b) => a - b);
    const x0 = xs[0], x1 = xs[xs.length - 1], span = Math.max(1, x1 - x0);
    let max = 0;
    for (const sr of p.series) for (const v of sr.points.values()) max = Math.max(max, v);
    const { top, step } = niceMax(max);
    yAxis(svg, plot, top, step, false);
    const g = s("g", { class: "axis" });
    const steps = [60e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3, 172800e3, 604800e3, 2592000e3];
    const maxTicks = Math.max(2, Math.floor(plot.w / 90));
    const stepMs = steps.find((st) => span / st <= maxTicks) || span / maxTicks;
    for (let t = Math.ceil(x0 / stepMs) * stepMs; t <= x1; t += stepMs) {
      const x = plot.x + ((t - x0) / span) * plot.w;
      g.append(s("line", { x1: x, x2: x, y1: plot.y + plot.h, y2: plot.y + plot.h + 4, class: "tick" }));
      g.append(s("text", { x, y: plot.y + plot.h + 16, "text-anchor": "middle" }, timeLabel(t, span)));
    }
    svg.append(g);
    const px = (t) => plot.x + (xs.length === 1 ? plot.w / 2 : ((t - x0) / span) * plot.w);
    const py = (v) => plot.y + plot.h - (v / top) * plot.h;
    p.series.forEach((sr, i) => {
      const color = PALETTE[i % PALETTE.length];
      // Kusto fills missing bins with nothing: the line connects the points that exist
      const pts = xs.filter((t) => sr.points.has(t)).map((t) => [px(t), py(sr.points.get(t))]);
      const series = s("g", { class: "series", "data-series": sr.name });
      series.append(s("path", { d: pts.map((q, k) => `${k ? "L" : "M"}${q[0].toFixed(1)},${q[1].toFixed(1)}`).join(""), stroke: color, fill: "none", "stroke-width": 2 }));
      if (pts.length <= 80) for (const q of pts) series.append(s("circle", { cx: q[0].toFixed(1), cy: q[1].toFixed(1), r: 2.5, fill: color }));
      svg.append(series);
    });
    svg.append(s("line", { x1: plot.x, x2: plot.x + plot.w, y1: plot.y + plot.h, y2: plot.y + plot.h, class: "baseline" }));
    return { svg, dropped: p.dropped };
  }

  function bars(kind, hint, columns, rows, width, label, opts = {}) {
    const r = roles(kind, columns, hint);
    if (typeof r === "string") return r;
    r.yName = (i) => columns[i].name;
    const p = pivot(rows, r, (v) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)));
    let cats = p.xs;
    const cut = Math.max(0, cats.length - MAX_CATEGORIES);
    cats = cats.slice(0, MAX_CATEGORIES);
    if (!cats.length) return "no rows to draw";
    const names = p.series.map((x) => x.name);
    const horizontal = kind === "barchart";
    const groupH = horizontal ? Math.max(18, 8 + 10 * names.length) : 0;
    const height = horizontal ? Math.min(1400, 60 + (hint.title ? 20 : 0) + cats.length * groupH + 30 + 16 * Math.ceil(names.length / 4)) : (opts.height || 380);
    const svg = frame(width, height, hint.title, label);
    const longest = Math.min(30, Math.max(...cats.map((c) => c.length)));
    const plot = horizontal ? { x: Math.min(width * 0.4, 16 + longest * 6.2), y: hint.title ? 34 : 16 } : { x: 64, y: hint.title ? 34 : 16 };
    plot.w = width - plot.x - 20;
    const lg = legend(names.length > 1 ? names : [], plot.w);
    plot.h = height - plot.y - (horizontal ? 24 : 52) - 16 * lg.rows;
    lg.draw(svg, plot.x, height - 4 - 16 * lg.rows);
    let max = 0;
    for (const sr of p.series) for (const v of sr.points.values()) max = Math.max(max, v);
    const { top, step } = niceMax(max);
    yAxis(svg, plot, top, step, horizontal);
    const band = (horizontal ? plot.h : plot.w) / cats.length;
    const inner = band * 0.8 / Math.max(1, names.length);
    const g = s("g", { class: "axis" });
    cats.forEach((c, k) => {
      const text = c.length > 30 ? c.slice(0, 29) + "…" : c;
      if (horizontal) {
        g.append(s("text", { x: plot.x - 6, y: plot.y + band * k + band / 2 + 4, "text-anchor": "end" }, text));
      } else if (cats.length <= 24 || k % Math.ceil(cats.length / 24) === 0) {
        const x = plot.x + band * k + band / 2;
        const rot = cats.length > 8 ? ` rotate(-30 ${x} ${plot.y + plot.h + 14})` : "";
        g.append(s("text", { x, y: plot.y + plot.h + 14, "text-anchor": rot ? "end" : "middle", transform: rot ? rot.trim() : null }, text.length > 16 && rot ? text.slice(0, 15) + "…" : text));
      }
    });
    svg.append(g);
    p.series.forEach((sr, i) => {
      const color = PALETTE[i % PALETTE.length];
      const series = s("g", { class: "series", "data-series": sr.name });
      cats.forEach((c, k) => {
        const v = sr.points.get(c);
        if (v === undefined) return;
        const len = (Math.max(0, v) / top) * (horizontal ? plot.w : plot.h);
        const off = band * k + band * 0.1 + inner * i;
        const rect = horizontal
          ? s("rect", { x: plot.x, y: plot.y + off, width: len.toFixed(1), height: Math.max(1, inner - 1).toFixed(1), fill: color })
          : s("rect", { x: (plot.x + off).toFixed(1), y: (plot.y + plot.h - len).toFixed(1), width: Math.max(1, inner - 1).toFixed(1), height: len.toFixed(1), fill: color });
        rect.append(s("title", {}, `${c}: ${fmtValue(v)}${names.length > 1 ? " (" + sr.name + ")" : ""}`));
        series.append(rect);
      });
      svg.append(series);
    });
    return { svg, dropped: p.dropped, cut };
  }

  function pie(kind, hint, columns, rows, width, label) {
    let li = colIndex(columns, hint.xcolumn);
    if (li < 0) li = columns.findIndex((c) => !NUMERIC.includes(c.type));
    const vi = ycols(columns, hint, [li])[0];
    if (vi === undefined) return "a piechart needs a numeric column";
    const sums = new Map();
    for (const row of rows) {
      const key = li >= 0 ? HV.Grid.cellText(row[li]) : columns[vi].name;
      const v = Number(row[vi]);
      if (Number.isFinite(v) && v > 0) sums.set(key, (sums.get(key) || 0) + v);
    }
    let slices = [...sums.entries()].sort((a, b) => b[1] - a[1]);
    if (slices.length > MAX_SERIES) {
      const rest = slices.slice(MAX_SERIES - 1).reduce((t, x) => t + x[1], 0);
      slices = slices.slice(0, MAX_SERIES - 1).concat([["(other)", rest]]);
    }
    if (!slices.length) return "no positive values to draw";
    const narrow = width < 560; // legend under the pie instead of beside it
    const top0 = hint.title ? 34 : 16;
    const rad = narrow ? Math.min(120, width / 2 - 20) : 140;
    const height = narrow ? top0 + 2 * rad + 30 + slices.length * 18 : 360;
    const svg = frame(width, height, hint.title, label);
    const totalV = slices.reduce((t, x) => t + x[1], 0);
    const cy = narrow ? top0 + rad + 8 : top0 + (height - top0 - 16) / 2;
    const cx = narrow ? width / 2 : rad + 40;
    let a0 = -Math.PI / 2;
    const g = s("g", { class: "series" });
    slices.forEach(([name, v], i) => {
      const a1 = a0 + (v / totalV) * 2 * Math.PI;
      const big = a1 - a0 > Math.PI ? 1 : 0;
      const p0 = [cx + rad * Math.cos(a0), cy + rad * Math.sin(a0)], p1 = [cx + rad * Math.cos(a1), cy + rad * Math.sin(a1)];
      const d = slices.length === 1
        ? `M${cx - rad},${cy}a${rad},${rad} 0 1,0 ${2 * rad},0a${rad},${rad} 0 1,0 ${-2 * rad},0`
        : `M${cx},${cy}L${p0[0].toFixed(1)},${p0[1].toFixed(1)}A${rad},${rad} 0 ${big},1 ${p1[0].toFixed(1)},${p1[1].toFixed(1)}Z`;
      const path = s("path", { d, fill: PALETTE[i % PALETTE.length], stroke: "#fff", "stroke-width": 1, "data-series": name });
      path.append(s("title", {}, `${name}: ${fmtValue(v)} (${((100 * v) / totalV).toFixed(1)}%)`));
      g.append(path);
      a0 = a1;
    });
    svg.append(g);
    const lg = s("g", { class: "legend" });
    slices.forEach(([name, v], i) => {
      const y = narrow ? cy + rad + 28 + i * 18 : cy - (slices.length * 18) / 2 + i * 18 + 12;
      const x = narrow ? 12 : cx + rad + 30;
      lg.append(s("rect", { x, y: y - 10, width: 12, height: 12, fill: PALETTE[i % PALETTE.length], rx: 2 }));
      const text = name.length > 40 ? name.slice(0, 39) + "…" : name;
      lg.append(s("text", { x: x + 18, y }, `${text} — ${fmtValue(v)} (${((100 * v) / totalV).toFixed(1)}%)`));
    });
    svg.append(lg);
    return { svg, dropped: 0 };
  }

  //: render kind -> drawing function
  const KINDS = { timechart, linechart: timechart, areachart: timechart, columnchart: bars, barchart: bars, piechart: pie };

  function supported(hint) { return !!(hint && KINDS[hint.visualization]); }

  // Draws the chart into `container`; returns true when it did, else shows why not. opts.height: a column
  // chart's height (a page's small summary chart).
  function draw(container, hint, columns, rows, opts = {}) {
    HV.clear(container);
    const kind = hint && hint.visualization;
    const fn = KINDS[kind];
    if (!fn) {
      container.append(HV.el("p", { class: "hint" }, `render ${kind || "?"} is not drawn here; the table shows the rows.`));
      return false;
    }
    const width = Math.max(320, Math.floor(container.clientWidth || container.parentElement.clientWidth || 800) - 4);
    const label = `${hint.title || kind} (${kind}, ${rows.length} rows)`;
    const out = fn(kind === "linechart" || kind === "areachart" ? "timechart" : kind, hint, columns, rows, width, label, opts);
    if (typeof out === "string") {
      container.append(HV.el("p", { class: "error" }, `Cannot draw the ${kind}: ${out}.`));
      return false;
    }
    out.svg.dataset.kind = kind;
    container.append(out.svg);
    const notes = [];
    if (out.dropped) notes.push(`${out.dropped} smaller series not drawn`);
    if (out.cut) notes.push(`${out.cut} categories not drawn`);
    if (notes.length) container.append(HV.el("p", { class: "hint" }, notes.join("; ") + "."));
    return true;
  }

  return { draw, supported, KINDS };
})();
