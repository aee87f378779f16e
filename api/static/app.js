// Operator dashboard: sign in with an API key, follow anomalies live, see them on a per-camera timeline.
// The key is kept in sessionStorage (gone when the tab closes) and sent as a header or WebSocket subprotocol,
// never in a URL, so it does not end up in logs or history.
"use strict";

const KEY_STORAGE = "anomaly.apiKey";
const MAX_CARDS = 200;
const SEVERITIES = ["LOW", "MEDIUM", "HIGH", "CRITICAL"];
const SVG_NS = "http://www.w3.org/2000/svg";

const state = {
  key: null,
  socket: null,
  retryMs: 1000,
  anomalies: new Map(), // anomaly_id -> latest summary (timeline + feed)
  cameras: new Set(),
  camera: "",
  rangeMinutes: 60,
};

const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const options = { headers: { Authorization: `Bearer ${state.key}` } };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (response.status === 401) {
    signOut("Your key was refused (missing, expired or revoked).");
    throw new Error("unauthorized");
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.detail || `HTTP ${response.status}`);
  }
  return response.json();
}

// --- sign in / out ------------------------------------------------------------------------------------------

async function signIn(key) {
  state.key = key;
  try {
    await api("/v1/cameras");
  } catch (err) {
    state.key = null;
    $("login-error").textContent = err.message === "unauthorized" ? "Invalid API key." : err.message;
    return;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  $("login").hidden = true;
  $("main").hidden = false;
  $("who").textContent = `key ${key.slice(0, 7)}…`;
  try {
    await loadCameras();
    await loadRecent();
  } catch (err) {
    setStatus("off", `history unavailable: ${err.message}`);
  }
  connect();
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = null;
  if (state.socket) {
    state.socket.onclose = null;
    state.socket.close(1000, "signed out");
    state.socket = null;
  }
  state.anomalies.clear();
  $("feed").replaceChildren();
  $("main").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

// --- data ---------------------------------------------------------------------------------------------------

async function loadCameras() {
  const { items } = await api("/v1/cameras");
  for (const camera of items) addCamera(camera.id);
}

async function loadRecent() {
  const since = new Date(Date.now() - state.rangeMinutes * 60_000).toISOString();
  const params = new URLSearchParams({ since, limit: "200" });
  if (state.camera) params.append("camera", state.camera);
  const page = await api(`/v1/anomalies?${params}`);
  for (const anomaly of page.items.reverse()) remember(anomaly, false);
  render();
}

function addCamera(id) {
  if (state.cameras.has(id)) return;
  state.cameras.add(id);
  const option = document.createElement("option");
  option.value = id;
  option.textContent = id;
  $("camera-filter").append(option);
}

const HANDLING = ["status", "acknowledged_by", "acknowledged_at", "assignee", "resolution"];

function remember(anomaly, live) {
  const known = state.anomalies.get(anomaly.anomaly_id);
  if (known && known.revision > anomaly.revision) return; // an older revision arrived late
  if (known && !anomaly.best_frame_url && known.best_frame_url) anomaly.best_frame_url = known.best_frame_url;
  // Live anomaly messages carry the fusion's decision only; what operators did arrives as action messages.
  if (anomaly.status == null) for (const field of HANDLING) anomaly[field] = known ? known[field] : null;
  anomaly.status = anomaly.status || "NEW";
  state.anomalies.set(anomaly.anomaly_id, anomaly);
  addCamera(anomaly.camera_id);
  if (live) upsertCard(anomaly, true);
}

// --- live feed ----------------------------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = state.camera ? `?camera=${encodeURIComponent(state.camera)}` : "";
  setStatus("wait", "connecting");
  const socket = new WebSocket(`${scheme}://${location.host}/v1/ws/anomalies${query}`, [
    "anomaly.v1",
    `bearer.${state.key}`,
  ]);
  state.socket = socket;
  socket.onopen = () => {
    state.retryMs = 1000;
    setStatus("on", "live");
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "anomaly") {
      remember(message.anomaly, true);
      renderTimeline();
    } else if (message.type === "action") {
      applyAction(message.action);
    }
  };
  socket.onclose = (event) => {
    if (state.socket !== socket) return;
    state.socket = null;
    if (event.code === 1008 && /credential|revoked|expired|invalid token|bearer/i.test(event.reason)) {
      signOut(`Live feed refused: ${event.reason}`);
      return;
    }
    setStatus("off", "reconnecting");
    setTimeout(() => state.key && !state.socket && connect(), state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 30_000);
  };
}

function reconnect() {
  if (state.socket) {
    state.socket.onclose = null;
    state.socket.close(1000, "filter changed");
    state.socket = null;
  }
  connect();
}

function setStatus(kind, text) {
  const el = $("status");
  el.className = `status status-${kind}`;
  el.textContent = text;
}

// --- operator actions (POST /v1/anomalies/{id}/actions; the live feed echoes them to every dashboard) ----------

// The projection's rules, for what this page shows until the next reload: the first acknowledge or resolve
// acknowledges, the latest resolve and assign win. Applying the same action twice changes nothing.
function applyAction(action) {
  const anomaly = state.anomalies.get(action.anomaly_id);
  if (!anomaly) return;
  const acknowledges = action.kind === "ACKNOWLEDGE" || action.kind === "RESOLVE";
  if (acknowledges && !anomaly.acknowledged_by) {
    anomaly.acknowledged_by = action.actor;
    anomaly.acknowledged_at = action.at;
  }
  if (action.kind === "ASSIGN") anomaly.assignee = action.assignee;
  if (action.kind === "RESOLVE") anomaly.resolution = action.resolution;
  anomaly.status = anomaly.resolution ? "RESOLVED" : anomaly.acknowledged_by ? "ACKNOWLEDGED" : "NEW";
  upsertCard(anomaly, false);
}

async function act(anomalyId, body, node) {
  const error = node.querySelector(".action-error");
  error.textContent = "";
  try {
    applyAction(await api(`/v1/anomalies/${encodeURIComponent(anomalyId)}/actions`, body));
  } catch (err) {
    error.textContent = /operator/.test(err.message) ? "this key may only read (an operator key acts)" : err.message;
  }
}

// Who was told, and how: the notify worker's decisions for this anomaly (GET /v1/anomalies/{id}), loaded when opened.
async function showNotifications(anomalyId, details) {
  const list = details.querySelector(".notified-list");
  list.replaceChildren();
  try {
    const detail = await api(`/v1/anomalies/${encodeURIComponent(anomalyId)}`);
    const rows = detail.notifications || [];
    if (rows.length === 0) list.append(Object.assign(document.createElement("li"), { textContent: "none" }));
    for (const n of rows) {
      const li = document.createElement("li");
      li.className = `notification notification-${n.status}`;
      const when = new Date(n.created_at).toLocaleTimeString();
      li.textContent = `${when} ${n.target} (${n.channel}) ${n.change}: ${n.status}${n.detail ? ` - ${n.detail}` : ""}`;
      list.append(li);
    }
  } catch (err) {
    list.append(Object.assign(document.createElement("li"), { className: "error", textContent: err.message }));
  }
}

function handlingText(anomaly) {
  if (anomaly.status === "RESOLVED") return `resolved: ${anomaly.resolution.replace("_", " ").toLowerCase()}`;
  const parts = [anomaly.status === "ACKNOWLEDGED" ? `acknowledged by ${anomaly.acknowledged_by}` : "new"];
  if (anomaly.assignee) parts.push(`assigned to ${anomaly.assignee}`);
  return parts.join(" · ");
}

// --- rendering ----------------------------------------------------------------------------------------------

function visible(anomaly) {
  return !state.camera || anomaly.camera_id === state.camera;
}

function render() {
  const feed = $("feed");
  feed.replaceChildren();
  const items = [...state.anomalies.values()].filter(visible);
  items.sort((a, b) => b.incident_start.localeCompare(a.incident_start));
  for (const anomaly of items.slice(0, MAX_CARDS)) feed.append(card(anomaly, false));
  updateCount();
  renderTimeline();
}

function upsertCard(anomaly, fresh) {
  if (!visible(anomaly)) return;
  const feed = $("feed");
  const existing = feed.querySelector(`[data-anomaly-id="${CSS.escape(anomaly.anomaly_id)}"]`);
  const element = card(anomaly, fresh);
  if (existing) existing.replaceWith(element);
  else feed.prepend(element);
  while (feed.children.length > MAX_CARDS) feed.lastElementChild.remove();
  updateCount();
}

function updateCount() {
  const n = $("feed").children.length;
  $("feed-count").textContent = String(n);
  $("feed-empty").hidden = n > 0;
}

function card(anomaly, fresh) {
  const node = $("alert-template").content.firstElementChild.cloneNode(true);
  node.dataset.anomalyId = anomaly.anomaly_id;
  node.dataset.camera = anomaly.camera_id;
  node.classList.add(`sev-${anomaly.severity}`);
  if (fresh) node.classList.add("fresh");
  const img = node.querySelector("img");
  const noFrame = node.querySelector(".no-frame");
  if (anomaly.best_frame_url) {
    img.src = anomaly.best_frame_url;
    noFrame.hidden = true;
  } else {
    img.hidden = true;
  }
  const severity = node.querySelector(".severity");
  severity.textContent = anomaly.severity;
  severity.classList.add(anomaly.severity);
  node.querySelector(".camera").textContent = anomaly.camera_id;
  const when = node.querySelector(".when");
  when.dateTime = anomaly.incident_start;
  when.textContent = new Date(anomaly.incident_start).toLocaleString();
  node.querySelector(".state").textContent = `${anomaly.state} · rev ${anomaly.revision} · score ${anomaly.score.toFixed(2)}`;
  const kinds = node.querySelector(".kinds");
  for (const kind of anomaly.kinds) {
    const chip = document.createElement("span");
    chip.className = "kind";
    chip.textContent = kind;
    kinds.append(chip);
  }
  node.querySelector(".caption").textContent = anomaly.caption || "";
  node.querySelector(".transcript").textContent = anomaly.transcript || "";
  const reasons = node.querySelector(".reasons");
  for (const reason of anomaly.reasons || []) {
    const li = document.createElement("li");
    li.textContent = reason;
    reasons.append(li);
  }
  node.dataset.status = anomaly.status;
  node.querySelector(".handling").textContent = handlingText(anomaly);
  const ack = node.querySelector(".ack");
  const resolve = node.querySelector(".resolve");
  ack.hidden = anomaly.status !== "NEW";
  resolve.hidden = anomaly.status === "RESOLVED";
  node.querySelector(".resolution").hidden = resolve.hidden;
  const notified = node.querySelector(".notified");
  notified.addEventListener("toggle", () => notified.open && showNotifications(anomaly.anomaly_id, notified));
  ack.addEventListener("click", () => act(anomaly.anomaly_id, { kind: "ACKNOWLEDGE" }, node));
  resolve.addEventListener("click", () => {
    const resolution = node.querySelector(".resolution").value;
    act(anomaly.anomaly_id, { kind: "RESOLVE", resolution }, node);
  });
  return node;
}

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

function renderTimeline() {
  const now = Date.now();
  const start = now - state.rangeMinutes * 60_000;
  const cameras = [...state.cameras].filter((c) => !state.camera || c === state.camera).sort();
  const left = 110;
  const width = Math.max(600, $("timeline").clientWidth || 900);
  const rowHeight = 26;
  const height = 24 + Math.max(1, cameras.length) * rowHeight;
  const x = (t) => left + ((t - start) / (now - start)) * (width - left - 10);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "anomalies per camera" });
  for (let i = 0; i <= 6; i += 1) {
    const t = start + ((now - start) * i) / 6;
    root.append(svg("line", { class: "axis", x1: x(t), x2: x(t), y1: 14, y2: height }));
    const label = new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    root.append(svg("text", { class: "tick", x: x(t), y: 10, "text-anchor": "middle" }, label));
  }
  cameras.forEach((camera, row) => {
    const y = 20 + row * rowHeight;
    root.append(svg("text", { class: "cam", x: 6, y: y + 15 }, camera));
    root.append(svg("line", { class: "axis", x1: left, x2: width - 10, y1: y + rowHeight - 2, y2: y + rowHeight - 2 }));
    for (const anomaly of state.anomalies.values()) {
      if (anomaly.camera_id !== camera) continue;
      const t0 = Date.parse(anomaly.incident_start);
      const t1 = Math.max(Date.parse(anomaly.incident_end), t0);
      if (t1 < start) continue;
      const x0 = x(Math.max(t0, start));
      const mark = svg("rect", {
        class: `mark ${anomaly.severity}`,
        x: x0,
        y: y + 4 + (3 - SEVERITIES.indexOf(anomaly.severity)) * 2,
        width: Math.max(6, x(t1) - x0),
        height: 14 - (3 - SEVERITIES.indexOf(anomaly.severity)) * 2,
        rx: 2,
        "data-anomaly-id": anomaly.anomaly_id,
      });
      mark.append(svg("title", {}, `${anomaly.severity} ${anomaly.kinds.join(", ")} @ ${anomaly.incident_start}`));
      root.append(mark);
    }
  });
  $("timeline").replaceChildren(root);
}

// --- wiring -------------------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    signIn($("login-key").value.trim());
  });
  $("logout").addEventListener("click", () => signOut());
  $("camera-filter").addEventListener("change", async (event) => {
    state.camera = event.target.value;
    render();
    reconnect();
  });
  $("timeline").addEventListener("click", (event) => {
    const id = event.target.getAttribute && event.target.getAttribute("data-anomaly-id");
    const target = id && $("feed").querySelector(`[data-anomaly-id="${CSS.escape(id)}"]`);
    if (!target) return;
    target.scrollIntoView({ behavior: "smooth", block: "center" });
    target.classList.remove("fresh");
    void target.offsetWidth; // restart the highlight animation
    target.classList.add("fresh");
  });
  $("timeline-range").addEventListener("change", async (event) => {
    state.rangeMinutes = Number(event.target.value);
    await loadRecent();
  });
  setInterval(() => state.key && renderTimeline(), 30_000);
  const saved = sessionStorage.getItem(KEY_STORAGE);
  if (saved) signIn(saved);
  else $("login").hidden = false;
});
