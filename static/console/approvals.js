// Approval cards (SPEC CON-6): what Codex wants to do, and the answers it accepts.
import { ApiError, run } from "./api.js";
import { fill, gettext, h, replace } from "./dom.js";
import { changesView } from "./diffs.js";
import { ELICITATION_METHOD, describeElicitation, elicitationBody } from "./elicitation.js";
import { PERMISSIONS_METHOD, QUESTION_METHOD, UNKNOWN_REQUEST, permissionsBody, questionsBody, unknownBody } from "./questions.js";

const DECISIONS = [
  ["accept", () => gettext("Approve"), "primary"],
  ["acceptForSession", () => gettext("Approve for this session"), ""],
  ["acceptWithExecpolicyAmendment", () => gettext("Approve and allow from now on"), ""],
  ["applyNetworkPolicyAmendment", () => gettext("Approve and change the network rule"), ""],
  ["decline", () => gettext("Decline"), "danger"],
  ["cancel", () => gettext("Cancel turn"), ""],
];

function decisionName(decision) {
  return typeof decision === "string" ? decision : Object.keys(decision || {})[0];
}

// What an amended decision would add: the command prefix Codex would allow from now on,
// or the network rule it would apply.
function amendment(decision) {
  if (typeof decision === "string") return null;
  const value = Object.values(decision)[0] || {};
  if (Array.isArray(value.execpolicy_amendment)) return value.execpolicy_amendment.join(" ");
  const rule = value.network_policy_amendment;
  if (rule?.host && (rule.action === "allow" || rule.action === "deny")) {
    return fill(rule.action === "allow" ? gettext("allow connections to %(host)s") : gettext("deny connections to %(host)s"), { host: rule.host });
  }
  return JSON.stringify(rule || value);
}

// The answers a request takes, in the order the card shows them: exactly what Codex lists
// in availableDecisions (an amended decision carries the rule it adds), and Decline, which
// app-server takes for every approval. Each is [decision to send, label, tone, rule].
export function decisionsFor(params) {
  const listed = Array.isArray(params?.availableDecisions)
    ? params.availableDecisions.filter((entry) => DECISIONS.some(([name]) => name === decisionName(entry)))
    : ["accept", "acceptForSession", "cancel"];
  if (!listed.includes("decline")) listed.push("decline");
  return DECISIONS.flatMap(([name, label, tone]) => listed
    .filter((entry) => decisionName(entry) === name)
    .map((entry) => [entry, label, tone, amendment(entry)]));
}

export function approvalKey(event) {
  return `${event.deviceId}|${event.payload?.requestId}`;
}

function isFileChange(method) {
  return method === "item/fileChange/requestApproval" || method === "applyPatchApproval";
}

// A few words on what a request asks, for status lines and notifications.
export function describeAsk(event, item) {
  const params = event.payload?.params || {};
  const method = event.payload?.method || event.eventType;
  if (method === QUESTION_METHOD) {
    const question = params.questions?.[0]?.question || gettext("a question");
    return question.length > 60 ? `${question.slice(0, 59)}…` : question;
  }
  if (method === UNKNOWN_REQUEST) return event.payload?.method || gettext("a request");
  if (method === PERMISSIONS_METHOD) return gettext("more permissions");
  if (method === ELICITATION_METHOD) return describeElicitation(params);
  if (isFileChange(event.payload?.method || event.eventType)) return gettext("file changes");
  const command = params.command || (Array.isArray(item?.command) ? item.command.join(" ") : item?.command) || "";
  const shown = command.replace(/^\/bin\/(ba)?sh -lc /, "").replace(/^'(.*)'$/, "$1");
  return shown.length > 60 ? `${shown.slice(0, 59)}…` : shown || gettext("a command");
}

function detail(term, value, code = false) {
  if (!value) return [];
  return [h("dt", {}, term), h("dd", {}, code ? h("code", { class: "cmd" }, value) : value)];
}

// How long an answer may wait for the computer before the card offers Retry and Cancel.
const SLOW_ANSWER_MS = 10000;

// event: the request's event; item: the command or file change it is about (if known);
// link: where "Open session" goes; onDone: called once the answer is delivered; online:
// whether the computer is connected (an offline one cannot take an answer); changesAt:
// the id of the element that already shows the file changes, so they are not shown twice.
export function approvalCard(event, { item, link, onDone, toast, online = true, changesAt = null }) {
  const params = event.payload?.params || {};
  const method = event.payload?.method || event.eventType;
  const status = h("p", { class: "meta", role: "status" });
  const slow = h("div", { class: "actions", hidden: true });
  if (!online) status.textContent = gettext("The computer is offline. Answer when it is back.");
  let attempt = null;
  let controls = [];

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
    for (const control of controls) control.disabled = !online;
  }

  // answer: what resolveApproval carries besides the request's id ({decision} or {answers}).
  async function send(answer) {
    attempt?.controller.abort();
    clearTimeout(attempt?.timer);
    const mine = { controller: new AbortController() };
    attempt = mine;
    for (const control of controls) control.disabled = true;
    slow.hidden = true;
    replace(status, h("progress", { "aria-label": gettext("Sending your answer…") }), " ", gettext("Sending your answer…"));
    // The computer may never answer (it hung, or its link died unnoticed): after a while,
    // say so and let the person send it again or stop waiting for it.
    mine.timer = setTimeout(() => {
      if (attempt !== mine) return;
      status.textContent = gettext("The computer has not confirmed your answer yet.");
      replace(slow,
        h("button", { type: "button", class: "primary", onclick: () => send(answer) }, gettext("Retry")),
        h("button", { type: "button", onclick: stopWaiting }, gettext("Stop waiting")));
      slow.hidden = false;
    }, SLOW_ANSWER_MS);
    try {
      await run(event.deviceId, "resolveApproval", { requestId: event.payload.requestId, ...answer },
        { signal: mine.controller.signal });
      if (attempt !== mine) return;
      settle(gettext("Answered."));
      onDone(answer);
    } catch (error) {
      if (attempt !== mine) return;  // retried or cancelled meanwhile
      if (error instanceof ApiError && error.code === "approval_not_found") {
        settle("");
        toast(gettext("This request was already answered or is no longer waiting."));
        onDone(null);
        return;
      }
      if (error instanceof ApiError && error.code === "approval_already_answered") {
        settle("");
        toast(error.message);  // who answered, and what
        onDone(null);
        return;
      }
      stopWaiting();
      toast(fill(gettext("Your answer did not reach the computer: %(message)s"), { message: error.message }), "error");
    }
  }

  const shown = method === QUESTION_METHOD ? questionsBody(params, send)
    : method === PERMISSIONS_METHOD ? permissionsBody(params, send)
      : method === ELICITATION_METHOD ? elicitationBody(params, send)
      : method === UNKNOWN_REQUEST ? unknownBody(event.payload, send)
      : approvalBody({ params, method, item, changesAt }, send);
  controls = [...shown.controls];
  for (const control of controls) control.disabled = control.disabled || !online;
  return h("article", { class: "item approval", "data-request": event.payload?.requestId, "aria-label": shown.heading },
    h("h3", {}, shown.heading),
    event.deviceName ? h("p", { class: "meta" }, fill(gettext("on %(device)s"), { device: event.deviceName })) : null,
    shown.body,
    status,
    slow,
    link ? h("a", { href: link }, gettext("Open session")) : null);
}

// A command or file-change approval: what would happen, and a button per offered decision.
function approvalBody({ params, method, item, changesAt }, send) {
  const files = isFileChange(method);
  const command = params.command || (Array.isArray(item?.command) ? item.command.join(" ") : item?.command);
  const decisions = decisionsFor(files ? null : params);
  const buttons = decisions.map(([decision, label, tone]) =>
    h("button", { type: "button", class: tone, "data-decision": decisionName(decision), onclick: () => send({ decision }) }, label()));
  const rules = decisions.filter(([, , , rule]) => rule).map(([decision, , , rule]) =>
    h("p", { class: "meta rule" }, decisionName(decision) === "acceptWithExecpolicyAmendment"
      ? gettext("“Approve and allow from now on” adds the rule: run commands starting with")
      : gettext("“Approve and change the network rule” applies:"), " ", h("code", {}, rule)));
  return {
    heading: files ? gettext("Codex wants to change files") : gettext("Codex wants to run a command"),
    controls: buttons,
    body: [
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
      rules,
      h("div", { class: "actions" }, buttons),
    ],
  };
}
