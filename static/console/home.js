// The first screen: what needs the person across all devices (CON-6), then their
// computers (CON-2), and how to add one (CON-8).
import { approvalCard, approvalKey } from "./approvals.js";
import { fill, gettext, h, replace, when } from "./dom.js";
import { copyText } from "./output.js";
import { sessionFinder } from "./sessions.js";
import { deviceState, forgetApproval, itemFor, refreshAttention, refreshDevices, store, subscribe } from "./store.js";

// Live events that change presence or what waits for an answer.
const REPAINT_ON = new RegExp("^device[.]|Approval$|^serverRequest|^agent[.]codex|^turn/completed");
// Live events that change a session row's state.
const SESSIONS_ON = new RegExp("^device[.]offline|Approval$|^serverRequest|^agent[.]codex|^turn/(started|completed)");
const SESSIONS_PAUSE_MS = 500;

export function sessionLink(deviceId, threadId) {
  return `#/d/${encodeURIComponent(deviceId)}/s/${encodeURIComponent(threadId)}`;
}

export function deviceLink(deviceId) {
  return `#/d/${encodeURIComponent(deviceId)}`;
}

const STATE_LABELS = {
  disabled: () => gettext("Disabled"),
  online: () => gettext("Online"),
  reconnecting: () => gettext("Reconnecting…"),
  offline: () => gettext("Offline"),
};

// The computer's own state, apart from the console's connection to the relay.
export function presence(device) {
  const state = deviceState(device);
  return h("span", { class: `pill ${state === "disabled" ? "failed" : state}`, "data-presence": state },
    STATE_LABELS[state]());
}

function deviceRow(device) {
  const seen = device.online ? device.lastHeartbeatAt : device.lastSeenAt || device.lastHeartbeatAt;
  return h("li", {},
    h("a", { class: "row", href: deviceLink(device.deviceId), "data-device": device.deviceId },
      h("span", { class: "title" }, h("span", {}, device.name || device.deviceId), presence(device)),
      h("span", { class: "meta" }, device.workspace || ""),
      h("span", { class: "meta" },
        device.online ? fill(gettext("Last heartbeat %(when)s"), { when: when(seen) }) : fill(gettext("Last seen %(when)s"), { when: when(seen) }),
        device.agentVersion ? ` · ${fill(gettext("agent %(version)s"), { version: device.agentVersion })}` : "")));
}

export function attentionList(events, { toast }) {
  if (events.length === 0) return null;
  return events.map((event) => approvalCard(
    { ...event, deviceName: event.deviceName || store.devices.get(event.deviceId)?.name },
    {
      item: itemFor(event),
      link: event.threadId ? sessionLink(event.deviceId, event.threadId) : null,
      onDone: () => forgetApproval(event),
      toast,
      online: store.devices.get(event.deviceId)?.online !== false,
    },
  ));
}

// What the cards waiting for an answer show: which requests, and whether each computer
// can take an answer now. A change of either repaints them.
export function waitingKey(events) {
  return events.map((event) =>
    `${approvalKey(event)}:${store.devices.get(event.deviceId)?.online !== false}`).join(" ");
}

export function mount(root, { toast }) {
  const attention = h("section", { class: "stack", "aria-labelledby": "attention-heading", hidden: true });
  const devices = h("ul", { class: "list", "aria-labelledby": "devices-heading" });
  let ready = false;
  let shown = null;

  function draw(change = { devices: true, attention: true }) {
    const keys = waitingKey([...store.attention.values()]);
    // Repainting a card would drop the focus of someone about to press it.
    if ((change.attention || change.event || change.devices) && keys !== shown) {
      shown = keys;
      const waiting = [...store.attention.values()];
      attention.hidden = waiting.length === 0;
      replace(attention, waiting.length
        ? [h("h2", { id: "attention-heading" }, fill(gettext("Needs attention (%(count)s)"), { count: waiting.length })),
          attentionList(waiting, { toast })]
        : null);
    }
    if (change.devices || change.event) {
      const list = [...store.devices.values()];
      replace(devices, list.length
        ? list.map(deviceRow)
        : h("li", { class: "empty" }, ready ? gettext("No computers yet. Add one to start.") : gettext("Loading…")));
    }
  }

  const finder = sessionFinder({ toast });
  let sessionsPause = 0;
  replace(root,
    h("div", { class: "toolbar" }, h("h1", { tabindex: "-1" }, gettext("Your computers")),
      h("a", { class: "button-link", href: "#/add" }, gettext("Add a computer"))),
    attention,
    h("h2", { id: "devices-heading", class: "visually-hidden" }, gettext("Computers")),
    devices,
    finder.node);
  draw();
  const unsubscribe = subscribe((change) => {
    if (change.event && SESSIONS_ON.test(change.event.eventType)) {
      // A burst of events (a turn's start, its approvals) is one refresh.
      clearTimeout(sessionsPause);
      sessionsPause = setTimeout(finder.refresh, SESSIONS_PAUSE_MS);
    }
    // Live events change presence and approvals; only those need a repaint here.
    if (change.event && !REPAINT_ON.test(change.event.eventType)) return;
    draw(change);
  });
  Promise.all([refreshDevices(), refreshAttention()])
    .catch((problem) => toast(problem.message, "error"))
    .finally(() => { ready = true; draw(); });
  // Heartbeats are not events; refresh now and then so "last heartbeat" stays honest.
  const timer = setInterval(() => refreshDevices().catch(() => {}), 30000);
  return { destroy() { unsubscribe(); clearInterval(timer); clearTimeout(sessionsPause); finder.destroy(); } };
}

// The install one-liner with what a phone can do with it: copy it, or hand it to another
// app (a chat with oneself, a note) when the browser can share.
function installCommand(testId, command, toast) {
  const copyButton = h("button", {
    type: "button",
    onclick: async () => {
      if (await copyText(command)) toast(gettext("Copied. Paste it into a terminal on that computer."));
      else toast(gettext("This browser does not let the page copy. Press and hold the command to copy it."), "error");
    },
  }, gettext("Copy"));
  const share = navigator.share
    ? h("button", { type: "button", onclick: () => navigator.share({ text: command }).catch(() => {}) }, gettext("Share"))
    : null;
  return [
    h("pre", { class: "command", tabindex: "0", "data-testid": testId }, command),
    h("div", { class: "actions" }, copyButton, share),
  ];
}

export function mountAdd(root, { config, toast }) {
  const commands = config.installCommands;
  replace(root,
    h("a", { class: "back", href: "#/" }, `← ${gettext("Your computers")}`),
    h("h1", { tabindex: "-1" }, gettext("Add a computer")),
    h("p", {}, gettext("Run the installer on the computer you want to use. It prints a link and a code; open the link, sign in and approve the computer.")),
    h("section", { class: "card", "aria-labelledby": "unix-heading" },
      h("h2", { id: "unix-heading" }, gettext("macOS and Linux")),
      h("p", {}, gettext("In a terminal:")),
      installCommand("install-unix", commands.unix, toast)),
    h("section", { class: "card", "aria-labelledby": "windows-heading" },
      h("h2", { id: "windows-heading" }, gettext("Windows")),
      h("p", {}, gettext("In PowerShell:")),
      installCommand("install-windows", commands.windows, toast)),
    h("p", { class: "hint" }, gettext("No browser on that computer? Run the installer with --token-login and generate a one-time terminal token on the setup page from this phone.")));
  return { destroy() {} };
}
