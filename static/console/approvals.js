// Approval cards (SPEC CON-6): what Codex wants to do, and the answers it accepts.
import { ApiError, run } from "./api.js";
import { fill, gettext, h, replace } from "./dom.js";
import { changesView } from "./diffs.js";

const DECISIONS = [
  ["accept", () => gettext("Approve"), "primary"],
  ["acceptForSession", () => gettext("Approve for this session"), ""],
  ["decline", () => gettext("Decline"), "danger"],
  ["cancel", () => gettext("Cancel turn"), ""],
];

// Codex lists the answers a command request takes in availableDecisions; declining is
// always possible (the turn goes on without the command), so it is always offered.
export function decisionsFor(params) {
  const listed = params?.availableDecisions;
  if (!Array.isArray(listed)) return DECISIONS;
  const names = new Set(listed.filter((entry) => typeof entry === "string"));
  names.add("decline");
  return DECISIONS.filter(([name]) => names.has(name));
}

export function approvalKey(event) {
  return `${event.deviceId}|${event.payload?.requestId}`;
}

function isFileChange(method) {
  return method === "item/fileChange/requestApproval" || method === "applyPatchApproval";
}

function detail(term, value, code = false) {
  if (!value) return [];
  return [h("dt", {}, term), h("dd", {}, code ? h("code", { class: "cmd" }, value) : value)];
}

// How long an answer may wait for the computer before the card offers Retry and Cancel.
const SLOW_ANSWER_MS = 10000;

// event: the approval event; item: the command or file change it is about (if known);
// link: where "Open session" goes; onDone: called once the answer is delivered; online:
// whether the computer is connected (an offline one cannot take an answer); changesAt:
// the id of the element that already shows the file changes, so they are not shown twice.
export function approvalCard(event, { item, link, onDone, toast, online = true, changesAt = null }) {
  const params = event.payload?.params || {};
  const method = event.payload?.method || event.eventType;
  const files = isFileChange(method);
  const command = params.command || (Array.isArray(item?.command) ? item.command.join(" ") : item?.command);
  const heading = files ? gettext("Codex wants to change files") : gettext("Codex wants to run a command");
  const status = h("p", { class: "meta", role: "status" });
  const buttons = decisionsFor(files ? null : params).map(([decision, label, tone]) =>
    h("button", { type: "button", class: tone, "data-decision": decision, disabled: !online, onclick: () => decide(decision) }, label()));
  const slow = h("div", { class: "actions", hidden: true });
  if (!online) status.textContent = gettext("The computer is offline. Answer when it is back.");
  let attempt = null;

  function settle(text) {
    clearTimeout(attempt?.timer);
    attempt = null;
    slow.hidden = true;
    slow.replaceChildren();
    status.textContent = text;
  }

  function stopWaiting() {
    attempt?.controller.abort();
    settle(online ? "" : gettext("The computer is offline. Answer when it is back."));
    for (const button of buttons) button.disabled = !online;
  }

  async function decide(decision) {
    attempt?.controller.abort();
    clearTimeout(attempt?.timer);
    const mine = { controller: new AbortController() };
    attempt = mine;
    for (const button of buttons) button.disabled = true;
    slow.hidden = true;
    replace(status, h("progress", { "aria-label": gettext("Sending your answer…") }), " ", gettext("Sending your answer…"));
    // The computer may never answer (it hung, or its link died unnoticed): after a while,
    // say so and let the person send it again or stop waiting for it.
    mine.timer = setTimeout(() => {
      if (attempt !== mine) return;
      status.textContent = gettext("The computer has not confirmed your answer yet.");
      replace(slow,
        h("button", { type: "button", class: "primary", onclick: () => decide(decision) }, gettext("Retry")),
        h("button", { type: "button", onclick: stopWaiting }, gettext("Stop waiting")));
      slow.hidden = false;
    }, SLOW_ANSWER_MS);
    try {
      await run(event.deviceId, "resolveApproval", { requestId: event.payload.requestId, decision },
        { signal: mine.controller.signal });
      if (attempt !== mine) return;
      settle(gettext("Answered."));
      onDone(decision);
    } catch (error) {
      if (attempt !== mine) return;  // retried or cancelled meanwhile
      if (error instanceof ApiError && error.code === "approval_not_found") {
        settle("");
        toast(gettext("This request was already answered or is no longer waiting."));
        onDone(null);
        return;
      }
      stopWaiting();
      toast(fill(gettext("Your answer did not reach the computer: %(message)s"), { message: error.message }), "error");
    }
  }

  return h("article", { class: "item approval", "data-request": event.payload?.requestId, "aria-label": heading },
    h("h3", {}, heading),
    event.deviceName ? h("p", { class: "meta" }, fill(gettext("on %(device)s"), { device: event.deviceName })) : null,
    h("dl", { class: "details" },
      detail(gettext("Command"), command, true),
      detail(gettext("Folder"), params.cwd || item?.cwd),
      detail(gettext("Reason"), params.reason),
      detail(gettext("Grants write access to"), params.grantRoot),
      files && item?.changes?.length
        ? [h("dt", {}, gettext("Files")), h("dd", {}, item.changes.map((change) => h("code", { class: "path" }, change.path)))]
        : null),
    files && changesAt
      ? h("button", { type: "button", class: "link show-changes", onclick: () => document.getElementById(changesAt)?.scrollIntoView({ block: "start" }) },
        gettext("Show the changes"))
      : null,
    files && !changesAt ? changesView(item?.changes) : null,
    h("div", { class: "actions" }, buttons),
    status,
    slow,
    link ? h("a", { href: link }, gettext("Open session")) : null);
}
