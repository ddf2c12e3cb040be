// huntvault keyboard shortcuts: each page registers its own, `?` lists them all in a dialog.
"use strict";

HV.keys = (() => {
  const { el } = HV;
  const entries = []; // {group, keys, label, key?, run?, typing?}

  // Registers a shortcut shown in the `?` dialog. With `key` (a KeyboardEvent.key, e.g. "w", "/", "?") and
  // `run`, the page-wide handler calls it when no text field has the focus (`typing: true`: even then).
  function add(group, keys, label, key, run, opts = {}) {
    entries.push({ group, keys, label, key, run, typing: !!opts.typing, ctrl: !!opts.ctrl });
  }
  // Lists a key handled elsewhere (the editor, the grid) in the dialog only.
  function describe(group, keys, label) { entries.push({ group, keys, label }); }

  function dialog() {
    let box = document.getElementById("keys-dialog");
    if (box) return box;
    box = el("dialog", { id: "keys-dialog", "aria-labelledby": "keys-title", class: "keys-dialog" });
    document.body.append(box);
    return box;
  }

  function show() {
    const box = HV.clear(dialog());
    const groups = [];
    for (const e of entries) if (!groups.includes(e.group)) groups.push(e.group);
    box.append(el("h2", { id: "keys-title" }, "Keyboard shortcuts"));
    for (const g of groups) {
      box.append(el("h3", {}, g), el("dl", { class: "keys" }, entries.filter((e) => e.group === g).map((e) => [
        el("dt", {}, e.keys.split(" / ").flatMap((k, i) => [i ? " or " : "", el("kbd", {}, k)])),
        el("dd", {}, e.label)]).flat()));
    }
    box.append(el("form", { method: "dialog", class: "row" }, el("button", { type: "submit", class: "primary" }, "Close")));
    if (!box.open) box.showModal();
    box.querySelector("button").focus();
  }

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.altKey) return;
    const typing = HV.isTyping(e.target);
    if (e.key === "?" && !typing && !e.ctrlKey && !e.metaKey) { e.preventDefault(); show(); return; }
    if (document.querySelector("dialog[open]")) return;
    for (const s of entries) {
      if (!s.run || s.key !== e.key || (typing && !s.typing)) continue;
      if (s.ctrl !== (e.ctrlKey || e.metaKey)) continue;
      e.preventDefault();
      s.run(e);
      return;
    }
  });

  add("Everywhere", "?", "Show these shortcuts");
  return { add, describe, show };
})();
