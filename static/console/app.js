// The console's entry point: sign-in state, the one event stream, routing between
// screens, and the messages every screen can show.
import { api, authStatus, rememberCsrf } from "./api.js";
import * as account from "./account.js";
import * as device from "./device.js";
import { fill, gettext, h } from "./dom.js";
import * as home from "./home.js";
import * as session from "./session.js";
import * as signin from "./signin.js";
import { forget, readSnapshot, showLastKnown } from "./offline.js";
import { unsubscribeHere } from "./notifications.js";
import { Countdown, Retry } from "./retry.js";
import { applyEvent, refreshAttention, refreshDevices, reset, store, subscribe } from "./store.js";
import { EventStream } from "./stream.js";

const config = JSON.parse(document.getElementById("console-config").textContent);
const view = document.getElementById("view");
const badge = document.getElementById("attention-badge");
const banner = document.getElementById("banner");
const signOut = document.getElementById("sign-out");
const toasts = document.getElementById("toasts");
const menu = document.querySelector("details.menu");

const ROUTES = [
  [new RegExp("^#?/?$"), home.mount],
  [new RegExp("^#/add$"), home.mountAdd],
  [new RegExp("^#/account$"), account.mount],
  [new RegExp("^#/d/([^/]+)$"), device.mount],
  [new RegExp("^#/d/([^/]+)/s/([^/]+)$"), session.mount],
];
const STREAM_STATES = {
  connecting: () => gettext("Connecting…"),
  live: () => "",
  reconnecting: () => gettext("Reconnecting…"),
};

let current = null;

function toast(message, tone = "") {
  const node = h("div", { class: `toast ${tone}` }, message);
  toasts.append(node);
  setTimeout(() => node.remove(), tone === "error" ? 10000 : 5000);
}

// message: said on the screen the link opens (the one being left is cleared).
let arrivalMessage = null;

function navigate(link, message = null) {
  arrivalMessage = message;
  if (location.hash === link) route();
  else location.hash = link;
}

let shownOnce = false;

// A new screen starts clean: the menu closed, and no message left from the one before.
function leaveScreen() {
  menu.open = false;
  toasts.replaceChildren();
  if (current) current.destroy();
  current = null;
}

function show(mount, params = []) {
  leaveScreen();
  current = mount(view, { params, toast, navigate, config });
  if (arrivalMessage) toast(arrivalMessage);
  arrivalMessage = null;
  // After moving between screens, screen readers start at the new screen's heading; the
  // first screen keeps the browser's own starting point.
  const heading = view.querySelector("h1");
  if (heading && shownOnce) heading.focus({ preventScroll: true });
  shownOnce = true;
}

function route() {
  if (!store.user) return;
  const hash = location.hash || "#/";
  for (const [pattern, mount] of ROUTES) {
    const match = hash.match(pattern);
    if (match) {
      show(mount, match.slice(1).map(decodeURIComponent));
      return;
    }
  }
  navigate("#/");
}

// What the banner says of the stream: nothing while it is live.
let streamLine = [];

let sessionChecked = false;
const stream = new EventStream({
  onEvent: applyEvent,
  onState: async (state, { seconds, retry, resumed } = {}) => {
    if (state === "waiting") {
      const node = streamCountdown.show(seconds);
      if (streamLine[0] === node) return;  // the same wait, a second later
      streamLine = [node];
    } else {
      streamLine = [STREAM_STATES[state]()].filter(Boolean);
    }
    showNetwork();
    if (state === "live" && resumed) {
      // Events missed meanwhile arrive through Last-Event-ID; presence and what waits
      // for an answer are read again too, as they are not all events.
      Promise.all([refreshDevices(), refreshAttention()]).catch(() => {});
    }
    if (state === "live") sessionChecked = false;
    if (state === "waiting" && retry.failures >= 2 && !sessionChecked && navigator.onLine) {
      // A stream that keeps failing may mean the session ended: ask until the relay
      // answers once, then leave it to the stream.
      const status = await authStatus().catch(() => null);
      if (status) sessionChecked = true;
      if (status && !status.authenticated) signedOut();
    }
  },
});

const streamCountdown = new Countdown(stream.retry);

function drawBadge() {
  const count = store.attention.size;
  badge.hidden = count === 0;
  badge.textContent = String(count);
  badge.setAttribute("aria-label", fill(gettext("%(count)s waiting for you"), { count }));
  document.title = count ? `(${count}) codexpanel` : "codexpanel";
  // The installed app's icon counts them too, where the browser can (Badging API).
  if (count && navigator.setAppBadge) navigator.setAppBadge(count).catch(() => {});
  else if (!count && navigator.clearAppBadge) navigator.clearAppBadge().catch(() => {});
}

function signedIn(user) {
  store.user = user;
  signOut.hidden = false;
  stream.start();
  route();
}

function signedOut() {
  stream.stop();
  reset();
  forget();  // what this phone kept belongs to the session that ended
  signOut.hidden = true;
  streamLine = [];
  showNetwork();
  leaveScreen();
  current = signin.mount(view, { onSignedIn: signedIn });
}

function showNetwork() {
  const offline = navigator.onLine ? "" : gettext("You are offline. The console catches up when the network returns.");
  const parts = offline ? [h("span", {}, offline), ...streamLine] : streamLine;
  banner.replaceChildren(...parts);
  banner.hidden = parts.length === 0;
}

// Back from a network drop or from sleep: try at once rather than at the next step.
function wake() {
  showNetwork();
  if (document.visibilityState === "hidden" || !navigator.onLine) return;
  if (firstCheck.waiting()) firstCheck.now();
  else if (store.user) stream.nudge();
}

function unreachable(problem, seconds) {
  const node = bootCountdown.show(seconds);
  if (view.contains(node)) return;  // the same wait, a second later
  view.replaceChildren(
    h("p", { class: "notice error", role: "alert" }, problem.message),
    h("p", { class: "meta reconnect" }, node));
  showLastKnown(view, lastKnown);
}

let lastProblem = null;
let lastKnown = null;
const firstCheck = new Retry(checkStatus, { onWait: (seconds) => unreachable(lastProblem, seconds) });
const bootCountdown = new Countdown(firstCheck);

async function checkStatus() {
  let status;
  try {
    status = await authStatus();
  } catch (problem) {
    if (problem.status === 0 || problem.status >= 500) {
      lastProblem = problem;
      if (lastKnown === null) lastKnown = await readSnapshot();
      firstCheck.later();
    } else {
      view.replaceChildren(h("p", { class: "notice error", role: "alert" }, problem.message));
    }
    return;
  }
  firstCheck.succeeded();
  if (status.authenticated) signedIn(status.user);
  else signedOut();
}

async function boot() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/console/sw.js", { scope: "/console/" }).catch(() => {});
  }
  window.addEventListener("online", wake);
  window.addEventListener("offline", showNetwork);
  document.addEventListener("visibilitychange", wake);
  window.addEventListener("hashchange", route);
  // The service worker asks what is on screen before it shows a notification about it.
  navigator.serviceWorker?.addEventListener("message", (message) => {
    if (message.data?.type === "codexpanel:showing?") message.ports[0]?.postMessage(location.hash);
  });
  subscribe(drawBadge);
  showNetwork();
  signOut.addEventListener("click", async () => {
    try {
      await unsubscribeHere();
      await api("POST", "/api/iam/auth/logout", {});
      rememberCsrf((await authStatus()).csrfToken);
    } catch (problem) {
      toast(problem.message, "error");
    }
    signedOut();
  });
  await checkStatus();
}

boot();
