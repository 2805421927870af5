// The dashboard's controls: the kill switch and each plugin's reload, disable, enable and
// flatten, sent to the status API. Changes are allowed from loopback, or with the daemon's
// CONTROL_TOKEN as a bearer token (typed into the header, kept for this tab only): no cookie.
import { toast } from "./panels.js";

const tokenInput = () => document.getElementById("token");

async function post(path, body) {
  const headers = { "Content-Type": "application/json" };
  const token = tokenInput().value.trim();
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body ?? {}) });
  } catch (e) {
    throw new Error(`the daemon did not answer (${e.message})`);
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

export async function setKillSwitch(engaged) {
  const reason = document.getElementById("kill-reason").value.trim() || "dashboard";
  try {
    const change = await post("/api/kill-switch", { engaged, reason });
    const what = engaged ? "Trading halted" : "Trading resumed";
    const extra = change.cancelled_orders ? `, ${change.cancelled_orders} resting orders cancelled` : "";
    toast(change.changed ? `${what}${extra}.` : `No change: it already was ${engaged ? "halted" : "on"}.`);
  } catch (e) {
    toast(`Kill switch not changed: ${e.message}`, true);
  }
}

export async function pluginAction(name, action) {
  try {
    const answer = await post(`/api/plugins/${encodeURIComponent(name)}/${action}`, { reason: "dashboard" });
    if (action === "flatten") {
      const refused = answer.orders.filter((o) => o.refused);
      const placed = answer.orders.length - refused.length;
      const why = refused.length ? ` ${refused.length} refused: ${refused[0].refused}` : "";
      toast(`${name}: ${answer.cancelled_orders} resting orders cancelled, ${placed} closing orders placed.${why}`, refused.length > 0);
    } else {
      toast(`${name}: ${action} done${answer.version ? ` (version ${answer.version})` : ""}, now ${answer.state}.`);
    }
  } catch (e) {
    toast(`${name}: ${action} failed: ${e.message}`, true);
  }
}

export function bind() {
  const saved = sessionStorage.getItem("tradehost-token");
  if (saved) tokenInput().value = saved;
  tokenInput().addEventListener("change", () => sessionStorage.setItem("tradehost-token", tokenInput().value.trim()));
  document.getElementById("kill-engage").addEventListener("click", () => setKillSwitch(true));
  document.getElementById("kill-release").addEventListener("click", () => setKillSwitch(false));
}
