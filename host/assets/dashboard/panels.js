// The dashboard's panels, drawn from the status document (every second) and from events.
// Rows are updated in place, keyed by name, so buttons survive the redraws.
const { el, money, signedMoney, price, qty, time, duration, micros, bp, bytes, sci, pct } = TH.fmt;

const $ = (id) => document.getElementById(id);
const cls = (v) => (v > 0 ? "num pos" : v < 0 ? "num neg" : "num");
const CURRENCY = "USD";

// Replace a row's cells (all but the last `keep`) without touching the kept ones.
function upsert(tbody, key, cells, keep = 0, make = null) {
  let row = tbody.querySelector(`tr[data-key="${CSS.escape(key)}"]`);
  if (!row) {
    row = el("tr", { dataset: { key } });
    for (let i = 0; i < cells.length; i++) row.append(el("td"));
    if (make) row.append(el("td", {}, make()));
    tbody.append(row);
  }
  cells.forEach((c, i) => {
    const td = row.children[i];
    const [text, className, title] = Array.isArray(c) ? c : [c, "", ""];
    if (td.textContent !== String(text)) td.textContent = text;
    if ((td.className || "") !== (className || "")) td.className = className || "";
    if (title) td.title = title;
  });
  return row;
}

function prune(tbody, keys) {
  for (const row of [...tbody.rows]) if (!keys.has(row.dataset.key)) row.remove();
}

function facts(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v, c]) => [el("dt", {}, k), el("dd", { class: c || "" }, v)]));
}

export function header(s, streamUp) {
  $("mode").textContent = s.mode;
  const h = $("health");
  h.textContent = s.health.healthy ? "healthy" : "unhealthy";
  h.className = `badge ${s.health.healthy ? "good" : "bad"}`;
  h.title = s.health.messages.join("\n") || "no problem";
  $("uptime").textContent = `up ${duration(s.uptime_secs)}`;
  const k = s.broker.kill_switch;
  const ks = $("kill-state");
  ks.textContent = k.engaged ? "HALTED" : "trading";
  ks.className = `badge ${k.engaged ? "bad" : "good"}`;
  ks.title = k.reason ? `${k.engaged ? "halted" : "released"}: ${k.reason}` : "";
  $("kill-engage").disabled = k.engaged || !streamUp;
  $("kill-release").disabled = !k.engaged || !streamUp;
}

export function pnl(s) {
  const b = s.broker;
  facts($("pnl"), [
    ["realised", signedMoney(b.realised_pnl, CURRENCY), cls(b.realised_pnl)],
    ["unrealised", signedMoney(b.unrealised_pnl, CURRENCY), cls(b.unrealised_pnl)],
    ["orders · fills · refusals", `${b.orders} · ${b.fills} · ${b.refusals}`],
    ["resting orders", b.resting_orders],
  ]);
}

export function feed(s) {
  const f = s.feed;
  const l = f.link;
  const link = {
    connected: ["connected", "pos"],
    reconnecting: [`reconnecting (attempt ${l.attempt}, in ${duration(l.delay_secs)})`, "neg"],
    disconnected: [`disconnected: ${l.reason}`, "neg"],
    stopped: [`stopped: ${l.reason}`, "neg"],
    connecting: ["connecting", "muted"],
    off: ["off (history only)", "muted"],
  }[l.state] || [l.state, ""];
  const rows = [
    ["link", link[0], link[1]],
    ["since", TH.fmt.dateTime(f.since_ms)],
    ["trades / s", f.trades_per_sec.toFixed(1)],
    ["trades", f.trades_in.toLocaleString("en-US")],
    ["gaps · reconnects", `${f.gaps} · ${f.reconnects}`],
    ["subscribed", f.subscriptions.join(", ") || "–"],
  ];
  if (f.down_since_ms) rows.push(["down for", duration((Date.now() - f.down_since_ms) / 1000), "neg"]);
  if (f.malformed_frames || f.dropped_events) rows.push(["malformed · dropped", `${f.malformed_frames} · ${f.dropped_events}`, "neg"]);
  for (const r of f.rejected) rows.push([`refused ${r.symbol}`, r.reason, "neg"]);
  facts($("feed"), rows);
}

export function journal(s) {
  const j = s.broker.journal;
  facts($("journal"), [
    ["health", j.failure ? `FAILED: ${j.failure}` : "ok", j.failure ? "neg" : "pos"],
    ["size", bytes(j.bytes)],
    ["write errors", j.write_errors, j.write_errors ? "neg" : ""],
    ["file", j.path],
  ]);
}

export function positions(s) {
  const tbody = $("positions").tBodies[0];
  const keys = new Set();
  for (const p of s.broker.positions) {
    const key = `${p.plugin}/${p.symbol}`;
    keys.add(key);
    const total = p.realised_pnl + p.unrealised_pnl;
    upsert(tbody, key, [
      p.plugin, p.symbol, [qty(p.quantity), "num"], [price(p.average_price), "num"],
      [money(p.realised_pnl), cls(p.realised_pnl)], [money(p.unrealised_pnl), cls(p.unrealised_pnl)],
      [money(total, CURRENCY), cls(total)],
    ]);
  }
  prune(tbody, keys);
}

const STATE_BADGE = { running: "good", faulted: "warn", quarantined: "bad", disabled: "" };

export function plugins(s, onAction) {
  const tbody = $("plugins").tBodies[0];
  const keys = new Set();
  for (const p of s.plugins) {
    const st = p.stats;
    keys.add(p.info.name);
    const row = upsert(
      tbody,
      p.info.name,
      [
        p.info.name, p.info.version, [st.state, `badge ${STATE_BADGE[st.state] ?? ""}`],
        p.info.symbols.join(", "), [st.calls.toLocaleString("en-US"), "num"],
        [st.calls ? micros(st.latency_p99_ns) : "–", "num"], [st.events_skipped, st.events_skipped ? "num neg" : "num"],
        [`${st.reloads_ok}${st.reloads_failed ? ` (+${st.reloads_failed} refused)` : ""}`, "num"],
        [st.faults, st.faults ? "num neg" : "num"], [st.last_error || "", "wrap muted"],
      ],
      1,
      () => controlsFor(p.info.name, onAction)
    );
    row.dataset.plugin = p.info.name;
    row.dataset.state = st.state;
    const disabled = st.state === "disabled";
    // A disabled plugin can be enabled (or flattened: its positions stay); a loaded one
    // reloaded, disabled or flattened.
    for (const b of row.querySelectorAll("button")) {
      const a = b.dataset.action;
      b.hidden = a === "enable" ? !disabled : a !== "flatten" && disabled;
    }
  }
  prune(tbody, keys);
}

function controlsFor(name, onAction) {
  const button = (action, label, danger) => {
    const b = el("button", { class: danger ? "danger" : "", dataset: { action, plugin: name } }, label);
    b.addEventListener("click", () => {
      // Two clicks for what stops a strategy or trades: the first arms the button.
      if (danger && !b.classList.contains("armed")) {
        b.classList.add("armed");
        b.textContent = `confirm ${label.toLowerCase()}`;
        setTimeout(() => { b.classList.remove("armed"); b.textContent = label; }, 4000);
        return;
      }
      b.classList.remove("armed");
      b.textContent = label;
      onAction(name, action);
    });
    return b;
  };
  return el("span", {}, button("reload", "Reload"), " ", button("disable", "Disable", true), button("enable", "Enable"),
    " ", button("flatten", "Flatten", true));
}

// Every host of a scale-out deployment (strategy hosts only; absent for one process).
export function deployment(s) {
  const hosts = s.deployment ?? [];
  $("deployment-panel").hidden = hosts.length === 0;
  const tbody = $("deployment").tBodies[0];
  const keys = new Set();
  for (const h of hosts) {
    keys.add(h.host);
    const state = h.stale ? "stale: not reporting"
      : h.state === "degraded" ? `degraded: ${h.reason}`
      : h.state === "standby" ? `standby${h.holder ? ` (lease held by ${h.holder})` : ""}`
      : h.state;
    upsert(tbody, h.host, [
      h.host, h.role, [state, h.stale || h.state === "degraded" ? "neg" : ""],
      [h.lag ? duration(h.lag.behind_ms / 1000) : "–", "num"], [h.lag ? h.lag.pending : "–", "num"],
      [h.counters.published, "num"], [h.counters.received, "num"], [(h.symbols ?? []).join(" "), "wrap"],
      [duration(h.age_ms / 1000), "num"],
    ]);
  }
  prune(tbody, keys);
}

export function models(s) {
  const tbody = $("models").tBodies[0];
  const keys = new Set();
  for (const m of s.models) {
    keys.add(m.symbol);
    const c = m.last_cycle;
    let decision = "–";
    if (c) {
      decision = {
        deployed: () => `deployed v${c.version}: ${c.reason}`,
        refused: () => `kept v${c.version} as candidate: ${c.reasons.join("; ")}`,
        unchanged: () => `retrained: same model as live v${c.version}`,
        not_enough_data: () => `waiting: ${c.have} of ${c.need} rows`,
        failed: () => `failed: ${c.error}`,
      }[c.outcome]?.() ?? c.outcome;
    }
    upsert(tbody, m.symbol, [
      m.symbol, m.version ? `v${m.version}` : "none", [sci(m.mse), "num"], [pct(m.directional_accuracy), "num"],
      [m.predictions, "num"], c ? time(c.ended_ms) : "–", [decision, "wrap"],
    ]);
  }
  prune(tbody, keys);
}

const MAX_ROWS = 200;
function prepend(id, key, cells) {
  const tbody = $(id).tBodies[0];
  if (key && tbody.querySelector(`tr[data-key="${CSS.escape(key)}"]`)) return;
  const row = el("tr", { dataset: key ? { key } : {} }, cells.map((c) => {
    const [text, className] = Array.isArray(c) ? c : [c, ""];
    return el("td", { class: className }, text);
  }));
  tbody.prepend(row);
  while (tbody.rows.length > MAX_ROWS) tbody.lastChild.remove();
}

export function fill(f) {
  prepend("fills", `fill-${f.order_id}`, [time(f.time_ms), f.plugin, f.symbol, [f.side, f.side === "buy" ? "pos" : "neg"],
    [qty(f.quantity), "num"], [price(f.price), "num"], [money(f.fee), "num"]]);
}
export function order(o) {
  prepend("orders", `order-${o.order_id}`, [time(o.time_ms), o.plugin, o.symbol, o.side, [qty(o.quantity), "num"],
    o.limit ? `limit ${price(o.limit)}` : "market"]);
}
export function refusal(r) {
  prepend("refusals", null, [time(r.time_ms), r.plugin, r.symbol, [r.reason, "wrap"]]);
}
export function notice(n) {
  prepend("notices", null, [time(n.time_ms), n.subject, [n.text, `wrap notice ${n.level}`]]);
}
export function clearLists() {
  for (const id of ["fills", "orders", "refusals", "notices"]) $(id).tBodies[0].replaceChildren();
}

export function toast(text, error) {
  const t = $("toast");
  t.textContent = text;
  t.className = `show${error ? " error" : ""}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.className = ""), 6000);
}

export { bp };
