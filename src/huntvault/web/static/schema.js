// huntvault schema browser: the tables a hunt can read with their columns and KQL types; click (or Enter) inserts.
"use strict";

HV.SchemaBrowser = class {
  // container: where the browser goes; tables: [{name, columns: [{name, type}], rows, time_column, oldest, newest}]
  // onInsert(text, kind): puts the name into the editor
  constructor(container, tables, opts = {}) {
    const { el } = HV;
    this.container = container;
    this.tables = tables;
    this.onInsert = opts.onInsert || (() => {});
    this.filter = el("input", { type: "search", id: "schema-filter", placeholder: "Filter tables and columns…",
      "aria-label": "Filter tables and columns", autocomplete: "off", spellcheck: "false" });
    this.showEmpty = el("input", { type: "checkbox", id: "schema-empty" });
    const empty = tables.filter((t) => !t.rows).length;
    this.list = el("ul", { class: "schema-tables", id: "schema-tables", "aria-label": "Tables" });
    HV.clear(container).append(
      el("div", { class: "schema-head" }, el("h2", {}, "Schema"),
        el("span", { class: "hint" }, `${tables.length - empty} tables with data`)),
      this.filter,
      el("label", { class: "check" }, this.showEmpty, ` Show ${empty} table${empty === 1 ? "" : "s"} without data`),
      this.list);
    this.filter.addEventListener("input", () => this.render());
    this.showEmpty.addEventListener("change", () => this.render());
    this.filter.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown") { e.preventDefault(); const b = this.list.querySelector("button"); if (b) b.focus(); }
    });
    this.list.addEventListener("keydown", (e) => this.onKey(e));
    this.render();
  }

  // Up/Down walk the visible buttons; Right/Left open and close a table.
  onKey(e) {
    const buttons = [...this.list.querySelectorAll("button")].filter((b) => b.offsetParent !== null);
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const details = document.activeElement.closest("details");
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const next = buttons[i + (e.key === "ArrowDown" ? 1 : -1)];
      if (next) next.focus();
      else if (e.key === "ArrowUp") this.filter.focus();
    } else if (e.key === "ArrowRight" && details && !details.open) {
      e.preventDefault();
      details.open = true;
    } else if (e.key === "ArrowLeft" && details) {
      e.preventDefault();
      details.open = false;
      details.querySelector("summary button").focus();
    }
  }

  render() {
    const { el } = HV;
    const q = this.filter.value.trim().toLowerCase();
    HV.clear(this.list);
    let shown = 0;
    for (const t of this.tables) {
      if (!t.rows && !this.showEmpty.checked && !q) continue;
      const tableHit = !q || t.name.toLowerCase().includes(q);
      const cols = tableHit ? t.columns : t.columns.filter((c) => c.name.toLowerCase().includes(q));
      if (!tableHit && !cols.length) continue;
      shown++;
      const name = el("button", { type: "button", class: "ins table-name", "data-table": t.name,
        title: `Insert ${t.name}` + (t.rows ? ` (${HV.fmtNum(t.rows)} rows, ${HV.fmtTime(t.oldest)} – ${HV.fmtTime(t.newest)})` : " (no data)") },
      t.name);
      name.addEventListener("click", (e) => { e.preventDefault(); this.onInsert(t.name, "table"); });
      const details = el("details", { "data-table": t.name, open: !!q && !tableHit },
        el("summary", { class: t.rows ? "" : "no-data" }, name,
          el("span", { class: "rows" }, t.rows ? HV.fmtNum(t.rows) : "empty")),
        el("ul", { class: "schema-columns", "aria-label": `Columns of ${t.name}` }, cols.map((c) => {
          const b = el("button", { type: "button", class: "ins col-name", "data-column": c.name,
            title: `Insert ${c.name} (${c.type})${c.name === t.time_column ? "; the time range filters this column" : ""}` }, c.name);
          b.addEventListener("click", () => this.onInsert(c.name, "column"));
          return el("li", {}, b, el("span", { class: `type t-${c.type}` }, c.type),
            c.name === t.time_column ? el("span", { class: "badge", title: "the time range filters this column" }, "time") : null);
        })));
      this.list.append(el("li", {}, details));
    }
    if (!shown) this.list.append(el("li", { class: "hint" }, q ? `Nothing matches “${q}”.` : "No table has data yet."));
  }
};
