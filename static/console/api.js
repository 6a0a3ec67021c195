// The relay's JSON API as the console uses it: CSRF on writes, one error shape, and
// commands that are sent, then waited on with the relay's bounded long-poll.
import { gettext } from "./dom.js";

let csrfToken = "";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function rememberCsrf(token) {
  if (!token) return;
  csrfToken = token;
  // Signing in rotates the token; the page's language form must post the new one.
  for (const input of document.querySelectorAll("input[name=csrfmiddlewaretoken]")) {
    input.value = token;
  }
}

export async function api(method, path, body, { signal } = {}) {
  const headers = { Accept: "application/json" };
  // A form (an attached image) goes as multipart, with the browser's own boundary.
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined || form ? body : JSON.stringify(body),
      signal,
    });
  } catch (problem) {
    if (signal?.aborted) throw problem;
    throw new ApiError(0, "network", gettext("The relay cannot be reached. Check your connection."));
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || {};
    throw new ApiError(response.status, error.code || `http_${response.status}`,
      error.message || response.statusText);
  }
  if (data.csrfToken) rememberCsrf(data.csrfToken);
  return data;
}

export function authStatus() {
  return api("GET", "/api/iam/auth/status");
}

const FINISHED = new Set(["done", "failed", "expired"]);

function commandsPath(deviceId) {
  return `/api/devices/${encodeURIComponent(deviceId)}/commands`;
}

// Send a command; resolve with the finished command. onUpdate sees each state it passes
// through (queued, sent) so the screen can say what is happening.
// signal (an AbortSignal) stops waiting; the command itself is not withdrawn.
// The POST itself waits for the result, so a command the computer answers at once costs
// one request, not two (on a phone each is a round trip over the air); with onUpdate it
// waits only briefly, so a command that takes longer is soon shown queued or delivered.
export async function command(deviceId, name, params = {}, { queue = false, onUpdate, signal } = {}) {
  const wait = onUpdate ? 2 : 25;
  let current = await api("POST", `${commandsPath(deviceId)}?wait=${wait}`, { name, params, queue }, { signal });
  while (!FINISHED.has(current.status)) {
    if (onUpdate) onUpdate(current);
    current = await api("GET", `${commandsPath(deviceId)}/${current.commandId}?wait=25`, undefined, { signal });
  }
  if (onUpdate) onUpdate(current);
  return current;
}

// The result of a finished command, or an ApiError that says why there is none.
export async function run(deviceId, name, params = {}, options = {}) {
  const finished = await command(deviceId, name, params, options);
  if (finished.status === "done") return finished.result;
  if (finished.status === "expired") {
    throw new ApiError(0, "command_expired", gettext("The computer did not come back in time; nothing was run."));
  }
  const error = finished.error || {};
  throw new ApiError(0, error.code || "command_failed", error.message || gettext("The command failed."));
}

export function devicePath(deviceId, rest = "") {
  return `/api/devices/${encodeURIComponent(deviceId)}${rest}`;
}
