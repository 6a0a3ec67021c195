// An MCP server's request through Codex (CON-6): a form built from the schema it sends
// (text, numbers, yes/no, one or several choices, required fields), a web page to open,
// or Codex's own question whether a tool may run. Each is accepted, declined or cancelled.
import { fill, gettext, h, uid } from "./dom.js";

export const ELICITATION_METHOD = "mcpServer/elicitation/request";

const FORM_MODES = ["form", "openai/form", "openaiForm"];
const INPUT_TYPES = { email: "email", uri: "url", date: "date", "date-time": "datetime-local" };

function meta(params) {
  return params._meta && typeof params._meta === "object" ? params._meta : {};
}

export function isToolApproval(params) {
  return meta(params).codex_approval_kind === "mcp_tool_call";
}

// [value, label] pairs of a single- or multi-select field, or null for free input.
function choicesOf(schema) {
  const source = schema.type === "array" ? { enum: schema.items?.enum, oneOf: schema.items?.anyOf } : schema;
  if (Array.isArray(source.enum)) {
    return source.enum.map((value, index) => [value, schema.enumNames?.[index] || value]);
  }
  if (Array.isArray(source.oneOf)) return source.oneOf.map((option) => [option.const, option.title || option.const]);
  return null;
}

// One field of the form: its node, and value() giving what goes into the content (undefined
// when left empty), or throwing the words that say what is missing.
function formField(name, schema, required) {
  const label = schema.title || name;
  const hint = schema.description ? h("p", { class: "hint" }, schema.description) : null;
  const choices = choicesOf(schema);
  if (choices) {
    const many = schema.type === "array";
    const group = uid("choice");
    const defaults = [].concat(schema.default ?? []);
    const inputs = choices.map(([value, text]) => h("label", { class: "check" },
      h("input", { type: many ? "checkbox" : "radio", name: group, value, checked: defaults.includes(value) }),
      h("span", {}, text)));
    const node = h("fieldset", { class: "question", "data-field": name },
      h("legend", {}, label, required ? h("span", { class: "hint" }, ` (${gettext("required")})`) : null), hint, inputs);
    return {
      node,
      value() {
        const picked = [...node.querySelectorAll("input:checked")].map((input) => input.value);
        if (many) {
          if (required && !picked.length) throw fill(gettext("Choose at least one for “%(field)s”."), { field: label });
          return picked.length ? picked : undefined;
        }
        if (required && !picked.length) throw fill(gettext("Choose one for “%(field)s”."), { field: label });
        return picked[0];
      },
    };
  }
  if (schema.type === "boolean") {
    const box = h("input", { type: "checkbox", checked: schema.default === true });
    return {
      node: h("div", { class: "form-field", "data-field": name }, h("label", { class: "check" }, box, h("span", {}, label)), hint),
      value: () => box.checked,
    };
  }
  const numeric = schema.type === "number" || schema.type === "integer";
  const input = h("input", {
    id: uid("form"),
    type: numeric ? "number" : INPUT_TYPES[schema.format] || "text",
    inputmode: schema.type === "integer" ? "numeric" : numeric ? "decimal" : null,
    step: schema.type === "integer" ? "1" : numeric ? "any" : null,
    min: schema.minimum ?? null,
    max: schema.maximum ?? null,
    minlength: schema.minLength ?? null,
    maxlength: schema.maxLength ?? null,
    required,
    autocomplete: "off",
    value: schema.default ?? null,
  });
  const node = h("div", { class: "form-field", "data-field": name },
    h("label", { for: input.id }, label, required ? h("span", { class: "hint" }, ` (${gettext("required")})`) : null), input, hint);
  return {
    node,
    value() {
      if (!input.checkValidity()) throw `${label}: ${input.validationMessage}`;
      const text = input.value.trim();
      if (!text) return undefined;
      if (!numeric) return schema.format === "date-time" && text.length === 16 ? `${text}:00` : text;
      return Number(text);
    },
  };
}

function actions(send, accept, acceptLabel, extra = []) {
  const buttons = [
    h("button", { type: accept ? "button" : "submit", class: "primary", "data-action": "accept", onclick: accept }, acceptLabel),
    ...extra,
    h("button", { type: "button", class: "danger", "data-action": "decline", onclick: () => send({ action: "decline" }) }, gettext("Decline")),
    h("button", { type: "button", "data-action": "cancel", onclick: () => send({ action: "cancel" }) }, gettext("Cancel")),
  ];
  return buttons;
}

function toolApproval(params, send) {
  const about = meta(params);
  const persist = [].concat(about.persist || []);
  const extra = [
    persist.includes("session") ? h("button", { type: "button", "data-action": "accept-session",
      onclick: () => send({ action: "accept", persist: "session" }) }, gettext("Allow for this session")) : null,
    persist.includes("always") ? h("button", { type: "button", "data-action": "accept-always",
      onclick: () => send({ action: "accept", persist: "always" }) }, gettext("Always allow")) : null,
  ].filter(Boolean);
  const buttons = actions(send, () => send({ action: "accept" }), gettext("Allow once"), extra);
  const shownParams = Array.isArray(about.tool_params_display) && about.tool_params_display.length
    ? about.tool_params_display : null;
  return {
    heading: gettext("Codex wants to use a tool"),
    controls: buttons,
    body: [
      h("p", {}, params.message || ""),
      h("dl", { class: "details" },
        h("dt", {}, gettext("Tool")), h("dd", {}, h("code", {}, about.tool_title || about.tool_name || "?")),
        h("dt", {}, gettext("From")), h("dd", {}, params.serverName || "?"),
        about.tool_description ? [h("dt", {}, gettext("What it does")), h("dd", {}, about.tool_description)] : null,
        shownParams ? [h("dt", {}, gettext("With")), h("dd", {}, h("pre", { class: "params" }, JSON.stringify(shownParams, null, 2).slice(0, 2000)))] : null),
      h("div", { class: "actions" }, buttons),
    ],
  };
}

function safeLink(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed : null;
  } catch {
    return null;
  }
}

function pageToOpen(params, send) {
  const link = safeLink(params.url);
  const buttons = actions(send, () => send({ action: "accept" }), gettext("I have finished there"));
  return {
    heading: gettext("A tool asks you to open a page"),
    controls: buttons,
    body: [
      h("p", {}, params.message || ""),
      h("p", { class: "meta" }, fill(gettext("Asked by %(server)s"), { server: params.serverName || "?" })),
      link
        ? h("p", {}, h("a", { href: link.href, target: "_blank", rel: "noopener noreferrer", class: "open-page" },
          fill(gettext("Open %(host)s"), { host: link.host })), h("br"), h("code", { class: "path" }, link.href))
        : h("p", { class: "hint" }, fill(gettext("The page it names cannot be opened from here: %(url)s"), { url: String(params.url || "").slice(0, 200) })),
      h("p", { class: "hint" }, gettext("Finish on that page, then come back and say so; or decline.")),
      h("div", { class: "actions" }, buttons),
    ],
  };
}

function form(params, send) {
  const schema = params.requestedSchema && typeof params.requestedSchema === "object" ? params.requestedSchema : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const fields = Object.entries(schema.properties || {})
    .filter(([, field]) => field && typeof field === "object")
    .map(([name, field]) => [name, formField(name, field, required.has(name))]);
  const note = h("p", { class: "hint", role: "alert" });
  const buttons = actions(send, null, gettext("Send"));
  const node = h("form", {
    class: "questions elicitation",
    novalidate: true,
    onsubmit: (event) => {
      event.preventDefault();
      const content = {};
      try {
        for (const [name, field] of fields) {
          const value = field.value();
          if (value !== undefined) content[name] = value;
        }
      } catch (problem) {
        note.textContent = String(problem);
        return;
      }
      note.textContent = "";
      send(fields.length ? { action: "accept", content } : { action: "accept" });
    },
  },
  h("p", {}, params.message || ""),
  h("p", { class: "meta" }, fill(gettext("Asked by %(server)s"), { server: params.serverName || "?" })),
  fields.map(([, field]) => field.node), note, h("div", { class: "actions" }, buttons));
  return { heading: gettext("A tool asks for details"), controls: buttons, body: node };
}

// What the card shows and its buttons, by the request's mode.
export function elicitationBody(params, send) {
  if (isToolApproval(params)) return toolApproval(params, send);
  if (params.mode === "url") return pageToOpen(params, send);
  if (FORM_MODES.includes(params.mode)) return form(params, send);
  const buttons = actions(send, null, "").slice(1);  // a mode this console cannot show
  return {
    heading: gettext("A tool asks something this console cannot show"),
    controls: buttons,
    body: [h("p", {}, params.message || ""), h("div", { class: "actions" }, buttons)],
  };
}

export function describeElicitation(params) {
  if (isToolApproval(params)) {
    return fill(gettext("use %(tool)s"), { tool: meta(params).tool_title || meta(params).tool_name || gettext("a tool") });
  }
  if (params.mode === "url") return gettext("open a page");
  const message = params.message || gettext("details");
  return message.length > 60 ? `${message.slice(0, 59)}…` : message;
}
