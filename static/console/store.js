// What every screen shares: the person's devices and the approvals waiting for them, kept
// current by the event stream. Snapshots from the API and live events meet here; events
// that arrive while a snapshot is loading are applied again on top of it.
import { api } from "./api.js";
import { approvalKey } from "./approvals.js";
import { remember } from "./offline.js";

export const APPROVAL_METHODS = new Set([
  "item/commandExecution/requestApproval",
  "item/fileChange/requestApproval",
  "execCommandApproval",
  "applyPatchApproval",
  "item/tool/requestUserInput",
  "item/permissions/requestApproval",
  "mcpServer/elicitation/request",
  "agent.request.unknown",
]);

export const store = {
  user: null,
  devices: new Map(),
  attention: new Map(),
  // item ids a waiting approval is about, per device, so its card can show the item.
  items: new Map(),
};

const listeners = new Set();
let loading = 0;
let arrivedWhileLoading = [];

export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notify(change) {
  for (const listener of [...listeners]) listener(change);
}

function track(event) {
  const payload = event.payload || {};
  const device = store.devices.get(event.deviceId);
  const kind = event.eventType;
  if (!device && kind === "device.online" && store.user) {
    // A computer paired since the list was read: fetch it, so it appears at once.
    refreshDevices().catch(() => {});
    return;
  }
  if (device && (kind === "device.online" || kind === "device.offline")) {
    device.online = kind === "device.online";
    device.reconnectingUntil = device.online ? null : payload.reconnectingUntil || null;
    if (device.online) device.lastHeartbeatAt = event.at;
    else device.lastSeenAt = event.at;
    expireReconnecting();
  } else if (device && kind === "device.controlState") {
    device.controlState = payload.controlState || device.controlState;
  } else if (APPROVAL_METHODS.has(kind)) {
    store.attention.set(approvalKey(event), event);
  } else if (kind === "serverRequest/resolved") {
    store.attention.delete(`${event.deviceId}|${payload.requestId}`);
  } else if (kind === "agent.codex.started" || kind === "turn/completed") {
    const turnId = payload.turn?.id || event.turnId;
    for (const [key, waiting] of store.attention) {
      if (waiting.deviceId !== event.deviceId) continue;
      if (kind === "agent.codex.started" || waiting.turnId === turnId) store.attention.delete(key);
    }
  } else if (kind === "item/started" && payload.item && (payload.item.type === "fileChange" || payload.item.type === "commandExecution")) {
    store.items.set(`${event.deviceId}|${payload.item.id}`, payload.item);
  }
}

export function applyEvent(event) {
  if (loading > 0) arrivedWhileLoading.push(event);
  track(event);
  notify({ event });
}

async function load(fetcher) {
  loading += 1;
  try {
    await fetcher();
  } finally {
    loading -= 1;
    if (loading === 0) {
      const again = arrivedWhileLoading;
      arrivedWhileLoading = [];
      for (const event of again) track(event);
    }
  }
}

export function refreshDevices() {
  return load(async () => {
    const { devices } = await api("GET", "/api/devices");
    store.devices = new Map(devices.map((device) => [device.deviceId, device]));
    if (store.user) remember(store.user.userId, { devices });
  }).then(() => { expireReconnecting(); notify({ devices: true }); });
}

// A computer shown as reconnecting turns into "Offline" when the relay stops expecting
// it back, whether or not anything else happens on screen.
let expiry = 0;
function expireReconnecting() {
  clearTimeout(expiry);
  const now = Date.now();
  const next = Math.min(...[...store.devices.values()]
    .map((device) => Date.parse(device.reconnectingUntil || ""))
    .filter((until) => until > now));
  if (Number.isFinite(next)) expiry = setTimeout(() => { expireReconnecting(); notify({ devices: true }); }, next - now + 50);
}

// online, reconnecting (dropped, expected back soon), offline or disabled.
export function deviceState(device) {
  if (!device.enabled) return "disabled";
  if (device.online) return "online";
  return Date.parse(device.reconnectingUntil || "") > Date.now() ? "reconnecting" : "offline";
}

export function refreshAttention() {
  return load(async () => {
    const { approvals } = await api("GET", "/api/attention");
    store.attention = new Map(approvals.map((event) => [approvalKey(event), event]));
    for (const event of approvals) {
      if (event.item) store.items.set(`${event.deviceId}|${event.item.id}`, event.item);
    }
  }).then(() => notify({ attention: true }));
}

export function forgetApproval(event) {
  store.attention.delete(approvalKey(event));
  notify({ attention: true });
}

export function itemFor(event) {
  const itemId = event.payload?.params?.itemId;
  return event.item || (itemId ? store.items.get(`${event.deviceId}|${itemId}`) : null);
}

export function waitingIn(deviceId, threadId) {
  return [...store.attention.values()].filter(
    (event) => event.deviceId === deviceId && (!threadId || event.threadId === threadId));
}

export function reset() {
  store.user = null;
  store.devices = new Map();
  store.attention = new Map();
  store.items = new Map();
  notify({ devices: true, attention: true });
}
