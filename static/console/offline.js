// What the console last knew, kept on this phone (IndexedDB) so that opened without the
// relay it can still show the person's computers and sessions: read-only, and marked
// with when it was last seen. Signing out forgets it.
import { fill, gettext, h, timestamp } from "./dom.js";

const DATABASE = "codexpanel";
const STORE = "lastKnown";
const KEY = "snapshot";

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact(mode, work) {
  const database = await open();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = database.transaction(STORE, mode);
      const result = work(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(result.result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    database.close();
  }
}

export async function readSnapshot() {
  try {
    return (await transact("readonly", (store) => store.get(KEY))) || null;
  } catch {
    return null;  // private mode or storage refused: there is simply nothing to show
  }
}

// Every change runs after the one before, so two merges never overwrite each other; a
// merge that was waiting when the person signed out is dropped, not written back.
let queue = Promise.resolve();
let generation = 0;

function serially(work) {
  queue = queue.then(work, work);
  return queue;
}

// Merge `change` (devices, or one device's sessions) into the snapshot of `userId`.
export function remember(userId, change) {
  const mine = generation;
  return serially(async () => {
    if (mine !== generation) return;
    try {
      const known = (await readSnapshot()) || {};
      const snapshot = known.userId === userId ? known : { userId, devices: [], sessions: {} };
      if (change.devices) snapshot.devices = change.devices;
      if (change.sessions) snapshot.sessions = { ...snapshot.sessions, [change.deviceId]: change.sessions };
      snapshot.savedAt = new Date().toISOString();
      await transact("readwrite", (store) => store.put(snapshot, KEY));
    } catch {
      // Keeping a copy is a convenience; the console works without it.
    }
  });
}

export function forget() {
  generation += 1;
  return serially(async () => {
    try {
      await transact("readwrite", (store) => store.delete(KEY));
    } catch {
      // Nothing kept, nothing to forget.
    }
  });
}

export function lastKnownView(snapshot) {
  const devices = snapshot.devices || [];
  return h("section", { class: "last-known", "aria-labelledby": "last-known-heading" },
    h("h2", { id: "last-known-heading" }, gettext("Last known")),
    h("p", { class: "hint" }, fill(gettext("Read-only, as this phone last saw it at %(when)s."), { when: timestamp(snapshot.savedAt) })),
    h("ul", { class: "list" }, devices.map((device) => {
      const sessions = snapshot.sessions?.[device.deviceId] || [];
      return h("li", { class: "row", "data-known-device": device.deviceId },
        h("span", { class: "title" }, h("span", {}, device.name || device.deviceId),
          h("span", { class: "pill offline" }, device.online ? gettext("Was online") : gettext("Was offline"))),
        h("span", { class: "meta" }, fill(gettext("Last seen %(when)s"), {
          when: timestamp(device.online ? device.lastHeartbeatAt : device.lastSeenAt || device.lastHeartbeatAt),
        })),
        sessions.length ? h("ul", { class: "plain" }, sessions.slice(0, 10).map((session) =>
          h("li", { class: "meta" }, session.preview || gettext("(no messages yet)")))) : null);
    })));
}

export function showLastKnown(container, snapshot) {
  if (!snapshot || !(snapshot.devices || []).length) return;
  container.append(lastKnownView(snapshot));
}
