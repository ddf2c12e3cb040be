// huntvault UI core: API calls with the api-key header, the key dialog, DOM and formatting helpers.
"use strict";

const HV = (() => {
  const KEY_NAME = "huntvault.apiKey";
  let session = null;
  let keyWaiters = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function getKey() { return sessionStorage.getItem(KEY_NAME) || ""; }
  function setKey(k) { if (k) sessionStorage.setItem(KEY_NAME, k); else sessionStorage.removeItem(KEY_NAME); }

  class ApiError extends Error {
    constructor(status, body) {
      const msg = (body && body.error && body.error.message) || `HTTP ${status}`;
      super(msg);
      this.status = status;
      this.body = body;
    }
  }

  async function rawFetch(path, opts) {
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    const key = getKey();
    if (key) headers["api-key"] = key;
    let body = opts.body;
    if (body !== undefined && typeof body !== "string") {
      body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    const res = await fetch(path, { method: opts.method || "GET", headers, body, cache: "no-store" });
    const text = await res.text();
    let data = text;
    if ((res.headers.get("content-type") || "").includes("json") && text) {
      try { data = JSON.parse(text); } catch (e) { data = text; }
    }
    return { res, data };
  }

  // Calls an API; on 401/403 asks for a key (once per page) and retries; on 429 (too many hunts at once for
  // this key) waits the Retry-After the server names and tries again.
  async function api(path, opts = {}) {
    let busy = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      const { res, data } = await rawFetch(path, opts);
      if ((res.status === 401 || res.status === 403) && !opts.noPrompt && path !== "/api/session") {
        await askKey(res.status === 403 ? "That key is not valid for this server." : "");
        continue;
      }
      if (res.status === 429 && busy < 30) {
        busy++;
        attempt--;
        const wait = Math.min(10, Number(res.headers.get("retry-after")) || 1);
        await new Promise((r) => setTimeout(r, wait * 1000));
        continue;
      }
      if (!res.ok) throw new ApiError(res.status, data);
      return data;
    }
    throw new ApiError(401, { error: { message: "No valid api-key" } });
  }

  function askKey(message) {
    if (keyWaiters) return keyWaiters.promise;
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    keyWaiters = { promise, resolve };
    const dialog = document.getElementById("key-dialog");
    const input = document.getElementById("key-input");
    const error = document.getElementById("key-error");
    error.textContent = message || "";
    input.value = "";
    if (!dialog.open) dialog.showModal();
    input.focus();
    return promise;
  }

  async function submitKey(ev) {
    ev.preventDefault();
    const input = document.getElementById("key-input");
    const error = document.getElementById("key-error");
    setKey(input.value.trim());
    const { res, data } = await rawFetch("/api/session", {});
    if (!res.ok) {
      error.textContent = (data && data.error && data.error.message) || `HTTP ${res.status}`;
      setKey("");
      input.select();
      return;
    }
    session = data;
    showSession();
    document.getElementById("key-dialog").close();
    const w = keyWaiters;
    keyWaiters = null;
    if (w) w.resolve();
  }

  function showSession() {
    const box = document.getElementById("session-info");
    if (!box || !session) return;
    clear(box);
    if (!session.auth) {
      box.append(el("span", { class: "badge warn", title: "Started with --no-auth on a loopback address" }, "no auth (local)"));
      return;
    }
    box.append(el("span", { class: "badge" }, session.role === "admin" ? "admin key" : "query key"), " ",
      el("button", { type: "button", class: "link", onclick: () => { setKey(""); location.reload(); } }, "Forget key"));
  }

  // Resolves once the server accepts us (asking for a key when it does not); returns the session info.
  async function ready() {
    document.getElementById("key-form").addEventListener("submit", submitKey);
    document.getElementById("key-dialog").addEventListener("cancel", (e) => e.preventDefault());
    for (;;) {
      const { res, data } = await rawFetch("/api/session", {});
      if (res.ok) { session = data; showSession(); return data; }
      if (res.status !== 401 && res.status !== 403) throw new ApiError(res.status, data);
      if (getKey()) setKey("");
      await askKey(res.status === 403 ? "That key is not valid for this server." : "");
      if (session) return session;
    }
  }

  function fmtNum(n) { return n === null || n === undefined ? "" : Number(n).toLocaleString("en-US"); }
  function fmtBytes(n) {
    if (n === null || n === undefined) return "";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let v = Number(n), i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
  }
  function fmtDuration(sec) {
    if (sec === null || sec === undefined) return "";
    const s = Math.abs(Number(sec));
    if (s < 90) return `${Math.round(s)} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
    return `${(s / 86400).toFixed(1)} d`;
  }
  function fmtTime(iso) {
    return iso ? String(iso).replace("T", " ").replace(/\+00:00$/, "Z").replace(/(\.\d{3})\d*Z$/, "$1Z") : "";
  }

  function download(name, text, mime) {
    const blob = new Blob([text], { type: mime });
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // A plain, read-only table: columns [{key, label, fmt?, class?}], rows of objects.
  function table(columns, rows, opts = {}) {
    const t = el("table", { class: "data" + (opts.class ? " " + opts.class : "") });
    if (opts.caption) t.append(el("caption", {}, opts.caption));
    t.append(el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.class }, c.label)))));
    const tb = el("tbody");
    for (const r of rows) {
      tb.append(el("tr", {}, columns.map((c) => {
        const v = c.fmt ? c.fmt(r[c.key], r) : r[c.key];
        return el("td", { class: c.class }, v instanceof Node ? v : (v === null || v === undefined ? "" : String(v)));
      })));
    }
    if (!rows.length) tb.append(el("tr", {}, el("td", { colspan: columns.length, class: "empty" }, opts.empty || "Nothing yet.")));
    t.append(tb);
    return el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": opts.label || opts.caption || "table" }, t);
  }

  // Tabs: buttons with role=tab; arrow keys move between them.
  function tabs(buttons, onSelect) {
    const select = (b) => {
      for (const x of buttons) {
        const on = x === b;
        x.setAttribute("aria-selected", on ? "true" : "false");
        x.tabIndex = on ? 0 : -1;
        const panel = document.getElementById(x.getAttribute("aria-controls"));
        if (panel) panel.hidden = !on;
      }
      if (onSelect) onSelect(b);
    };
    buttons.forEach((b, i) => {
      b.tabIndex = b.getAttribute("aria-selected") === "true" ? 0 : -1;
      b.addEventListener("click", () => select(b));
      b.addEventListener("keydown", (e) => {
        if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
        const enabled = buttons.filter((x) => !x.disabled);
        const j = enabled.indexOf(b) + (e.key === "ArrowRight" ? 1 : -1);
        const next = enabled[(j + enabled.length) % enabled.length];
        next.focus();
        select(next);
      });
    });
    return select;
  }

  function errorText(e) {
    if (e instanceof ApiError) return `${e.message} (HTTP ${e.status})`;
    return String(e && e.message ? e.message : e);
  }

  // The page's state lives in the URL's fragment (#a=1&b=x): every view can be shared by its address.
  // Values are percent-encoded (spaces as %20), so a KQL query or a path survives mail and chat clients.
  function readHash() {
    const out = {};
    for (const part of location.hash.slice(1).split("&")) {
      if (!part) continue;
      const i = part.indexOf("=");
      const k = i < 0 ? part : part.slice(0, i);
      let v = i < 0 ? "" : part.slice(i + 1);
      try { v = decodeURIComponent(v.replace(/\+/g, "%20")); } catch (e) { /* a literal % typed by hand */ }
      out[decodeURIComponent(k)] = v;
    }
    return out;
  }
  function hashOf(state) {
    return Object.entries(state).filter(([, v]) => v !== undefined && v !== null && v !== "" && v !== false)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v === true ? "1" : String(v))}`).join("&");
  }
  // Writes `state` as the fragment without a new history entry (push=true adds one); returns the fragment.
  function writeHash(state, push) {
    const h = hashOf(state);
    const url = `${location.pathname}${location.search}${h ? "#" + h : ""}`;
    if (url !== `${location.pathname}${location.search}${location.hash}`) {
      if (push) window.history.pushState(null, "", url); else window.history.replaceState(null, "", url);
    }
    return h;
  }

  function toast(message) {
    let box = document.getElementById("toast");
    if (!box) {
      box = el("div", { id: "toast", class: "toast", role: "status", "aria-live": "polite" });
      document.body.append(box);
    }
    box.textContent = message;
    box.classList.add("show");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => box.classList.remove("show"), 1800);
  }

  // Copies text (the Clipboard API where the page is a secure context, else a hidden textarea).
  async function copy(text, what) {
    let done = false;
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); done = true; } catch (e) { done = false; }
    }
    if (!done) {
      const ta = el("textarea", { class: "offscreen", "aria-hidden": "true" });
      ta.value = text;
      document.body.append(ta);
      ta.select();
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
      ta.remove();
    }
    toast(done ? `Copied ${what || "to the clipboard"}` : "The browser refused to copy; select the text instead");
    return done;
  }

  function isTyping(target) {
    const t = target || document.activeElement;
    return !!t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  return { el, clear, api, ready, ApiError, fmtNum, fmtBytes, fmtDuration, fmtTime, download, table, tabs, errorText,
    getKey, setKey, readHash, writeHash, hashOf, toast, copy, isTyping };
})();
