// A command's output as it streams: a box that follows the newest lines while it is at
// its end (and stays where the person scrolled otherwise), opens full screen, and copies.
import { gettext, h } from "./dom.js";

// Where each output box was left, by item id, so a repaint of its turn keeps it.
const positions = new Map();

function atEnd(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight < 24;
}

// Resolves true once text is on the clipboard.
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Off a secure origin (a relay on a LAN address over http) there is no clipboard
    // API: copy through a selection instead.
    const area = h("textarea", { class: "visually-hidden", readonly: true }, text);
    document.body.append(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    return copied;
  }
}

async function copy(text, button) {
  if (!(await copyText(text))) return;
  button.textContent = gettext("Copied");
  setTimeout(() => { button.textContent = gettext("Copy"); }, 2000);
}

function fullScreen(text) {
  const close = h("button", { type: "button", class: "primary" }, gettext("Close"));
  const copyButton = h("button", { type: "button" }, gettext("Copy"));
  const body = h("pre", { class: "output full", tabindex: "0" }, text);
  const dialog = h("dialog", { class: "viewer", "aria-label": gettext("Output") },
    h("div", { class: "actions" }, copyButton, close), body);
  close.addEventListener("click", () => dialog.close());
  copyButton.addEventListener("click", () => copy(text, copyButton));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  body.scrollTop = body.scrollHeight;
  close.focus();
}

export function outputView(itemId, text) {
  const box = h("pre", { class: "output", tabindex: "0", "aria-label": gettext("Output"), "data-item": itemId }, text);
  const copyButton = h("button", { type: "button", class: "small" }, gettext("Copy"));
  copyButton.addEventListener("click", () => copy(text, copyButton));
  const open = h("button", { type: "button", class: "small", onclick: () => fullScreen(text) }, gettext("Full screen"));
  box.addEventListener("scroll", () => positions.set(itemId, atEnd(box) ? null : box.scrollTop), { passive: true });
  // Placed in the page on the next frame: then its size is known.
  requestAnimationFrame(() => {
    const kept = positions.get(itemId);
    box.scrollTop = kept === undefined || kept === null ? box.scrollHeight : kept;
  });
  return h("div", { class: "output-view" }, box, h("div", { class: "actions" }, copyButton, open));
}
