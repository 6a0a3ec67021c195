// Small DOM and language helpers shared by the console's screens.

export function gettext(text) {
  return typeof window.gettext === "function" ? window.gettext(text) : text;
}

// Fills the %(name)s slots of a translated text from values.
const PLACEHOLDER = new RegExp("%\\((\\w+)\\)s", "g");
export function fill(text, values) {
  return text.replace(PLACEHOLDER, (_, key) => String(values[key] ?? ""));
}

// h("button", {class: "primary", onclick: f}, "Send") builds an element. Attributes whose
// value is false, null or undefined are left out; children may be strings, nodes or arrays.
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "text") {
      node.textContent = value;
    } else if (name === "value") {
      node.value = value;
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

let ids = 0;
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

// A labelled form field: the label names the control for screen readers.
export function field(labelText, control, hint) {
  if (!control.id) control.id = uid("field");
  const parts = [h("label", { for: control.id }, labelText), control];
  if (hint) {
    const hintNode = h("p", { class: "hint", id: uid("hint") }, hint);
    control.setAttribute("aria-describedby", hintNode.id);
    parts.push(hintNode);
  }
  return parts;
}

export function language() {
  return document.documentElement.lang || "en";
}

export function when(iso) {
  if (!iso) return gettext("never");
  const then = new Date(iso);
  const seconds = Math.round((then.getTime() - Date.now()) / 1000);
  const format = new Intl.RelativeTimeFormat(language(), { numeric: "auto" });
  const units = [
    ["year", 31536000], ["month", 2592000], ["day", 86400],
    ["hour", 3600], ["minute", 60], ["second", 1],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return format.format(Math.round(seconds / size), unit);
    }
  }
  return then.toLocaleString(language());
}

export function timestamp(iso) {
  return iso ? new Date(iso).toLocaleString(language()) : "";
}

// Plain text from an element's subtree changes without repainting the rest.
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
