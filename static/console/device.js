// One computer (CON-2, CON-3, CON-7, CON-8): its state, its sessions (from Codex while it
// is online, from the relay's log while it is not), its control state and its actions.
import { api, devicePath, run } from "./api.js";
import { confirmAction } from "./confirm.js";
import { field, fill, gettext, h, replace, when } from "./dom.js";
import { deviceLink, presence, sessionLink } from "./home.js";
import { remember } from "./offline.js";
import { codexState, loggedSessions, sessionRow } from "./sessions.js";
import { deviceState, refreshDevices, store, subscribe } from "./store.js";

export const WORK_MODES = [
  ["default", () => gettext("Default")],
  ["plan", () => gettext("Plan")],
  ["goal", () => gettext("Goal")],
];
export const PRESETS = [
  ["ask", () => gettext("Ask for approval"), () => gettext("Codex asks before running commands outside the workspace.")],
  ["auto", () => gettext("Approve for me"), () => gettext("An automatic reviewer answers Codex's requests.")],
  ["full", () => gettext("Full access"), () => gettext("No sandbox and no questions, network included.")],
];

export function describeControl(control) {
  if (!control || !control.permissionPreset) return gettext("not reported yet");
  const preset = PRESETS.find(([name]) => name === control.permissionPreset);
  const mode = WORK_MODES.find(([name]) => name === control.workMode);
  return `${preset ? preset[1]() : control.permissionPreset} · ${mode ? mode[1]() : control.workMode}`;
}

function controlCard(device, { toast }) {
  const control = device.controlState || {};
  const mode = h("select", { name: "workMode" },
    WORK_MODES.map(([name, label]) => h("option", { value: name, selected: name === (control.workMode || "default") }, label())));
  const presets = h("fieldset", {}, h("legend", {}, gettext("Permissions")),
    PRESETS.map(([name, label, hint]) => h("label", { class: "check" },
      h("input", { type: "radio", name: "permissionPreset", value: name, checked: name === (control.permissionPreset || "ask") }),
      h("span", {}, h("strong", {}, label()), h("br"), h("span", { class: "hint" }, hint())))));
  const reported = h("p", { class: "meta", "data-testid": "reported-control" },
    fill(gettext("The computer reports: %(state)s"), { state: describeControl(control) }));
  const apply = h("button", { type: "submit", class: "primary", disabled: !device.online }, gettext("Apply"));
  const form = h("form", {
    "aria-labelledby": "control-heading",
    onsubmit: async (submit) => {
      submit.preventDefault();
      const chosen = form.querySelector("input[name=permissionPreset]:checked").value;
      const current = store.devices.get(device.deviceId)?.controlState?.permissionPreset;
      if (chosen === "full" && current !== "full") {
        const sure = await confirmAction({
          title: gettext("Give Codex full access?"),
          message: gettext("Codex will run any command on this computer without a sandbox and without asking, network included."),
          confirm: gettext("Give full access"),
        });
        if (!sure) return;
      }
      apply.disabled = true;
      try {
        await run(device.deviceId, "setControlState", { workMode: mode.value, permissionPreset: chosen });
        toast(gettext("Sent. The computer applies it to the next turn."));
      } catch (problem) {
        toast(problem.message, "error");
      } finally {
        apply.disabled = !store.devices.get(device.deviceId)?.online;
      }
    },
  }, field(gettext("Work mode"), mode), presets, reported, apply,
  device.online ? null : h("p", { class: "hint" }, gettext("The computer must be online to change this.")));
  return h("section", { class: "card" }, h("h2", { id: "control-heading" }, gettext("How Codex works here")), form);
}

function actionsCard(device, { toast }) {
  const restartAgent = {
    title: gettext("Restart the agent?"),
    message: gettext("A running turn stops, and the computer is offline until the agent is back."),
    confirm: gettext("Restart the agent"),
  };
  const actions = [
    ["reconnect", gettext("Reconnect")],
    ["restartCodex", gettext("Restart Codex")],
    ["restartAgent", gettext("Restart the agent"), restartAgent],
  ].map(([name, label, ask]) => h("button", {
    type: "button",
    "data-action": name,
    disabled: !device.online,
    onclick: async (click) => {
      const button = click.currentTarget;
      if (ask && !(await confirmAction(ask))) return;
      button.disabled = true;
      try {
        await run(device.deviceId, name);
        toast(fill(gettext("%(action)s: done."), { action: label }));
      } catch (problem) {
        toast(problem.message, "error");
      }
    },
  }, label));
  return h("section", { class: "card", "aria-labelledby": "actions-heading" },
    h("h2", { id: "actions-heading" }, gettext("Computer")),
    h("dl", { class: "details" },
      h("dt", {}, gettext("Workspace")), h("dd", { class: "path" }, device.workspace || "—"),
      h("dt", {}, gettext("Agent")), h("dd", {}, device.agentVersion || "—"),
      h("dt", {}, gettext("Codex")), h("dd", { "data-codex-version": "" }, device.codex?.version || "—"),
      h("dt", {}, gettext("Platform")), h("dd", {}, device.platform || "—"),
      h("dt", {}, gettext("Last heartbeat")), h("dd", {}, when(device.lastHeartbeatAt)),
      device.lastError ? [h("dt", {}, gettext("Last error")), h("dd", {}, device.lastError)] : null),
    codexNotes(device.codex || {}),
    h("div", { class: "actions" }, actions));
}

// What the agent said of its Codex: a version outside the tested range, and each
// deprecation Codex announced, once (the agent reports each notice once per process).
function codexNotes(codex) {
  const notes = [];
  if (codex.versionNote) notes.push(h("p", { class: "notice warning", role: "status" }, codex.versionNote));
  if (codex.notices?.length) {
    notes.push(h("div", { class: "notice warning", "data-codex-notices": "" },
      h("p", {}, gettext("Codex says a later release will stop accepting:")),
      h("ul", {}, codex.notices.map((notice) => h("li", {}, notice)))));
  }
  return notes;
}

function ownershipCard(device, { toast, navigate }) {
  const name = h("input", { name: "name", value: device.name || "", maxlength: "200", required: true, autocomplete: "off" });
  const save = h("button", { type: "submit" }, gettext("Rename"));
  const rename = h("form", {
    onsubmit: async (submit) => {
      submit.preventDefault();
      save.disabled = true;
      try {
        await api("PATCH", devicePath(device.deviceId), { name: name.value });
        await refreshDevices();
        toast(gettext("Renamed."));
      } catch (problem) {
        toast(problem.message, "error");
      } finally {
        save.disabled = false;
      }
    },
  }, field(gettext("Name"), name), save);
  const remove = h("button", {
    type: "button",
    class: "danger",
    onclick: async () => {
      const sure = await confirmAction({
        title: fill(gettext("Remove %(name)s?"), { name: device.name || device.deviceId }),
        message: gettext("The computer is signed out of the relay and its place in your quota is freed. Its history here is deleted. To use it again, run the installer on it."),
        confirm: gettext("Remove computer"),
      });
      if (!sure) return;
      try {
        await api("DELETE", devicePath(device.deviceId));
        await refreshDevices();
        navigate("#/", fill(gettext("%(name)s was removed."), { name: device.name || device.deviceId }));
      } catch (problem) {
        toast(problem.message, "error");
      }
    },
  }, gettext("Remove this computer"));
  return h("section", { class: "card", "aria-labelledby": "ownership-heading" },
    h("h2", { id: "ownership-heading" }, gettext("Name and removal")), rename, remove);
}

function newSessionForm(device, { toast, navigate }) {
  // Left empty, the agent starts Codex in its own workspace, which it knows best.
  const folder = h("input", { name: "cwd", placeholder: device.workspace || "", autocapitalize: "none", spellcheck: "false" });
  const start = h("button", { type: "submit", class: "primary" }, gettext("Start a session"));
  return h("form", {
    onsubmit: async (submit) => {
      submit.preventDefault();
      start.disabled = true;
      try {
        const started = await run(device.deviceId, "startThread", { cwd: folder.value || undefined });
        navigate(sessionLink(device.deviceId, started.thread.id));
      } catch (problem) {
        toast(problem.message, "error");
        start.disabled = false;
      }
    },
  }, field(gettext("Folder"), folder, gettext("Leave empty to use the computer's workspace.")), start);
}

function sessionsCard(device, context) {
  const list = h("ul", { class: "list" }, h("li", { class: "empty" }, gettext("Loading…")));
  const more = h("button", { type: "button", hidden: true }, gettext("Load more"));
  const note = h("p", { class: "hint", hidden: device.online });
  note.textContent = gettext("The computer is offline. These sessions come from the relay's history.");
  let cursor = null;
  let first = true;
  const relayStates = new Map();

  async function load() {
    more.disabled = true;
    try {
      let rows;
      if (device.online) {
        // Codex lists every session, those started at the desk included; the relay's log
        // knows what the person is asked and what waits to be sent.
        const [page, logged] = await Promise.all([
          run(device.deviceId, "listSessions", { limit: 25, cursor: cursor || undefined }),
          first ? loggedSessions(devicePath(device.deviceId, "/threads?limit=100")) : { rows: [] },
        ]);
        for (const row of logged.rows) relayStates.set(row.threadId, row.state);
        rows = page.data.map((thread) => ({
          deviceId: device.deviceId,
          threadId: thread.id,
          preview: thread.preview,
          at: new Date(thread.updatedAt * 1000).toISOString(),
          state: relayStates.get(thread.id) || codexState(thread.status) || "idle",
        }));
        cursor = page.nextCursor;
      } else {
        const query = cursor === null ? "" : `?before=${cursor}`;
        const page = await loggedSessions(devicePath(device.deviceId, `/threads${query}`));
        rows = page.rows;
        cursor = page.before;
      }
      if (first) {
        list.replaceChildren();
        if (store.user) remember(store.user.userId, { deviceId: device.deviceId, sessions: rows });
      }
      first = false;
      list.append(...rows.map(sessionRow));
      if (list.children.length === 0) list.append(h("li", { class: "empty" }, gettext("No sessions yet.")));
      more.hidden = cursor === null || cursor === undefined;
    } catch (problem) {
      replace(list, h("li", { class: "notice error" }, problem.message));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", load);
  load();
  return h("section", { class: "card", "aria-labelledby": "sessions-heading" },
    h("h2", { id: "sessions-heading" }, gettext("Sessions")),
    device.online ? newSessionForm(device, context) : null, note, list, more);
}

export function mount(root, { params: [deviceId], toast, navigate }) {
  const context = { toast, navigate };
  let shownState = null;
  let shownName = null;

  function draw() {
    const device = store.devices.get(deviceId);
    if (!device) {
      replace(root, h("a", { class: "back", href: "#/" }, `← ${gettext("Your computers")}`),
        h("p", { class: "empty" }, gettext("Loading…")));
      return;
    }
    shownState = deviceState(device);
    shownName = device.name;
    replace(root,
      h("a", { class: "back", href: "#/" }, `← ${gettext("Your computers")}`),
      h("div", { class: "toolbar" }, h("h1", { tabindex: "-1" }, device.name || device.deviceId), presence(device)),
      device.online ? null : h("p", { class: "notice warning", role: "status" },
        fill(shownState === "reconnecting"
          ? gettext("The connection to this computer dropped (last seen %(when)s); its agent is reconnecting. History stays readable; new turns wait until it is back.")
          : gettext("This computer is offline (last seen %(when)s). History stays readable; new turns wait until it is back."),
        { when: when(device.lastSeenAt || device.lastHeartbeatAt) })),
      sessionsCard(device, context),
      controlCard(device, context),
      actionsCard(device, context),
      ownershipCard(device, context));
  }

  const unsubscribe = subscribe((change) => {
    const device = store.devices.get(deviceId);
    const changed = () => device && (deviceState(device) !== shownState || device.name !== shownName);
    if (change.devices && (shownState === null || changed())) draw();
    if (!device || !change.event || change.event.deviceId !== deviceId) return;
    if (changed()) draw();
    if (change.event.eventType === "device.controlState") {
      const line = root.querySelector("[data-testid=reported-control]");
      if (line) line.textContent = fill(gettext("The computer reports: %(state)s"), { state: describeControl(device.controlState) });
    }
  });
  draw();
  refreshDevices()
    .then(() => {
      if (!store.devices.has(deviceId)) {
        replace(root, h("a", { class: "back", href: "#/" }, `← ${gettext("Your computers")}`),
          h("p", { class: "notice error", role: "alert" }, gettext("This computer is not in your account.")));
      }
    })
    .catch((problem) => toast(problem.message, "error"));
  return { destroy: unsubscribe, link: deviceLink(deviceId) };
}
