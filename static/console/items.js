// How each kind of Codex item looks in a session (SPEC CON-4): messages, commands with
// their output, file changes with diffs, plans, reasoning, usage and errors.
import { fill, gettext, h } from "./dom.js";
import { changesView } from "./diffs.js";
import { markdown } from "./markdown.js";
import { outputView } from "./output.js";

const COMMAND_STATUS = {
  inProgress: () => gettext("running"),
  completed: () => gettext("completed"),
  failed: () => gettext("failed"),
  declined: () => gettext("declined"),
};

function statusPill(status, waiting = false) {
  if (!status) return null;
  if (waiting && status === "inProgress") return h("span", { class: "pill waiting" }, gettext("waiting for you"));
  const label = COMMAND_STATUS[status] ? COMMAND_STATUS[status]() : status;
  const tone = status === "completed" ? "online" : status === "inProgress" ? "queued" : "failed";
  return h("span", { class: `pill ${tone}` }, label);
}

function userText(item) {
  return (item.content || [])
    .map((part) => (part.type === "text" ? part.text : part.type === "image" || part.type === "localImage" ? gettext("[image]") : ""))
    .join(" ");
}

function card(kind, label, ...body) {
  return h("article", { class: `item ${kind}` }, label ? h("div", { class: "label" }, label) : null, ...body);
}

// The id a command or file change is shown under, so an approval card can point to it.
export function itemAnchor(itemId) {
  return `item-${itemId}`;
}

// waiting: whether Codex waits on the person's answer about this item.
export function itemView(item, waiting = false) {
  switch (item.type) {
    case "userMessage":
      return card("user", gettext("You"), h("div", {}, userText(item)));
    case "agentMessage":
      return card("agent", gettext("Codex"), h("div", { class: "text markdown" }, item.text ? markdown(item.text) : "…"));
    case "reasoning": {
      const text = item.summaryText || (item.summary || []).join("\n") || item.reasoningText || "";
      return text ? card("reasoning", gettext("Thinking"), text) : null;
    }
    case "commandExecution":
      return card("command", [h("span", {}, gettext("Command")), statusPill(item.status, waiting)],
        h("code", { class: "cmd" }, item.command || ""),
        item.cwd ? h("p", { class: "meta" }, fill(gettext("in %(cwd)s"), { cwd: item.cwd })) : null,
        item.aggregatedOutput ? outputView(item.id, item.aggregatedOutput) : null,
        item.exitCode !== null && item.exitCode !== undefined
          ? h("p", { class: "meta" }, fill(gettext("exit code %(code)s"), { code: item.exitCode })) : null);
    case "fileChange": {
      const view = card("files", [h("span", {}, gettext("File changes")), statusPill(item.status, waiting)], changesView(item.changes));
      view.id = itemAnchor(item.id);
      return view;
    }
    case "plan":
      return card("plan", gettext("Plan"), h("div", { class: "text markdown" }, markdown(item.text || "")));
    case "webSearch":
      return card("tool", gettext("Web search"), item.query || "");
    case "mcpToolCall":
      return card("tool", fill(gettext("Tool: %(name)s"), { name: `${item.server || ""} ${item.tool || ""}`.trim() }), statusPill(item.status));
    case "contextCompaction":
      return card("tool", null, gettext("Earlier conversation was summarized to save space."));
    default:
      return null;
  }
}

function planView(plan) {
  return card("plan", gettext("Plan"),
    plan.explanation ? h("p", {}, plan.explanation) : null,
    h("ol", { class: "plan" }, plan.steps.map((step) => h("li", { class: step.status }, step.step))));
}

const TURN_STATUS = {
  completed: () => gettext("Turn completed"),
  interrupted: () => gettext("Turn interrupted"),
  failed: () => gettext("Turn failed"),
  inProgress: () => gettext("Working…"),
};

const ENDED_BECAUSE = {
  offline: () => gettext("Ended: the computer went offline"),
  codexRestarted: () => gettext("Ended: Codex restarted"),
};

// turn.waitingFor: what Codex waits on the person for in this turn, described, if anything.
export function turnFooter(turn) {
  const waiting = !turn.endedBecause && turn.status === "inProgress" && turn.waitingFor;
  const status = turn.endedBecause ? "ended" : waiting ? "waiting" : turn.status;
  const label = turn.endedBecause
    ? ENDED_BECAUSE[turn.endedBecause]()
    : waiting ? fill(gettext("Waiting for your answer: %(what)s"), { what: turn.waitingFor })
      : TURN_STATUS[turn.status] ? TURN_STATUS[turn.status]() : turn.status;
  const parts = [h("span", {}, label)];
  if (turn.durationMs) parts.push(h("span", {}, fill(gettext("%(seconds)s s"), { seconds: (turn.durationMs / 1000).toFixed(1) })));
  const total = turn.usage?.total?.totalTokens;
  if (total) parts.push(h("span", {}, fill(gettext("%(count)s tokens"), { count: total.toLocaleString() })));
  return h("div", { class: "turn-end", "data-status": status }, parts);
}

export function turnView(turn) {
  const items = [...turn.items.values()]
    .map((item) => itemView(item, turn.waitingItems?.has(item.id))).filter(Boolean);
  const errors = [...turn.errors, turn.error?.message].filter(Boolean);
  return h("section", { class: "turn", "data-turn": turn.id },
    items,
    turn.plan ? planView(turn.plan) : null,
    [...new Set(errors)].map((message) => card("error", gettext("Error"), message)),
    turnFooter(turn));
}
