// What goes with the next message (CON-5): the model and reasoning effort, chosen from the
// models the computer's Codex offers, and photos or screenshots attached from the phone.
import { api, devicePath, run } from "./api.js";
import { field, fill, gettext, h, replace } from "./dom.js";

const TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];
const MAX_IMAGES = 4;
// A photo over the size limit is scaled to fit this many pixels on its longer side.
const LONG_SIDE = 2048;
// Codex's model list hardly changes while a page is open: ask each computer once.
const modelLists = new Map();

function listModels(deviceId) {
  if (!modelLists.has(deviceId)) {
    const asked = run(deviceId, "listModels").then((result) => result.data || []);
    asked.catch(() => modelLists.delete(deviceId));
    modelLists.set(deviceId, asked);
  }
  return modelLists.get(deviceId);
}

async function shrink(file, limit) {
  // Too large as taken (a phone's camera): re-encode smaller, keeping the aspect ratio.
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, LONG_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const smaller = await new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.85));
  if (!smaller || smaller.size > limit) return null;
  return new File([smaller], file.name.replace(/\.[^.]*$/, "") + ".jpg", { type: "image/jpeg" });
}

export function turnOptions(deviceId, { toast, config, isOnline }) {
  const limit = config.attachmentMaxBytes;
  const model = h("select", { name: "model" }, h("option", { value: "" }, gettext("Codex's default")));
  const effort = h("select", { name: "effort" }, h("option", { value: "" }, gettext("The model's default")));
  const note = h("p", { class: "hint" });
  const chosen = h("span", { class: "chosen" });
  let known = [];

  function describe() {
    const entry = known.find((each) => each.id === model.value);
    chosen.textContent = [entry ? entry.displayName || entry.id : gettext("Codex's default"),
      effort.value ? effort.selectedOptions[0].textContent : ""].filter(Boolean).join(" · ");
  }

  function fillEfforts() {
    const entry = known.find((each) => each.id === model.value);
    const keep = effort.value;
    replace(effort, h("option", { value: "" }, entry
      ? fill(gettext("The model's default (%(effort)s)"), { effort: entry.defaultReasoningEffort })
      : gettext("The model's default")),
    (entry?.supportedReasoningEfforts || []).map((each) =>
      h("option", { value: each.reasoningEffort, title: each.description, selected: each.reasoningEffort === keep },
        each.reasoningEffort)));
    describe();
  }

  const details = h("details", { class: "turn-options" },
    h("summary", {}, h("span", {}, gettext("Model")), chosen),
    h("div", { class: "option" }, field(gettext("Model"), model)),
    h("div", { class: "option" }, field(gettext("Reasoning effort"), effort)),
    note);
  details.addEventListener("toggle", async () => {
    if (!details.open || known.length) return;
    if (!isOnline()) {
      note.textContent = gettext("The computer must be online to list its models.");
      return;
    }
    note.textContent = gettext("Loading…");
    try {
      known = await listModels(deviceId);
      replace(model, h("option", { value: "" }, gettext("Codex's default")),
        known.map((entry) => h("option", { value: entry.id }, entry.displayName || entry.id)));
      note.textContent = "";
      fillEfforts();
    } catch (problem) {
      note.textContent = problem.message;
    }
  });
  model.addEventListener("change", fillEfforts);
  effort.addEventListener("change", describe);
  describe();

  // Attached images: each uploads as soon as it is chosen, so Send does not wait for it.
  const images = [];
  const tray = h("ul", { class: "attachments", "aria-label": gettext("Attached images") });
  const picker = h("input", { type: "file", accept: TYPES.join(","), multiple: true, hidden: true });
  const attach = h("button", { type: "button", class: "attach" }, gettext("Attach a photo"));
  attach.addEventListener("click", () => picker.click());

  function forget(image) {
    const at = images.indexOf(image);
    if (at >= 0) images.splice(at, 1);  // it may have been removed while it uploaded
    URL.revokeObjectURL(image.preview);
  }

  function drawTray() {
    replace(tray, images.map((image) => h("li", {},
      h("img", { src: image.preview, alt: image.name }),
      h("span", { class: "meta" }, image.id ? gettext("Attached") : gettext("Uploading…")),
      h("button", { type: "button", class: "remove", "aria-label": fill(gettext("Remove %(name)s"), { name: image.name }),
        onclick: () => { forget(image); drawTray(); } }, "×"))));
    attach.disabled = images.length >= MAX_IMAGES;
  }

  async function add(file) {
    if (images.length >= MAX_IMAGES) {
      toast(fill(gettext("A message takes at most %(count)s images."), { count: MAX_IMAGES }), "error");
      return;
    }
    let upload = TYPES.includes(file.type) && file.size <= limit ? file : null;
    if (!upload) upload = await shrink(file, limit).catch(() => null);
    if (!upload) {
      toast(fill(gettext("%(name)s is not an image Codex can read, or too large."), { name: file.name }), "error");
      return;
    }
    const image = { name: file.name, preview: URL.createObjectURL(upload), id: null };
    images.push(image);
    drawTray();
    const form = new FormData();
    form.append("image", upload, upload.name);
    try {
      const id = (await api("POST", devicePath(deviceId, "/attachments"), form)).attachmentId;
      if (!images.includes(image)) return;  // removed while it uploaded
      image.id = id;
    } catch (problem) {
      forget(image);
      toast(fill(gettext("%(name)s was not attached: %(message)s"), { name: file.name, message: problem.message }), "error");
    }
    drawTray();
  }

  picker.addEventListener("change", async () => {
    const files = [...picker.files];
    picker.value = "";
    for (const file of files) await add(file);
  });

  return {
    node: h("div", { class: "turn-extras" }, details, attach, tray, picker),
    // The parameters startTurn takes for these choices, and the input items they add.
    choice() {
      return { model: model.value || undefined, effort: effort.value || undefined };
    },
    uploading: () => images.some((image) => !image.id),
    hasImages: () => images.length > 0,
    items: () => images.map((image) => ({ type: "attachment", attachmentId: image.id })),
    clear() {
      for (const image of images) URL.revokeObjectURL(image.preview);
      images.length = 0;
      drawTray();
    },
  };
}
