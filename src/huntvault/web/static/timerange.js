// huntvault time-range picker: presets relative to now or a custom UTC range, kept in the URL (range= or from=&to=).
"use strict";

HV.TimeRange = class {
  static PRESETS = [
    ["1h", "Last hour", 3600e3],
    ["24h", "Last 24 hours", 86400e3],
    ["7d", "Last 7 days", 7 * 86400e3],
    ["30d", "Last 30 days", 30 * 86400e3],
    ["all", "Any time", 0],
    ["custom", "Custom (UTC)…", 0],
  ];

  // `container` gets a labelled select and, for a custom range, two UTC date-time inputs.
  constructor(container, opts = {}) {
    const { el } = HV;
    this.onChange = opts.onChange || (() => {});
    const id = opts.id || "tr";
    this.select = el("select", { id: `${id}-range`, "aria-label": "Time range", title: "Time range (t)" },
      HV.TimeRange.PRESETS.map(([v, label]) => el("option", { value: v }, label)));
    this.from = el("input", { type: "datetime-local", id: `${id}-from`, step: "1", "aria-label": "From (UTC)" });
    this.to = el("input", { type: "datetime-local", id: `${id}-to`, step: "1", "aria-label": "To (UTC, excluded)" });
    this.custom = el("span", { class: "tr-custom", hidden: true }, this.from, el("span", { "aria-hidden": "true" }, "–"),
      this.to, el("span", { class: "hint" }, "UTC"));
    container.append(el("span", { class: "timerange" }, el("label", { for: `${id}-range` }, "Time range"), this.select,
      this.custom));
    this.select.addEventListener("change", () => {
      if (this.select.value === "custom" && !this.from.value) {
        const r = HV.TimeRange.span("24h");
        this.from.value = HV.TimeRange.local(r.from);
        this.to.value = HV.TimeRange.local(r.to);
      }
      this.custom.hidden = this.select.value !== "custom";
      this.onChange(this.state());
    });
    for (const input of [this.from, this.to]) input.addEventListener("change", () => this.onChange(this.state()));
    this.set(opts.initial || { range: opts.defaultRange || "all" });
  }

  // "2026-07-22T10:00:00.000Z" -> "2026-07-22T10:00:00" (what a datetime-local input takes, read as UTC)
  static local(iso) { return iso ? new Date(iso).toISOString().slice(0, 19) : ""; }
  static iso(local) {
    if (!local) return null;
    const t = Date.parse(local.length === 16 ? `${local}:00Z` : `${local}Z`);
    return Number.isFinite(t) ? new Date(t).toISOString() : null;
  }
  static span(range, now = Date.now()) {
    const p = HV.TimeRange.PRESETS.find(([v]) => v === range);
    if (!p || !p[2]) return null;
    return { from: new Date(now - p[2]).toISOString(), to: new Date(now).toISOString() };
  }

  // {range: "7d"} | {from, to} (ISO, UTC) | {range: "all"}
  state() {
    if (this.select.value === "custom") {
      return { from: HV.TimeRange.iso(this.from.value), to: HV.TimeRange.iso(this.to.value) };
    }
    return { range: this.select.value };
  }

  set(state) {
    if (state && (state.from || state.to)) {
      this.select.value = "custom";
      this.from.value = HV.TimeRange.local(state.from);
      this.to.value = HV.TimeRange.local(state.to);
    } else {
      const known = HV.TimeRange.PRESETS.some(([v]) => v === (state && state.range));
      this.select.value = known && state.range !== "custom" ? state.range : "all";
    }
    this.custom.hidden = this.select.value !== "custom";
  }

  // The absolute [from, to) now (ISO strings), null for "Any time"; throws a message for a bad custom range.
  resolve(now = Date.now()) {
    const st = this.state();
    if (st.range) return st.range === "all" ? null : HV.TimeRange.span(st.range, now);
    if (!st.from || !st.to) throw new Error("Set both ends of the custom time range (or pick a preset).");
    if (!(Date.parse(st.from) < Date.parse(st.to))) throw new Error("The time range must start before it ends.");
    return st;
  }

  // URL fragment keys for this state
  hash() {
    const st = this.state();
    return st.range ? { range: st.range === "all" ? "" : st.range } : { from: st.from, to: st.to };
  }

  static fromHash(h) {
    if (h.from || h.to) return { from: h.from || null, to: h.to || null };
    return { range: h.range || "all" };
  }

  label() { return this.select.options[this.select.selectedIndex].textContent; }
};
