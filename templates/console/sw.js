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
{% endautoescape %}
