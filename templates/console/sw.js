{% autoescape off %}// codexpanel console service worker, shell {{ version }}.
// Keeps the console's own files so it opens offline. API answers and /events are never
// cached: a phone must not show yesterday's devices or approvals as if they were live.
const CACHE = "codexpanel-shell-{{ version }}";
const SHELL = {{ shell }};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((key) => key.startsWith("codexpanel-shell-") && key !== CACHE)
          .map((key) => caches.delete(key)),
      ))
      .then(() => self.clients.claim()),
  );
});

function shellKey(request) {
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || request.method !== "GET") return null;
  if (request.mode === "navigate" && url.pathname === "/console/") return "/console/";
  return SHELL.includes(url.pathname) ? url.pathname : null;
}

// Network first, so an online console always runs the relay's current files; the cached
// copy answers only when the network does not.
self.addEventListener("fetch", (event) => {
  const key = shellKey(event.request);
  if (key === null) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(key, copy));
        }
        return response;
      })
      .catch(() => caches.match(key).then((cached) => cached || Response.error())),
  );
});

// Web Push (CON-6). A notification names the computer, the session and what is asked; an
// approval's carries Approve and Decline, each a single-use token the relay made for that
// request, that answer and that person, so answering needs no cookie and no open console.
const ICON = {{ icon }};

self.addEventListener("push", (event) => {
  let notice = {};
  try {
    notice = event.data ? event.data.json() : {};
  } catch {
    notice = {};
  }
  event.waitUntil((async () => {
    // The session the person is looking at right now gets no notification to read. A
    // push must still show one (userVisibleOnly; some browsers end a subscription that
    // stays silent), so a quiet one appears and is closed at once.
    if (notice.url && await onScreen(new URL(notice.url, self.location.origin).hash)) {
      const tag = `on-screen-${notice.tag || ""}`;
      await self.registration.showNotification(notice.title || "codexpanel", { tag, silent: true, icon: ICON });
      for (const shown of await self.registration.getNotifications({ tag })) shown.close();
      return;
    }
    await self.registration.showNotification(notice.title || "codexpanel", {
      body: notice.body || "",
      tag: notice.tag,
      icon: ICON,
      data: notice,
      requireInteraction: notice.kind === "waiting",
      actions: (notice.actions || []).map(({ action, title }) => ({ action, title })),
    });
  })());
});

// A console page answers with the screen it shows (its hash, which a Client's url does not
// follow); a page that does not answer at once counts as not showing it.
function showing(client) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(null), 500);
    channel.port1.onmessage = (message) => {
      clearTimeout(timer);
      resolve(message.data);
    };
    client.postMessage({ type: "codexpanel:showing?" }, [channel.port2]);
  });
}

async function onScreen(hash) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const visible = windows.filter((window) => window.visibilityState === "visible");
  return (await Promise.all(visible.map(showing))).includes(hash);
}

async function answerFromNotification(action, notice) {
  let title = notice.answered?.[action.action] || action.title;
  let body = notice.body || "";
  try {
    const response = await fetch("/api/push/answer", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ token: action.token }),
      credentials: "omit",
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      title = notice.answered?.failed || "codexpanel";
      body = problem.error?.message || `HTTP ${response.status}`;
    }
  } catch {
    title = notice.answered?.failed || "codexpanel";
    body = notice.answered?.unreachable || "";
  }
  await self.registration.showNotification(title, { body, tag: notice.tag, icon: ICON, data: { url: notice.url } });
}

async function openConsole(url) {
  const target = new URL(url || "/console/", self.location.origin).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const window of windows) {
    if (window.url.startsWith(new URL("/console/", self.location.origin).href) && "focus" in window) {
      // navigate() works only on a page this worker controls; any other opens anew.
      const moved = await window.navigate(target).catch(() => null);
      if (moved) return moved.focus();
    }
  }
  return self.clients.openWindow(target);
}

self.addEventListener("notificationclick", (event) => {
  const notice = event.notification.data || {};
  event.notification.close();
  const action = (notice.actions || []).find((each) => each.action === event.action);
  event.waitUntil(action ? answerFromNotification(action, notice) : openConsole(notice.url));
});
{% endautoescape %}
