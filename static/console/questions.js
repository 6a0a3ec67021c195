// Requests that are not approvals of a command or a file change (CON-6): Codex's questions
// to the person, each with its options and free text where it takes it; a request for more
// permissions, granted in part or whole, for the turn or the session; and a request of a
// kind the console does not know, shown as it came and answerable only by declining it.
import { fill, gettext, h, uid } from "./dom.js";

export const QUESTION_METHOD = "item/tool/requestUserInput";
export const UNKNOWN_REQUEST = "agent.request.unknown";
export const PERMISSIONS_METHOD = "item/permissions/requestApproval";

function pathText(path) {
  if (typeof path === "string") return path;
  return path?.path || path?.pattern || path?.value || JSON.stringify(path);
}

function questionField(question) {
  const name = uid("question");
  const options = (question.options || []).map((option) =>
    h("label", { class: "check" },
      h("input", { type: "radio", name, value: option.label }),
      h("span", {}, h("strong", {}, option.label), option.description ? [h("br"), h("span", { class: "hint" }, option.description)] : null)));
  const takesText = question.isOther || options.length === 0;
  const other = takesText
    ? h("input", { type: question.isSecret ? "password" : "text", name: `${name}-other`, autocomplete: "off",
      "aria-label": options.length ? fill(gettext("Another answer to “%(question)s”"), { question: question.header || question.id })
        : question.question || question.header })
    : null;
  if (other && options.length) {
    const radio = h("input", { type: "radio", name, value: "" });
    options.push(h("label", { class: "check" }, radio, h("span", {}, gettext("Something else:"))));
    other.addEventListener("input", () => { radio.checked = true; });
  }
  const node = h("fieldset", { class: "question" },
    h("legend", {}, question.header || question.id),
    h("p", {}, question.question || ""),
    options, other);
  return {
    node,
    answer() {
      const picked = node.querySelector(`input[name="${name}"]:checked`);
      const text = other?.value.trim() || "";
      if (picked && picked.value) return picked.value;
      return text || null;
    },
  };
}

export function questionsBody(params, send) {
  const fields = (params.questions || []).map(questionField);
  const note = h("p", { class: "hint", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, gettext("Send answers"));
  const form = h("form", {
    class: "questions",
    onsubmit: (event) => {
      event.preventDefault();
      const answers = {};
      for (const [index, question] of (params.questions || []).entries()) {
        const answer = fields[index].answer();
        if (answer === null) {
          note.textContent = fill(gettext("Answer “%(question)s” first."), { question: question.header || question.id });
          return;
        }
        answers[question.id] = { answers: [answer] };
      }
      note.textContent = "";
      send({ answers });
    },
  }, fields.map((field) => field.node), note, h("div", { class: "actions" }, submit));
  return { heading: gettext("Codex has a question for you"), controls: [submit], body: form };
}

export function unknownBody(payload, send) {
  const decline = h("button", { type: "button", class: "danger", onclick: () => send({ decision: "decline" }) }, gettext("Decline"));
  return {
    heading: gettext("Codex asks something this console cannot show"),
    controls: [decline],
    body: [
      h("p", {}, fill(gettext("Request: %(method)s"), { method: payload?.method || "?" })),
      h("pre", { class: "params" }, JSON.stringify(payload?.params ?? {}, null, 2).slice(0, 4000)),
      h("p", { class: "hint" }, gettext("Declining tells Codex this request cannot be answered here; the turn goes on.")),
      h("div", { class: "actions" }, decline),
    ],
  };
}

function listed(files, entry) {
  const plain = entry.access === "read" ? files.read : entry.access === "write" ? files.write : null;
  return entry.path?.type === "path" && (plain || []).some((path) => pathText(path) === entry.path.path);
}

// Each thing Codex asks for is a box, ticked: the person unticks what not to give.
export function permissionsBody(params, send) {
  const asked = params.permissions || {};
  const files = asked.fileSystem || {};
  const choices = [
    ...(files.read || []).map((path) => [fill(gettext("Read %(path)s"), { path: pathText(path) }), ["read", path]]),
    ...(files.write || []).map((path) => [fill(gettext("Write %(path)s"), { path: pathText(path) }), ["write", path]]),
    // Codex lists plain paths both as read/write and again as entries; show each once.
    ...(files.entries || []).filter((entry) => !listed(files, entry)).map((entry) => [
      fill(gettext("%(access)s %(path)s"), { access: entry.access, path: pathText(entry.path) }), ["entries", entry]]),
    ...(asked.network?.enabled ? [[gettext("Use the network"), ["network", true]]] : []),
  ];
  const boxes = choices.map(([label, value]) => {
    const box = h("input", { type: "checkbox", checked: true });
    box.grant = value;
    return h("label", { class: "check" }, box, h("span", {}, label));
  });
  const scope = uid("scope");
  const scopes = h("fieldset", {}, h("legend", {}, gettext("For how long")),
    h("label", { class: "check" }, h("input", { type: "radio", name: scope, value: "turn", checked: true }), h("span", {}, gettext("This turn"))),
    h("label", { class: "check" }, h("input", { type: "radio", name: scope, value: "session" }), h("span", {}, gettext("The rest of this session"))));
  function granted() {
    const permissions = {};
    for (const label of boxes) {
      const box = label.querySelector("input");
      if (!box.checked) continue;
      const [kind, value] = box.grant;
      if (kind === "network") permissions.network = { enabled: true };
      else {
        permissions.fileSystem = permissions.fileSystem || {};
        (permissions.fileSystem[kind] = permissions.fileSystem[kind] || []).push(value);
      }
    }
    return permissions;
  }
  const grant = h("button", { type: "button", class: "primary",
    onclick: () => send({ permissions: granted(), scope: scopes.querySelector("input:checked").value }) }, gettext("Grant the ticked ones"));
  const none = h("button", { type: "button", class: "danger", onclick: () => send({ permissions: {}, scope: "turn" }) }, gettext("Grant nothing"));
  return {
    heading: gettext("Codex asks for more permissions"),
    controls: [grant, none],
    body: [
      params.reason ? h("p", {}, params.reason) : null,
      choices.length ? h("fieldset", {}, h("legend", {}, gettext("Grant")), boxes) : h("p", { class: "hint" }, gettext("Codex named nothing specific.")),
      scopes,
      h("div", { class: "actions" }, grant, none),
    ],
  };
}
