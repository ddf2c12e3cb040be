// huntvault record inspector: one result row with every value whole (fields or JSON), copy, filter in/out, pivots.
"use strict";

HV.Inspector = class {
  // panel: an (initially hidden) <aside>; opts: onFilter(column, type, value, negate), range(record) -> the
  // pivots' time range, actions(record) -> [{label, href | run, id}], onMove(delta) shows another record, onClose()
  constructor(panel, opts = {}) {
    this.panel = panel;
    this.opts = opts;
    this.hideEmpty = true;
    this.view = "fields";
    this.current = null;
  }

  get open() { return !this.panel.hidden; }

  // columns: [{name, type}]; row: values in column order; pos/total: "record pos of total"
  show(columns, row, pos, total) {
    this.current = { columns, row, pos, total };
    this.panel.hidden = false;
    this.render();
  }

  close() {
    if (!this.open) return;
    this.panel.hidden = true;
    this.current = null;
    if (this.opts.onClose) this.opts.onClose();
  }

  record() {
    const { columns, row } = this.current;
    return Object.fromEntries(columns.map((c, i) => [c.name, row[i]]));
  }

  render() {
    const { el } = HV;
    const { columns, row, pos, total } = this.current;
    const focusedTitle = this.panel.contains(document.activeElement);
    HV.clear(this.panel);
    const empty = (v) => v === null || v === undefined || v === "";
    const hidden = columns.filter((c, i) => empty(row[i])).length;
    const title = el("h2", { id: "inspector-title", tabindex: "-1" }, `Record ${HV.fmtNum(pos + 1)} of ${HV.fmtNum(total)}`);
    const move = (d) => this.opts.onMove && this.opts.onMove(d);
    this.panel.append(el("header", { class: "inspector-head" }, title,
      el("span", { class: "inspector-nav" },
        el("button", { type: "button", "aria-label": "Previous record", title: "Previous record (k)", disabled: pos <= 0, onclick: () => move(-1) }, "‹"),
        el("button", { type: "button", "aria-label": "Next record", title: "Next record (j)", disabled: pos >= total - 1, onclick: () => move(1) }, "›"),
        el("button", { type: "button", id: "inspector-copy", title: "Copy the record as JSON", onclick: () => HV.copy(JSON.stringify(this.record(), null, 2), "the record as JSON") }, "Copy JSON"),
        el("button", { type: "button", class: "close", "aria-label": "Close the inspector", title: "Close (Esc)", onclick: () => this.close() }, "×"))));
    const tabFields = el("button", { role: "tab", id: "insp-tab-fields", "aria-selected": String(this.view === "fields"), "aria-controls": "insp-fields" }, "Fields");
    const tabJson = el("button", { role: "tab", id: "insp-tab-json", "aria-selected": String(this.view === "json"), "aria-controls": "insp-json" }, "JSON");
    const toggle = el("input", { type: "checkbox", id: "insp-hide-empty", checked: this.hideEmpty });
    toggle.addEventListener("change", () => { this.hideEmpty = toggle.checked; this.render(); });
    this.panel.append(el("div", { class: "toolbar" }, el("div", { role: "tablist", class: "tabs", "aria-label": "Record view" }, tabFields, tabJson),
      hidden ? el("label", { class: "check" }, toggle, ` Hide ${hidden} empty field${hidden === 1 ? "" : "s"}`)
        : el("span", { class: "hint" }, "no empty field")));

    if (this.opts.actions) {
      const acts = this.opts.actions(this.record());
      if (acts.length) {
        this.panel.append(el("p", { class: "inspector-actions" }, acts.map((a) => a.href
          ? el("a", { class: "mini pivot", href: a.href, "data-action": a.id || null }, a.label)
          : el("button", { type: "button", class: "mini", "data-action": a.id || null, onclick: a.run }, a.label))));
      }
    }
    const range = this.opts.range ? this.opts.range(this.record()) : null;
    const list = el("dl", { class: "fields", id: "insp-fields", role: "tabpanel", "aria-labelledby": "insp-tab-fields", hidden: this.view !== "fields" });
    columns.forEach((c, i) => {
      const v = row[i];
      if (this.hideEmpty && empty(v)) return;
      const text = v !== null && typeof v === "object" ? JSON.stringify(v, null, 2) : HV.Grid.cellText(v);
      const actions = el("span", { class: "actions" },
        el("button", { type: "button", class: "mini", title: `Copy ${c.name}`, onclick: () => HV.copy(HV.Grid.cellText(v), c.name) }, "Copy"));
      if (this.opts.onFilter) {
        actions.append(
          el("button", { type: "button", class: "mini", "data-filter": "in", title: `Keep rows where ${c.name} is this value (+)`, onclick: () => this.opts.onFilter(c.name, c.type, v, false) }, "+ Filter"),
          el("button", { type: "button", class: "mini", "data-filter": "out", title: `Drop rows where ${c.name} is this value (−)`, onclick: () => this.opts.onFilter(c.name, c.type, v, true) }, "− Exclude"));
      }
      for (const p of HV.pivots.links(c.name, v, range)) {
        actions.append(el("a", { class: "mini pivot", href: p.href, "data-pivot": p.kind }, p.label));
      }
      list.append(el("div", { class: "field", "data-field": c.name },
        el("dt", {}, el("span", { class: "name" }, c.name), " ", el("span", { class: "type" }, c.type)),
        el("dd", {}, el("pre", { class: `value t-${c.type}${empty(v) ? " null" : ""}` }, empty(v) ? (v === "" ? '""' : "null") : text), actions)));
    });
    const json = el("pre", { class: "json", id: "insp-json", role: "tabpanel", "aria-labelledby": "insp-tab-json", tabindex: "0", hidden: this.view !== "json" },
      JSON.stringify(this.record(), null, 2));
    this.panel.append(list, json);
    HV.tabs([tabFields, tabJson], (b) => { this.view = b === tabJson ? "json" : "fields"; });
    if (focusedTitle) title.focus();
  }

  focus() { const t = this.panel.querySelector("#inspector-title"); if (t) t.focus(); }
};
