// Session rows (CON-3): a title, the last activity and the state a person scans for, on a
// computer's page and in the search across every computer on the first screen.
import { api } from "./api.js";
import { fill, gettext, h, replace, timestamp } from "./dom.js";
import { sessionLink } from "./home.js";

const STATES = {
  running: () => gettext("Running"),
  waiting: () => gettext("Waiting for you"),
  queued: () => gettext("Queued"),
  done: () => gettext("Done"),
  failed: () => gettext("Failed"),
};

// What Codex itself says of a thread, for sessions the relay's log has not seen yet.
export function codexState(status) {
  if (!status || status.type !== "active") return null;
  const flags = status.activeFlags || [];
  return flags.includes("waitingOnApproval") || flags.includes("waitingOnUserInput") ? "waiting" : "running";
}

function statePill(state) {
  const label = STATES[state];
  return label
    ? h("span", { class: `pill ${state}`, "data-state": state }, label())
    : h("span", { "data-state": state || "idle" });
}

// row: { deviceId, threadId, preview, at, state, deviceName? }
export function sessionRow(row) {
  return h("li", {}, h("a", { class: "row", href: sessionLink(row.deviceId, row.threadId), "data-thread": row.threadId },
    h("span", { class: "title" }, h("span", { class: "preview" }, row.preview || gettext("(no messages yet)")), statePill(row.state)),
    h("span", { class: "meta" }, [row.deviceName, row.at ? timestamp(row.at) : ""].filter(Boolean).join(" · "))));
}

function fromRelay(thread) {
  return { deviceId: thread.deviceId, deviceName: thread.deviceName, threadId: thread.threadId,
    preview: thread.preview, at: thread.lastEventAt, state: thread.state };
}

export async function loggedSessions(path) {
  const page = await api("GET", path);
  return { rows: page.threads.map(fromRelay), before: page.before };
}

const RECENT = 5;
const TYPING_PAUSE_MS = 250;

// The first screen's sessions: the latest few on every computer, or, while something is
// typed in the search box, every session one of whose messages holds it.
export function sessionFinder({ toast }) {
  const input = h("input", { type: "search", name: "q", maxlength: "200", autocomplete: "off", enterkeyhint: "search",
    "aria-label": gettext("Search sessions"), placeholder: gettext("Search sessions on all computers") });
  const list = h("ul", { class: "list", "aria-live": "polite", "aria-labelledby": "sessions-heading" });
  const more = h("button", { type: "button", hidden: true }, gettext("Load more"));
  let before = null;
  let asked = 0;
  let pause = 0;

  async function load(append = false) {
    const query = input.value.trim();
    const ticket = ++asked;
    const params = new URLSearchParams({ limit: String(query ? 25 : RECENT) });
    if (query) params.set("q", query);
    if (append && before !== null) params.set("before", String(before));
    try {
      const page = await loggedSessions(`/api/sessions?${params}`);
      if (ticket !== asked) return; // a later query's answer is the one to show
      if (!append) list.replaceChildren();
      list.append(...page.rows.map(sessionRow));
      if (list.children.length === 0) {
        list.append(h("li", { class: "empty" }, query
          ? fill(gettext("No session mentions “%(query)s”."), { query })
          : gettext("No sessions yet.")));
      }
      before = page.before;
      more.hidden = !query || before === null;
    } catch (problem) {
      if (ticket === asked) toast(problem.message, "error");
    }
  }

  input.addEventListener("input", () => { clearTimeout(pause); pause = setTimeout(() => load(), TYPING_PAUSE_MS); });
  more.addEventListener("click", () => load(true));
  const form = h("form", { role: "search", onsubmit: (submit) => { submit.preventDefault(); clearTimeout(pause); load(); } }, input);
  const section = h("section", { class: "stack sessions", "aria-labelledby": "sessions-heading" },
    h("h2", { id: "sessions-heading" }, gettext("Sessions")), form, list, more);
  replace(list, h("li", { class: "empty" }, gettext("Loading…")));
  load();
  return { node: section, refresh: () => { if (!input.value.trim()) load(); }, destroy: () => clearTimeout(pause) };
}
