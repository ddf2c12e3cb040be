// huntvault pivots: from a value (a device, a hash, an IP, an account, a URL, a file name) to the hunt or the
// device timeline that looks for it in every table holding such a column. The queries are shown, never hidden.
"use strict";

HV.pivots = (() => {
  let tables = []; // [{name, columns: [{name, type}], rows, time_column}] from /api/hunt/schema

  //: entity kind -> which columns hold it, how values compare, the link's label
  const KINDS = [
    { kind: "device", label: "Device timeline", test: /^(DeviceName|DeviceId|ComputerDnsName|computerDnsName)$/ },
    { kind: "sha1", label: "Hunt this SHA1", test: /SHA1$/i, op: "==" },
    { kind: "sha256", label: "Hunt this SHA256", test: /SHA256$/i, op: "==" },
    { kind: "md5", label: "Hunt this MD5", test: /MD5$/i, op: "==" },
    { kind: "ip", label: "Hunt this IP address", test: /(IP|IPAddress)$/, op: "==" },
    { kind: "account", label: "Hunt this account", test: /AccountName$/, op: "=~" },
    { kind: "sid", label: "Hunt this SID", test: /AccountSid$/, op: "==" },
    { kind: "upn", label: "Hunt this UPN", test: /(AccountUpn|UserPrincipalName)$/, op: "=~" },
    { kind: "url", label: "Hunt this URL", test: /(RemoteUrl|FileOriginUrl|^Url)$/, op: "==" },
    { kind: "file", label: "Hunt this file name", test: /^(FileName|InitiatingProcessFileName|InitiatingProcessParentFileName)$/, op: "=~" },
  ];

  function setSchema(list) { tables = list || []; }
  function kindOf(column) { return KINDS.find((k) => k.test.test(column)) || null; }

  // The device timeline link for `device` over `range` ({range} or {from, to}).
  function deviceHref(device, range) {
    return `/ui/device#${HV.hashOf({ device, ...(range || {}) })}`;
  }

  // A hunt over every table (with rows) that has a column of this kind, matching `value` in any such column.
  function query(kind, value) {
    const k = KINDS.find((x) => x.kind === kind);
    const legs = [];
    for (const t of tables) {
      if (!t.rows) continue;
      const cols = t.columns.filter((c) => c.type === "string" && k.test.test(c.name)).map((c) => c.name);
      if (cols.length && t.columns.some((c) => c.name === "Timestamp")) legs.push({ table: t.name, cols });
    }
    if (!legs.length) return null;
    const cols = [...new Set(legs.flatMap((l) => l.cols))];
    const lit = HV.kql.str(value);
    const where = cols.map((c) => `${HV.kql.ident(c)} ${k.op} ${lit}`).join("\n    or ");
    const source = legs.length === 1 ? legs[0].table
      : `union withsource=Table\n    ${legs.map((l) => l.table).join(",\n    ")}`;
    return `// ${k.label.replace(/^Hunt this /, "Every event with this ")}: ${String(value).slice(0, 80)}\n${source}\n` +
      `| where ${where}\n| sort by Timestamp desc`;
  }

  function huntHref(q, range) {
    return `/ui/hunt#${HV.hashOf({ q, ...(range || {}), run: "1" })}`;
  }

  // The pivot links for one value of `column`: [{label, href, kind}] (none for empty values).
  function links(column, value, range) {
    if (value === null || value === undefined || value === "" || typeof value === "object") return [];
    const k = kindOf(column);
    if (!k) return [];
    if (k.kind === "device") return [{ label: k.label, href: deviceHref(String(value), range), kind: k.kind }];
    const q = query(k.kind, value);
    return q ? [{ label: k.label, href: huntHref(q, range), kind: k.kind }] : [];
  }

  // A time range around an instant: {from, to} spanning `before`/`after` milliseconds.
  function around(iso, before = 3600e3, after = 3600e3) {
    const t = Date.parse(iso);
    if (!Number.isFinite(t)) return null;
    return { from: new Date(t - before).toISOString(), to: new Date(t + after).toISOString() };
  }

  //: a forwarded alert's evidence field -> the pivot kind whose columns hold such values
  const EVIDENCE = { sha1: "sha1", sha256: "sha256", ipAddress: "ip", url: "url", fileName: "file", accountName: "account",
    userSid: "sid", userPrincipalName: "upn" };

  // A hunt for an alert's evidence on its machine: every device table (with rows) holding a column of an
  // evidence kind, on that device, matching any evidence value (null when the evidence gives nothing to match).
  function evidenceQuery(alert) {
    const values = {};
    for (const e of alert.evidence || []) {
      for (const [field, kind] of Object.entries(EVIDENCE)) {
        const v = e[field];
        if (v && typeof v === "string") (values[kind] = values[kind] || new Set()).add(v);
      }
    }
    const device = (alert.machine || {}).computerDnsName || "";
    const legs = [], conds = new Map();
    for (const t of tables) {
      if (!t.rows || !t.columns.some((c) => c.name === "Timestamp") || !t.columns.some((c) => c.name === "DeviceName")) continue;
      let hit = false;
      for (const [kind, vals] of Object.entries(values)) {
        const k = KINDS.find((x) => x.kind === kind);
        for (const c of t.columns) {
          if (c.type !== "string" || !k.test.test(c.name)) continue;
          hit = true;
          const list = [...vals].map((v) => HV.kql.str(v)).join(", ");
          conds.set(c.name, `${HV.kql.ident(c.name)} ${k.op === "=~" ? "in~" : "in"} (${list})`);
        }
      }
      if (hit) legs.push(t.name);
    }
    if (!legs.length) return null;
    const title = String(alert.title || alert.id).replace(/\n/g, " ");
    return `// Alert ${alert.id}: ${title}\n// its evidence (files, hashes, IPs, URLs, accounts) on ${device || "any device"}\n` +
      `union withsource=Table\n    ${legs.join(",\n    ")}\n` +
      (device ? `| where DeviceName =~ ${HV.kql.str(device)}\n` : "") +
      `| where ${[...conds.values()].join("\n    or ")}\n| sort by Timestamp asc`;
  }

  return { KINDS, setSchema, evidenceQuery, kindOf, query, links, huntHref, deviceHref, around, tables: () => tables };
})();
