// Notifications on this phone (CON-6): turned on and off per browser, with the kinds of
// news it wants. The subscription lives in the browser's push service; the relay keeps
// where to send and what this browser asked for.
import { api } from "./api.js";
import { gettext, h, replace } from "./dom.js";

const KIND_LABELS = {
  waiting: () => gettext("Codex waits for my answer"),
  turnEnded: () => gettext("A turn finished or failed"),
  offline: () => gettext("A computer went offline during a turn"),
};

function keyBytes(base64url) {
  const raw = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (char) => char.charCodeAt(0));
}

async function registration() {
  return navigator.serviceWorker ? navigator.serviceWorker.ready : null;
}

// Before signing out: this browser stops being told anything.
export async function unsubscribeHere() {
  const ready = await Promise.race([registration(), new Promise((done) => setTimeout(() => done(null), 1000))]);
  const current = await ready?.pushManager?.getSubscription().catch(() => null);
  if (!current) return;
  await api("DELETE", "/api/push/subscription", { endpoint: current.endpoint }).catch(() => {});
  await current.unsubscribe().catch(() => {});
}

export function notificationsCard({ toast }) {
  const section = h("section", { class: "card", "aria-labelledby": "notifications-heading" });
  const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

  async function draw() {
    const heading = h("h2", { id: "notifications-heading" }, gettext("Notifications"));
    if (!supported) {
      replace(section, heading, h("p", { class: "hint" }, gettext("This browser cannot show notifications from the console. On iPhone, add the console to the home screen first.")));
      return;
    }
    const ready = await registration();
    let current = await ready.pushManager.getSubscription();
    const config = await api("GET", "/api/push/config");
    let kinds = config.kinds;
    if (current) {
      // The relay forgets a browser that signed out or whose push service dropped it.
      try {
        kinds = (await api("GET", `/api/push/subscription?endpoint=${encodeURIComponent(current.endpoint)}`)).kinds;
      } catch (problem) {
        if (problem.code !== "subscription_not_found") throw problem;
        await current.unsubscribe().catch(() => {});
        current = null;
      }
    }
    const boxes = config.kinds.map((kind) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "kind", value: kind, checked: kinds.includes(kind) }),
      h("span", {}, KIND_LABELS[kind] ? KIND_LABELS[kind]() : kind)));
    const chosen = () => boxes.map((box) => box.querySelector("input")).filter((box) => box.checked).map((box) => box.value);
    const toggle = h("button", { type: "button", class: current ? "" : "primary" },
      current ? gettext("Turn off notifications on this phone") : gettext("Turn on notifications on this phone"));
    toggle.addEventListener("click", async () => {
      toggle.disabled = true;
      try {
        if (current) {
          await api("DELETE", "/api/push/subscription", { endpoint: current.endpoint }).catch(() => {});
          await current.unsubscribe();
          toast(gettext("Notifications are off on this phone."));
        } else {
          if (await Notification.requestPermission() !== "granted") {
            toast(gettext("Notifications are blocked for this site. Allow them in the browser's settings."), "error");
            return;
          }
          const made = await ready.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(config.publicKey) });
          await api("POST", "/api/push/subscription", { subscription: made.toJSON(), kinds: chosen() });
          toast(gettext("Notifications are on. You will be told when Codex waits for you."));
        }
        await draw();
      } catch (problem) {
        toast(problem.message || gettext("Notifications could not be turned on."), "error");
      } finally {
        toggle.disabled = false;
      }
    });
    for (const box of boxes) {
      box.querySelector("input").addEventListener("change", async () => {
        if (!current) return;
        try {
          await api("PATCH", "/api/push/subscription", { endpoint: current.endpoint, kinds: chosen() });
          toast(gettext("Saved."));
        } catch (problem) {
          toast(problem.message, "error");
        }
      });
    }
    replace(section, heading,
      h("p", { class: "hint" }, gettext("A notification says which computer and session, and what Codex asks. Approve and Decline work from the notification itself.")),
      h("fieldset", {}, h("legend", {}, gettext("Tell me when")), boxes),
      h("div", { class: "actions" }, toggle));
  }

  replace(section, h("h2", { id: "notifications-heading" }, gettext("Notifications")), h("p", { class: "empty" }, gettext("Loading…")));
  draw().catch((problem) => replace(section, h("h2", { id: "notifications-heading" }, gettext("Notifications")),
    h("p", { class: "notice error" }, problem.message)));
  return section;
}
