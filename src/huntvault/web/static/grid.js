// huntvault results grid: typed columns, sorting, column resize (mouse and keyboard), paging, CSV/JSON export.
"use strict";

HV.Grid = class {
  // columns: [{name, type}]; rows: arrays in column order.
  constructor(container, columns, rows, opts = {}) {
    this.container = container;
    this.columns = columns;
    this.rows = rows;
    this.view = rows.slice();
    this.pageSize = opts.pageSize || 100;
    this.page = 0;
    this.sortCol = -1;
    this.sortDir = 1;
    this.widths = columns.map((c) => HV.Grid.defaultWidth(c));
    this.label = opts.label || "Results";
    this.render();
  }

  static defaultWidth(c) {
    if (c.type === "datetime") return 190;
    if (["long", "int", "real", "decimal", "bool", "timespan"].includes(c.type)) return 110;
    return Math.min(360, Math.max(120, c.name.length * 9 + 40));
  }

  static cellText(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  static compare(a, b, type) {
    const an = a === null || a === undefined || a === "", bn = b === null || b === undefined || b === "";
    if (an || bn) return an === bn ? 0 : an ? 1 : -1; // empties last
    if (["long", "int", "real", "decimal"].includes(type) || (typeof a === "number" && typeof b === "number")) {
      return Number(a) - Number(b);
    }
    if (typeof a === "boolean") return (a === b) ? 0 : a ? 1 : -1;
    const sa = HV.Grid.cellText(a), sb = HV.Grid.cellText(b);
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  }

  sortBy(i) {
    if (this.sortCol === i) this.sortDir = -this.sortDir;
    else { this.sortCol = i; this.sortDir = 1; }
    const type = this.columns[i].type;
    const dir = this.sortDir;
    const indexed = this.rows.map((r, k) => [r, k]);
    indexed.sort((x, y) => {
      const c = HV.Grid.compare(x[0][i], y[0][i], type);
      const empty = (v) => v === null || v === undefined || v === "";
      if (empty(x[0][i]) || empty(y[0][i])) return c || x[1] - y[1];
      return c * dir || x[1] - y[1];
    });
    this.view = indexed.map((p) => p[0]);
    this.page = 0;
    this.render(i);
  }

  setWidth(i, w) {
    this.widths[i] = Math.max(48, Math.min(1200, Math.round(w)));
    const col = this.colgroup.children[i];
    if (col) col.style.width = this.widths[i] + "px";
    this.table.style.width = this.widths.reduce((a, b) => a + b, 0) + "px";
  }

  render(focusCol) {
    const { el } = HV;
    HV.clear(this.container);
    const pages = Math.max(1, Math.ceil(this.view.length / this.pageSize));
    this.page = Math.min(this.page, pages - 1);
    const start = this.page * this.pageSize;
    const slice = this.view.slice(start, start + this.pageSize);

    this.colgroup = el("colgroup", {}, this.widths.map((w) => { const c = el("col"); c.style.width = w + "px"; return c; }));
    const headRow = el("tr");
    this.columns.forEach((c, i) => {
      const sorted = this.sortCol === i ? (this.sortDir > 0 ? "ascending" : "descending") : "none";
      const btn = el("button", {
        type: "button", class: "sort", "data-col": i,
        title: `Sort by ${c.name} (Alt+←/→ resizes the column)`,
      }, el("span", { class: "name" }, c.name), el("span", { class: "type" }, c.type),
      el("span", { class: "arrow", "aria-hidden": "true" }, sorted === "ascending" ? "▲" : sorted === "descending" ? "▼" : ""));
      btn.addEventListener("click", () => this.sortBy(i));
      btn.addEventListener("keydown", (e) => {
        if (e.altKey && (e.key === "ArrowLeft" || e.key === "ArrowRight")) {
          e.preventDefault();
          this.setWidth(i, this.widths[i] + (e.key === "ArrowRight" ? 24 : -24));
        }
      });
      const handle = el("span", { class: "resize", "aria-hidden": "true", "data-col": i });
      handle.addEventListener("pointerdown", (e) => this.startResize(e, i));
      headRow.append(el("th", { scope: "col", "aria-sort": sorted }, btn, handle));
    });
    const body = el("tbody");
    for (const r of slice) {
      body.append(el("tr", {}, this.columns.map((c, i) => {
        const v = r[i];
        const text = HV.Grid.cellText(v);
        const cls = [`t-${c.type}`, v === null || v === undefined ? "null" : ""].join(" ").trim();
        return el("td", { class: cls, title: text.length > 40 ? text.slice(0, 2000) : null }, text);
      })));
    }
    if (!slice.length) body.append(el("tr", {}, el("td", { colspan: Math.max(1, this.columns.length), class: "empty" }, "No rows.")));
    this.table = el("table", { class: "grid", "aria-label": this.label, "aria-rowcount": this.view.length + 1 },
      this.colgroup, el("thead", {}, headRow), body);
    this.table.style.width = this.widths.reduce((a, b) => a + b, 0) + "px";
    const wrap = el("div", { class: "grid-wrap", tabindex: "0", role: "region", "aria-label": this.label }, this.table);
    this.container.append(wrap);

    if (pages > 1) {
      const go = (p) => { this.page = Math.max(0, Math.min(pages - 1, p)); this.render(); };
      const pager = el("div", { class: "pager", role: "navigation", "aria-label": "Result pages" },
        el("button", { type: "button", onclick: () => go(0), disabled: this.page === 0, "aria-label": "First page" }, "«"),
        el("button", { type: "button", onclick: () => go(this.page - 1), disabled: this.page === 0, "aria-label": "Previous page" }, "‹"),
        el("span", { class: "hint" }, `rows ${HV.fmtNum(start + 1)}–${HV.fmtNum(start + slice.length)} of ${HV.fmtNum(this.view.length)}`),
        el("button", { type: "button", onclick: () => go(this.page + 1), disabled: this.page >= pages - 1, "aria-label": "Next page" }, "›"),
        el("button", { type: "button", onclick: () => go(pages - 1), disabled: this.page >= pages - 1, "aria-label": "Last page" }, "»"));
      this.container.append(pager);
    }
    if (focusCol !== undefined) {
      const b = this.container.querySelector(`button.sort[data-col="${focusCol}"]`);
      if (b) b.focus();
    }
  }

  startResize(e, i) {
    e.preventDefault();
    const x0 = e.clientX, w0 = this.widths[i];
    const move = (ev) => this.setWidth(i, w0 + ev.clientX - x0);
    const up = () => { window.removeEventListener("pointermove", move); window.removeEventListener("pointerup", up); };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }

  toCSV() {
    const q = (s) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    const lines = [this.columns.map((c) => q(c.name)).join(",")];
    for (const r of this.view) lines.push(r.map((v) => q(HV.Grid.cellText(v))).join(","));
    return lines.join("\n") + "\n";
  }

  toJSON() {
    return JSON.stringify(this.view.map((r) => Object.fromEntries(this.columns.map((c, i) => [c.name, r[i]]))), null, 2) + "\n";
  }
};
