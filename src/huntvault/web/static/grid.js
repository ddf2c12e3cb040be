// huntvault results grid: typed columns sized to their values, wrapping on demand, sorting, column resize
// (mouse and keyboard), keyboard cell navigation, paging, CSV/JSON export.
"use strict";

HV.Grid = class {
  // columns: [{name, type}]; rows: arrays in column order.
  // opts: label, pageSize, wrap, onOpen(rowIndex, colIndex), onFilter(colIndex, value, negate), onSelect(rowIndex)
  constructor(container, columns, rows, opts = {}) {
    this.container = container;
    this.columns = columns;
    this.rows = rows;
    this.view = rows.map((r, i) => i); // indexes into rows, in display order
    this.pageSize = opts.pageSize || 100;
    this.page = 0;
    this.sortCol = -1;
    this.sortDir = 1;
    this.opts = opts;
    this.wrap = !!opts.wrap;
    this.active = { row: 0, col: 0 }; // within the current page
    this.widths = columns.map((c, i) => HV.Grid.fitWidth(c, rows, i));
    this.label = opts.label || "Results";
    this.render();
  }

  static NUMERIC = ["long", "int", "real", "decimal", "bool", "timespan"];
  static MAX_AUTO_WIDTH = 640;

  // Text width in pixels in the grid's fonts (a canvas measures; 7.6 px per character without one).
  static measure(text, mono) {
    if (!HV.Grid.ctx) {
      const canvas = document.createElement("canvas");
      HV.Grid.ctx = canvas.getContext && canvas.getContext("2d");
      const css = getComputedStyle(document.documentElement);
      HV.Grid.fonts = [`13px ${css.getPropertyValue("--sans") || "sans-serif"}`, `12px ${css.getPropertyValue("--mono") || "monospace"}`];
    }
    if (!HV.Grid.ctx) return text.length * 7.6;
    HV.Grid.ctx.font = HV.Grid.fonts[mono ? 1 : 0];
    return HV.Grid.ctx.measureText(text).width;
  }

  // A width that shows the column's values whole (IPs, names, hashes, ids; long command lines up to a cap:
  // wrapping or the record inspector shows the rest), never narrower than the header.
  static fitWidth(c, rows, i) {
    const head = HV.Grid.measure(c.name, false) + HV.Grid.measure(c.type, false) * 0.85 + 44;
    const mono = ["datetime", "dynamic", "timespan"].includes(c.type);
    let widest = 0;
    const n = Math.min(rows.length, 200);
    for (let k = 0; k < n; k++) {
      widest = Math.max(widest, HV.Grid.measure(HV.Grid.cellText(rows[k][i]).slice(0, 400), mono));
    }
    return Math.ceil(Math.min(HV.Grid.MAX_AUTO_WIDTH, Math.max(64, head, widest + 24)));
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

  // The row (array) at display position `pos` of the whole view, and its index in `rows`.
  rowAt(pos) { return this.rows[this.view[pos]]; }
  indexAt(pos) { return this.view[pos]; }
  get start() { return this.page * this.pageSize; }

  sortBy(i) {
    if (this.sortCol === i) this.sortDir = -this.sortDir;
    else { this.sortCol = i; this.sortDir = 1; }
    const type = this.columns[i].type;
    const dir = this.sortDir;
    const empty = (v) => v === null || v === undefined || v === "";
    this.view.sort((x, y) => {
      const a = this.rows[x][i], b = this.rows[y][i];
      const c = HV.Grid.compare(a, b, type);
      if (empty(a) || empty(b)) return c || x - y;
      return c * dir || x - y;
    });
    this.page = 0;
    this.render(i);
  }

  setWidth(i, w) {
    this.widths[i] = Math.max(48, Math.min(1600, Math.round(w)));
    const col = this.colgroup.children[i];
    if (col) col.style.width = this.widths[i] + "px";
    this.table.style.width = this.widths.reduce((a, b) => a + b, 0) + "px";
  }

  setWrap(on) {
    this.wrap = !!on;
    if (this.table) this.table.classList.toggle("wrap", this.wrap);
  }

  // Shows the page holding display position `pos` and makes its row active.
  reveal(pos, col) {
    const page = Math.floor(pos / this.pageSize);
    if (page !== this.page) { this.page = page; this.render(); }
    this.focusCell(pos - this.start, col === undefined ? this.active.col : col);
  }

  cell(r, c) {
    const tr = this.body && this.body.children[r];
    return tr && tr.children[c];
  }

  focusCell(r, c, focus = true) {
    const rows = this.body ? this.body.querySelectorAll("tr[data-pos]").length : 0;
    if (!rows) return;
    r = Math.max(0, Math.min(rows - 1, r));
    c = Math.max(0, Math.min(this.columns.length - 1, c));
    const old = this.cell(this.active.row, this.active.col);
    if (old) { old.tabIndex = -1; old.classList.remove("active"); }
    const oldRow = this.body.children[this.active.row];
    if (oldRow) oldRow.removeAttribute("aria-selected");
    this.active = { row: r, col: c };
    const td = this.cell(r, c);
    td.tabIndex = 0;
    td.classList.add("active");
    this.body.children[r].setAttribute("aria-selected", "true");
    if (focus) td.focus({ preventScroll: false });
    if (this.opts.onSelect) this.opts.onSelect(this.indexAt(this.start + r), this.start + r);
  }

  // Keyboard navigation inside the grid body (the keys are listed in the `?` dialog by the page).
  onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const { row, col } = this.active;
    const pages = Math.max(1, Math.ceil(this.view.length / this.pageSize));
    const moves = {
      ArrowDown: () => this.move(row + 1, col), j: () => this.move(row + 1, col),
      ArrowUp: () => this.move(row - 1, col), k: () => this.move(row - 1, col),
      ArrowRight: () => this.focusCell(row, col + 1), l: () => this.focusCell(row, col + 1),
      ArrowLeft: () => this.focusCell(row, col - 1), h: () => this.focusCell(row, col - 1),
      Home: () => this.focusCell(row, 0), End: () => this.focusCell(row, this.columns.length - 1),
      PageDown: () => { if (this.page < pages - 1) this.goPage(this.page + 1, 0, col); },
      PageUp: () => { if (this.page > 0) this.goPage(this.page - 1, 0, col); },
      Enter: () => this.opts.onOpen && this.opts.onOpen(this.indexAt(this.start + row), col),
      c: () => HV.copy(HV.Grid.cellText(this.rowAt(this.start + row)[col]), `${this.columns[col].name}`),
      "+": () => this.opts.onFilter && this.opts.onFilter(col, this.rowAt(this.start + row)[col], false),
      "-": () => this.opts.onFilter && this.opts.onFilter(col, this.rowAt(this.start + row)[col], true),
    };
    const fn = moves[e.key];
    if (!fn) return;
    e.preventDefault();
    e.stopPropagation();
    fn();
  }

  move(r, c) {
    const onPage = this.body.querySelectorAll("tr[data-pos]").length;
    const pages = Math.max(1, Math.ceil(this.view.length / this.pageSize));
    if (r >= onPage && this.page < pages - 1) return this.goPage(this.page + 1, 0, c);
    if (r < 0 && this.page > 0) return this.goPage(this.page - 1, this.pageSize - 1, c);
    this.focusCell(r, c);
  }

  goPage(p, r, c) {
    this.page = p;
    this.render();
    this.focusCell(r, c);
  }

  render(focusCol) {
    const { el } = HV;
    HV.clear(this.container);
    const pages = Math.max(1, Math.ceil(this.view.length / this.pageSize));
    this.page = Math.min(this.page, pages - 1);
    const start = this.start;
    const slice = this.view.slice(start, start + this.pageSize);

    this.colgroup = el("colgroup", {}, this.widths.map((w) => { const c = el("col"); c.style.width = w + "px"; return c; }));
    const headRow = el("tr", { "aria-rowindex": 1 });
    this.columns.forEach((c, i) => {
      const sorted = this.sortCol === i ? (this.sortDir > 0 ? "ascending" : "descending") : "none";
      const btn = el("button", {
        type: "button", class: "sort", "data-col": i,
        title: `${c.name} (${c.type}): sort (Enter); Alt+←/→ resizes; double-click the edge fits`,
      }, el("span", { class: "name" }, c.name), el("span", { class: "type" }, c.type),
      el("span", { class: "arrow", "aria-hidden": "true" }, sorted === "ascending" ? "▲" : sorted === "descending" ? "▼" : ""));
      btn.addEventListener("click", () => this.sortBy(i));
      btn.addEventListener("keydown", (e) => {
        if (e.altKey && (e.key === "ArrowLeft" || e.key === "ArrowRight")) {
          e.preventDefault();
          this.setWidth(i, this.widths[i] + (e.key === "ArrowRight" ? 24 : -24));
        } else if (e.key === "ArrowDown" && !e.altKey) {
          e.preventDefault();
          this.focusCell(0, i);
        }
      });
      const handle = el("span", { class: "resize", "aria-hidden": "true", "data-col": i });
      handle.addEventListener("pointerdown", (e) => this.startResize(e, i));
      handle.addEventListener("dblclick", () => this.setWidth(i, HV.Grid.longest(c, this.view.map((k) => this.rows[k]), i)));
      headRow.append(el("th", { scope: "col", "aria-sort": sorted, "aria-colindex": i + 1 }, btn, handle));
    });
    const body = el("tbody");
    slice.forEach((k, r) => {
      const row = this.rows[k];
      const tr = el("tr", { "data-pos": start + r, "data-row": k, "aria-rowindex": start + r + 2 }, this.columns.map((c, i) => {
        const v = row[i];
        const text = HV.Grid.cellText(v);
        const cls = [`t-${c.type}`, v === null || v === undefined ? "null" : ""].join(" ").trim();
        return el("td", { class: cls, tabindex: -1, "aria-colindex": i + 1, title: text.length > 60 ? text.slice(0, 2000) : null }, text);
      }));
      body.append(tr);
    });
    if (!slice.length) body.append(el("tr", {}, el("td", { colspan: Math.max(1, this.columns.length), class: "empty" }, "No rows.")));
    body.addEventListener("click", (e) => {
      const td = e.target.closest("td");
      const tr = e.target.closest("tr[data-pos]");
      if (!td || !tr || (window.getSelection && String(window.getSelection()).length)) return; // selecting text
      const r = Number(tr.dataset.pos) - this.start, c = Array.prototype.indexOf.call(tr.children, td);
      this.focusCell(r, c);
      if (this.opts.onOpen) this.opts.onOpen(Number(tr.dataset.row), c);
    });
    body.addEventListener("keydown", (e) => this.onKey(e));
    this.body = body;
    this.table = el("table", { class: "grid" + (this.wrap ? " wrap" : ""), role: "grid", "aria-label": this.label,
      "aria-rowcount": this.view.length + 1, "aria-colcount": this.columns.length },
    this.colgroup, el("thead", {}, headRow), body);
    this.table.style.width = this.widths.reduce((a, b) => a + b, 0) + "px";
    const wrap = el("div", { class: "grid-wrap", role: "region", "aria-label": this.label }, this.table);
    this.container.append(wrap);
    const first = this.cell(0, 0);
    if (first && slice.length) {
      this.active = { row: 0, col: Math.min(this.active.col, this.columns.length - 1) };
      const td = this.cell(0, this.active.col);
      td.tabIndex = 0;
    } else {
      wrap.tabIndex = 0;
    }

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

  // The width of the longest value (no cap): what double-clicking a column's edge asks for.
  static longest(c, rows, i) {
    const mono = ["datetime", "dynamic", "timespan"].includes(c.type);
    let widest = HV.Grid.measure(c.name, false) + 44;
    for (const r of rows.slice(0, 1000)) widest = Math.max(widest, HV.Grid.measure(HV.Grid.cellText(r[i]).slice(0, 400), mono) + 24);
    return Math.min(1600, widest);
  }

  // Focuses the active cell (or the grid box when it has no rows).
  focus() {
    const td = this.cell(this.active.row, this.active.col);
    if (td) td.focus();
    else { const w = this.container.querySelector(".grid-wrap"); if (w) w.focus(); }
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
    for (const k of this.view) lines.push(this.rows[k].map((v) => q(HV.Grid.cellText(v))).join(","));
    return lines.join("\n") + "\n";
  }

  record(k) { return Object.fromEntries(this.columns.map((c, i) => [c.name, this.rows[k][i]])); }

  toJSON() {
    return JSON.stringify(this.view.map((k) => this.record(k)), null, 2) + "\n";
  }
};
