// huntvault KQL autocomplete: tables, columns (with types), operators, functions and aggregates from the engine's
// own catalog and vocabulary (/api/hunt/schema, /api/hunt/language), picked by where the caret is.
"use strict";

HV.Complete = class {
  static RENDER_KINDS = ["timechart", "linechart", "areachart", "columnchart", "barchart", "piechart", "scatterchart", "table", "card"];
  static MAX_ITEMS = 12;

  // input: the editor's textarea; vocab(): {tables: [{name, columns, rows}], language: {...}} (either may be missing)
  constructor(input, vocab, opts = {}) {
    const { el } = HV;
    this.input = input;
    this.vocab = vocab;
    this.opts = opts;
    this.items = [];
    this.active = 0;
    this.list = el("ul", { id: "ac-list", class: "autocomplete", role: "listbox", "aria-label": "Suggestions", hidden: true });
    document.body.append(this.list);
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", "ac-list");
    input.setAttribute("aria-expanded", "false");
    input.addEventListener("keydown", (e) => this.onKey(e), true);
    input.addEventListener("input", (e) => {
      if (e.isComposing || this.accepting) return;
      const before = input.value.slice(0, input.selectionStart);
      if (/[A-Za-z_][A-Za-z0-9_]*$/.test(before) || (this.isOpen() && /[-\w]$/.test(before))) this.update(false);
      else this.close();
    });
    input.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== input) this.close(); }, 150));
    input.addEventListener("click", () => this.close());
    input.addEventListener("scroll", () => this.isOpen() && this.place());
    this.list.addEventListener("mousedown", (e) => {
      const li = e.target.closest("li[data-index]");
      if (!li) return;
      e.preventDefault();
      this.accept(Number(li.dataset.index));
    });
  }

  isOpen() { return !this.list.hidden; }

  close() {
    if (!this.isOpen()) return;
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  onKey(e) {
    if (e.key === " " && (e.ctrlKey || e.metaKey)) { e.preventDefault(); e.stopImmediatePropagation(); this.update(true); return; }
    if (!this.isOpen()) return;
    const keys = {
      ArrowDown: () => this.move(1), ArrowUp: () => this.move(-1),
      PageDown: () => this.move(HV.Complete.MAX_ITEMS - 1), PageUp: () => this.move(-(HV.Complete.MAX_ITEMS - 1)),
      Enter: () => this.accept(this.active), Tab: () => this.accept(this.active), Escape: () => this.close(),
    };
    if (e.ctrlKey || e.metaKey || e.altKey || !keys[e.key]) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    keys[e.key]();
  }

  move(d) {
    if (!this.items.length) return;
    this.active = Math.max(0, Math.min(this.items.length - 1, this.active + d));
    this.paintActive();
  }

  paintActive() {
    [...this.list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === this.active)));
    const li = this.list.children[this.active];
    if (li) { this.input.setAttribute("aria-activedescendant", li.id); li.scrollIntoView({ block: "nearest" }); }
  }

  // What the caret is in: {prefix, start, context: "table"|"operator"|"render"|"plugin"|"expr", tables: [...], names}
  context() {
    const text = this.input.value;
    const caret = this.input.selectionStart;
    const before = text.slice(0, caret);
    const m = /[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_]*)*$/.exec(before);
    const prefix = m ? m[0] : "";
    const start = caret - prefix.length;
    const toks = HV.kql.tokens(before.slice(0, start)).filter((t) => t.text.trim() && t.cls !== "tok-comment");
    const last = toks.length ? toks[toks.length - 1].text : "";
    const prev = toks.length > 1 ? toks[toks.length - 2].text.toLowerCase() : "";
    let context = "expr";
    const lowLast = last.toLowerCase();
    if (!toks.length || last === ";" || (last === "(" && ["union", "join", "lookup", "materialize"].includes(prev)) ||
        (last === "," && this.inUnion(toks)) || ["union", "join", "lookup"].includes(lowLast) ||
        (lowLast === "=" && prev && toks.length >= 3 && toks[toks.length - 3].text.toLowerCase() === "let")) context = "table";
    else if (last === "|") context = "operator";
    else if (lowLast === "render") context = "render";
    else if (lowLast === "evaluate") context = "plugin";
    const inSummarize = this.lastOperator(toks) === "summarize" || this.lastOperator(toks) === "make-series";
    return { prefix, start, caret, context, inSummarize, text };
  }

  inUnion(toks) {
    for (let i = toks.length - 1; i >= 0; i--) {
      const w = toks[i].text.toLowerCase();
      if (w === "|" || w === ";") return false;
      if (w === "union") return true;
    }
    return false;
  }

  lastOperator(toks) {
    for (let i = toks.length - 1; i > 0; i--) if (toks[i - 1].text === "|") return toks[i].text.toLowerCase();
    return "";
  }

  // Tables named in the query (their columns are offered), and names the query assigns (extend x = ...).
  scope(text, tables) {
    const names = new Set();
    const byName = new Map(tables.map((t) => [t.name.toLowerCase(), t]));
    const used = [];
    for (const t of HV.kql.tokens(text)) {
      const tbl = byName.get(t.text.toLowerCase());
      if (tbl && !used.includes(tbl)) used.push(tbl);
    }
    const re = /(?:^|[,(|\s])([A-Za-z_][A-Za-z0-9_]*)\s*=(?![=~])/g;
    let m;
    while ((m = re.exec(text)) !== null) names.add(m[1]);
    const lets = new Set();
    const lr = /\blet\s+([A-Za-z_][A-Za-z0-9_]*)/g;
    while ((m = lr.exec(text)) !== null) lets.add(m[1]);
    for (const l of lets) names.delete(l);
    return { used, names: [...names], lets: [...lets] };
  }

  candidates(ctx) {
    const v = this.vocab() || {};
    const lang = v.language || {};
    const tables = v.tables || [];
    const { used, names, lets } = this.scope(ctx.text, tables);
    const out = [];
    const add = (word, kind, detail, rank) => out.push({ word, kind, detail: detail || "", rank });
    if (ctx.context === "table") {
      for (const t of tables) add(t.name, "table", t.rows ? `${HV.fmtNum(t.rows)} rows` : "empty", t.rows ? 0 : 2);
      for (const l of lets) add(l, "let", "", 0);
      for (const w of lang.sources || []) add(w, "keyword", "", 1);
    } else if (ctx.context === "operator") {
      for (const w of lang.operators || []) add(w, "operator", "", 0);
    } else if (ctx.context === "render") {
      for (const w of HV.Complete.RENDER_KINDS) add(w, "chart", "", 0);
    } else if (ctx.context === "plugin") {
      for (const w of lang.plugins || []) add(w, "plugin", "", 0);
    } else {
      const seen = new Set();
      const source = used.length ? used : tables.filter((t) => t.rows);
      for (const t of source) {
        for (const c of t.columns) {
          if (seen.has(c.name)) continue;
          seen.add(c.name);
          add(c.name, "column", c.type, used.length ? 0 : 1);
        }
      }
      for (const n of names) if (!seen.has(n)) { seen.add(n); add(n, "column", "", 0); }
      for (const l of lets) add(l, "let", "", 0);
      for (const w of lang.aggregates || []) add(w, "aggregate", "", ctx.inSummarize ? 0 : 3);
      for (const w of lang.functions || []) add(w, "function", "", 2);
      for (const w of lang.word_operators || []) add(w, "keyword", "", 2);
    }
    return out;
  }

  update(explicit) {
    const ctx = this.context();
    if (!ctx.prefix && !explicit) { this.close(); return; }
    const p = ctx.prefix.toLowerCase();
    const scored = [];
    for (const c of this.candidates(ctx)) {
      const w = c.word.toLowerCase();
      let score;
      if (!p) score = 0;
      else if (w.startsWith(p)) score = 0;
      else if (HV.Complete.humps(c.word).startsWith(p)) score = 1; // ipc -> InitiatingProcessCommandLine
      else if (p.length >= 2 && w.includes(p)) score = 2;
      else continue;
      if (w === p && !explicit) continue; // already typed in full
      scored.push([score * 10 + c.rank, c]);
    }
    scored.sort((a, b) => a[0] - b[0] || a[1].word.length - b[1].word.length || a[1].word.localeCompare(b[1].word));
    const seen = new Set();
    this.items = [];
    for (const [, c] of scored) {
      const key = `${c.kind}:${c.word}`;
      if (seen.has(key)) continue;
      seen.add(key);
      this.items.push(c);
      if (this.items.length >= 50) break;
    }
    this.ctx = ctx;
    if (!this.items.length) { this.close(); return; }
    this.active = 0;
    this.paint();
  }

  static humps(word) { return (word.match(/[A-Z]|\d+/g) || []).join("").toLowerCase(); }

  paint() {
    const { el } = HV;
    HV.clear(this.list);
    this.items.forEach((c, i) => {
      this.list.append(el("li", { id: `ac-${i}`, role: "option", "data-index": i, "data-kind": c.kind, "aria-selected": String(i === this.active) },
        el("span", { class: "ac-word" }, c.word), el("span", { class: `ac-kind k-${c.kind}` }, c.detail ? `${c.kind} · ${c.detail}` : c.kind)));
    });
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.place();
    this.paintActive();
  }

  // Under the caret (fixed position, so the editor's own box never clips it).
  place() {
    const ta = this.input;
    const style = getComputedStyle(ta);
    if (!HV.Complete.charWidth) {
      const probe = HV.el("span", { class: "editor-probe" }, "M".repeat(40));
      probe.style.font = style.font;
      document.body.append(probe);
      HV.Complete.charWidth = probe.getBoundingClientRect().width / 40;
      probe.remove();
    }
    const before = ta.value.slice(0, this.ctx ? this.ctx.start : ta.selectionStart);
    const lines = before.split("\n");
    const line = lines.length - 1, col = lines[lines.length - 1].length;
    const lh = parseFloat(style.lineHeight) || 19.5;
    const box = ta.getBoundingClientRect();
    const x = box.left + parseFloat(style.paddingLeft) + col * HV.Complete.charWidth - ta.scrollLeft;
    const y = box.top + parseFloat(style.paddingTop) + (line + 1) * lh - ta.scrollTop + 2;
    const w = Math.min(420, window.innerWidth - 16);
    this.list.style.left = `${Math.max(8, Math.min(x, window.innerWidth - w - 8))}px`;
    this.list.style.top = `${Math.min(y, window.innerHeight - 60)}px`;
    this.list.style.width = `${w}px`;
  }

  accept(i) {
    const c = this.items[i];
    if (!c) return;
    const ta = this.input;
    const ctx = this.ctx || this.context();
    let text = c.word, caret = 0;
    const after = ta.value.slice(ta.selectionStart);
    if ((c.kind === "function" || c.kind === "aggregate") && !after.startsWith("(")) { text += "()"; caret = -1; }
    else if (c.kind === "operator" && !/^\s/.test(after)) text += " ";
    ta.setRangeText(text, ctx.start, ta.selectionStart, "end");
    if (caret) ta.setSelectionRange(ta.selectionStart + caret, ta.selectionStart + caret);
    this.close();
    this.accepting = true;
    try { ta.dispatchEvent(new Event("input")); } finally { this.accepting = false; }
    if (this.opts.onAccept) this.opts.onAccept(c);
  }
};
