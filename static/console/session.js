// One session (CON-3 … CON-6): its history and live turn, the approvals it waits on, and
// the composer that starts, steers and interrupts turns.
import { api, devicePath, run } from "./api.js";
import { approvalCard, describeAsk } from "./approvals.js";
import { field, fill, gettext, h, replace } from "./dom.js";
import { describeControl } from "./device.js";
import { deviceLink, presence, waitingKey } from "./home.js";
import { itemAnchor, turnView } from "./items.js";
import { deviceState, forgetApproval, itemFor, store, subscribe, waitingIn } from "./store.js";
import { ThreadModel } from "./thread.js";
import { turnOptions } from "./turn_options.js";

const HISTORY_PAGES = 20;
const ENDS_TURNS = { "device.offline": "offline", "agent.codex.started": "codexRestarted" };

async function loadLog(deviceId, threadId, model) {
  let after = 0;
  for (let page = 0; page < HISTORY_PAGES; page += 1) {
    const query = `/events?thread=${encodeURIComponent(threadId)}&after=${after}&limit=500`;
    const { events, position } = await api("GET", devicePath(deviceId, query));
    for (const event of events) model.apply(event);
    if (events.length < 500) return;
    after = position;
  }
}

export function mount(root, { params: [deviceId, threadId], toast, navigate, config }) {
  const model = new ThreadModel(threadId);
  const log = h("div", { class: "log", "aria-label": gettext("Session history") });
  const waiting = h("div", { class: "stack", "aria-live": "polite" });
  const header = h("div", { class: "toolbar" });
  const status = h("p", { class: "meta", role: "status", "aria-live": "polite" });
  const pending = h("div", { class: "pending-commands", "aria-live": "polite" });
  const turnNodes = new Map();
  let buffered = [];
  let loaded = false;
  let frame = 0;
  let shownWaiting = null;

  const input = h("textarea", { name: "input", rows: "2", required: true });
  const send = h("button", { type: "submit", class: "primary" }, gettext("Send"));
  const interrupt = h("button", { type: "button", class: "danger", hidden: true }, gettext("Interrupt"));
  const jump = h("button", { type: "button", class: "jump", hidden: true }, gettext("Jump to latest"));
  const device = () => store.devices.get(deviceId);
  const options = turnOptions(deviceId, { toast, config, isOnline: () => device()?.online === true });
  const composer = h("form", { class: "composer" }, jump,
    field(gettext("Message to Codex"), input), options.node, pending,
    h("div", { class: "actions" }, send, interrupt));

  function title() {
    for (const turn of model.turns.values()) {
      for (const item of turn.items.values()) {
        const text = item.type === "userMessage" && (item.content || []).find((part) => part.type === "text");
        if (text) return text.text.length > 60 ? `${text.text.slice(0, 60)}…` : text.text;
      }
    }
    return gettext("New session");
  }

  function drawHeader() {
    const current = device();
    const heading = header.querySelector("h1");
    const name = title();
    if (heading && heading.textContent === name) {
      header.lastChild.replaceWith(current ? presence(current) : h("span"));
    } else {
      replace(header, h("h1", { tabindex: "-1" }, name), current ? presence(current) : h("span"));
    }
    archive.disabled = !current?.online;
    const running = model.running();
    const asks = waitingIn(deviceId, threadId);
    status.textContent = [
      asks.length
        ? fill(gettext("Codex is waiting for your answer: %(what)s"),
          { what: asks.map((event) => describeAsk(event, itemFor(event))).join(" · ") })
        : running ? gettext("Codex is working…") : "",
      current && !current.online
        ? (deviceState(current) === "reconnecting"
          ? gettext("The computer is reconnecting; what you send waits until it is back.")
          : gettext("The computer is offline; what you send waits until it is back."))
        : "",
      current ? fill(gettext("Permissions: %(state)s"), { state: describeControl(current.controlState) }) : "",
    ].filter(Boolean).join(" ");
  }

  function drawComposer() {
    const running = model.running();
    send.textContent = running ? gettext("Steer") : gettext("Send");
    interrupt.hidden = !running;
    input.placeholder = running ? gettext("Add to what Codex is doing…") : gettext("Ask Codex…");
  }

  // What each turn waits on the person for, so its status and items say so.
  function markWaiting() {
    const byTurn = new Map();
    for (const event of waitingIn(deviceId, threadId)) {
      if (!byTurn.has(event.turnId)) byTurn.set(event.turnId, []);
      byTurn.get(event.turnId).push(event);
    }
    let changed = false;
    for (const turn of model.turns.values()) {
      const asks = byTurn.get(turn.id) || [];
      const what = asks.map((event) => describeAsk(event, itemFor(event))).join(" · ") || null;
      const items = asks.map((event) => event.payload?.params?.itemId).filter(Boolean);
      const key = `${what}|${items.join(" ")}`;
      if ((turn.waitingKey || "null|") === key) continue;
      Object.assign(turn, { waitingKey: key, waitingFor: what, waitingItems: new Set(items) });
      turn.version += 1;
      changed = true;
    }
    return changed;
  }

  function drawTurns() {
    frame = 0;
    markWaiting();
    for (const turn of model.turns.values()) {
      const known = turnNodes.get(turn.id);
      if (known && known.version === turn.version) continue;
      const node = turnView(turn);
      if (known) known.node.replaceWith(node);
      else log.append(node);
      turnNodes.set(turn.id, { node, version: turn.version });
    }
    if (log.children.length === 0) {
      replace(log, h("p", { class: "empty" }, loaded ? gettext("No turns yet. Send Codex a message.") : gettext("Loading…")));
    } else {
      for (const empty of log.querySelectorAll(":scope > .empty")) empty.remove();
    }
    drawHeader();
    drawComposer();
    // Keep the newest output in view unless the person scrolled up to read; then say
    // that there is more below.
    if (following) toLatest();
    else jump.hidden = false;
  }

  function drawWaiting() {
    const events = waitingIn(deviceId, threadId);
    const keys = waitingKey(events);
    if (keys === shownWaiting) return;
    shownWaiting = keys;
    if (markWaiting()) schedule();
    replace(waiting, events.map((event) => approvalCard(event, {
      item: model.turns.get(event.turnId)?.items.get(event.payload?.params?.itemId) || itemFor(event),
      changesAt: shownItem(event.payload?.params?.itemId),
      onDone: () => forgetApproval(event),
      toast,
      online: device()?.online !== false,
    })));
    // A question from Codex must not wait below the fold.
    if (waiting.lastElementChild) waiting.lastElementChild.scrollIntoView({ block: "center" });
  }

  // The id under which the session already shows an item, if it does.
  function shownItem(itemId) {
    if (!itemId) return null;
    for (const turn of model.turns.values()) {
      if (turn.items.has(itemId)) return itemAnchor(itemId);
    }
    return null;
  }

  // Whether the view follows the newest output: it does while the person is at the end.
  let following = true;
  function atEnd() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80;
  }
  function toLatest() {
    following = true;
    jump.hidden = true;
    window.scrollTo({ top: document.documentElement.scrollHeight });
  }
  function onScroll() {
    following = atEnd();
    if (following) jump.hidden = true;
  }
  // Whatever the page scrolls into view (a question from Codex, a focused field) lands
  // above the composer, never under it.
  const roomForComposer = new ResizeObserver(() => {
    document.documentElement.style.scrollPaddingBottom = `${composer.offsetHeight + 8}px`;
  });

  function schedule() {
    if (!frame) frame = requestAnimationFrame(drawTurns);
  }

  function track(label, promise) {
    const line = h("p", { class: "meta" }, label);
    pending.append(line);
    return promise.finally(() => line.remove());
  }

  async function submit(event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (options.uploading()) {
      toast(gettext("Wait until the images are attached."), "error");
      return;
    }
    const running = model.running();
    const current = device();
    const queue = Boolean(current && !current.online);
    const name = running ? "steerTurn" : "startTurn";
    const attached = options.hasImages();
    const params = { threadId, input: attached ? [{ type: "text", text }, ...options.items()] : text };
    if (running) params.turnId = running.id;
    else Object.assign(params, JSON.parse(JSON.stringify(options.choice())));
    input.value = "";
    toLatest();  // what was sent, and the answer to it, are in view
    const line = h("span", { class: `pill ${queue ? "queued" : ""}` }, queue ? gettext("Queued") : gettext("Sending…"));
    try {
      await track(line, run(deviceId, name, params, {
        queue,
        onUpdate: (command) => {
          if (command.status === "queued") line.textContent = gettext("Queued until the computer is back");
          if (command.status === "sent") line.textContent = gettext("Delivered");
        },
      }));
      if (attached) options.clear();
    } catch (problem) {
      input.value = input.value || text;
      toast(fill(gettext("Codex did not get your message: %(message)s"), { message: problem.message }), "error");
    }
  }

  async function stop() {
    interrupt.disabled = true;
    try {
      await run(deviceId, "interruptTurn", { threadId });
    } catch (problem) {
      toast(problem.message, "error");
    } finally {
      interrupt.disabled = false;
    }
  }

  // Archiving hides the session from Codex's list on that computer; its history stays.
  const archive = h("button", {
    type: "button",
    class: "archive",
    onclick: async () => {
      archive.disabled = true;
      try {
        await run(deviceId, "archiveThread", { threadId });
        navigate(deviceLink(deviceId), gettext("Session archived."));
      } catch (problem) {
        toast(problem.message, "error");
        archive.disabled = false;
      }
    },
  }, gettext("Archive session"));

  composer.addEventListener("submit", submit);
  jump.addEventListener("click", toLatest);
  window.addEventListener("scroll", onScroll, { passive: true });
  roomForComposer.observe(composer);
  interrupt.addEventListener("click", stop);

  replace(root,
    h("a", { class: "back", href: deviceLink(deviceId) }, `← ${device()?.name || gettext("Computer")}`),
    header, status, h("div", { class: "session-actions" }, archive), log, waiting, composer);
  drawTurns();
  drawWaiting();

  const unsubscribe = subscribe((change) => {
    if (change.attention) drawWaiting();
    if (change.devices) drawHeader();
    const event = change.event;
    if (!event || event.deviceId !== deviceId) return;
    drawWaiting();
    if (event.eventType.startsWith("device.")) drawHeader();
    // A turn cannot outlive its Codex, and nothing says a computer that went offline is
    // still running it: show it ended, and let the composer start a new turn.
    const ended = ENDS_TURNS[event.eventType];
    if (ended && loaded && model.endRunning(ended)) schedule();
    if (event.threadId !== threadId) return;
    if (!loaded) buffered.push(event);
    else if (model.apply(event)) schedule();
  });

  (async () => {
    try {
      if (device()?.online) {
        const snapshot = await run(deviceId, "readSession", { threadId }).catch(() => null);
        if (snapshot) model.applySnapshot(snapshot.thread);
      }
      await loadLog(deviceId, threadId, model);
    } catch (problem) {
      toast(problem.message, "error");
    }
    loaded = true;
    for (const event of buffered) model.apply(event);
    buffered = [];
    if (device() && !device().online) model.endRunning("offline");
    drawTurns();
  })();

  return {
    destroy() {
      unsubscribe();
      if (frame) cancelAnimationFrame(frame);
      window.removeEventListener("scroll", onScroll);
      roomForComposer.disconnect();
      document.documentElement.style.scrollPaddingBottom = "";
    },
  };
}
