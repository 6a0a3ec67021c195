// File changes as a phone can read them (SPEC CON-4): one block per file with its +/−
// counts, old and new line numbers, folded on a tap, and long lines scrolled sideways
// rather than wrapped mid-token.
import { fill, gettext, h } from "./dom.js";

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;
const CHANGE_KIND = { add: () => gettext("added"), delete: () => gettext("deleted"), update: () => gettext("changed") };

// Rows of [old number, new number, tone, text]. Codex sends an added or deleted file as
// its bare content, and a changed one as a unified diff.
export function diffRows(diff, kind) {
  const lines = String(diff || "").replace(/\n$/, "").split("\n");
  if (kind === "add" || kind === "delete") {
    const tone = kind === "add" ? "add" : "del";
    return lines.map((text, index) => [
      kind === "delete" ? index + 1 : "", kind === "add" ? index + 1 : "", tone, text]);
  }
  const rows = [];
  let oldLine = 0;
  let newLine = 0;
  let inHunk = false;
  for (const line of lines) {
    const hunk = line.match(HUNK);
    if (hunk) {
      inHunk = true;
      oldLine = Number(hunk[1]);
      newLine = Number(hunk[2]);
      rows.push(["", "", "hunk", line]);
    } else if (!inHunk) {
      continue;  // the header before the first hunk: file names, shown above already
    } else if (line.startsWith("+")) {
      rows.push(["", newLine++, "add", line.slice(1)]);
    } else if (line.startsWith("-")) {
      rows.push([oldLine++, "", "del", line.slice(1)]);
    } else {
      rows.push([oldLine++, newLine++, "", line.startsWith(" ") ? line.slice(1) : line]);
    }
  }
  return rows;
}

export function diffCounts(rows) {
  return {
    added: rows.filter((row) => row[2] === "add").length,
    removed: rows.filter((row) => row[2] === "del").length,
  };
}

const SIGN = { add: "+", del: "−", hunk: "", "": " " };

function diffTable(rows) {
  return h("div", { class: "diff", tabindex: "0", role: "region", "aria-label": gettext("Diff") },
    h("table", {}, h("tbody", {}, rows.map(([oldNumber, newNumber, tone, text]) =>
      h("tr", { class: tone || null },
        h("td", { class: "ln", "aria-hidden": "true" }, String(oldNumber)),
        h("td", { class: "ln", "aria-hidden": "true" }, String(newNumber)),
        h("td", { class: "line" }, h("span", { class: "sign", "aria-hidden": "true" }, SIGN[tone]), text))))));
}

export function fileChangeView(change, { open = true } = {}) {
  const kind = change.kind?.type;
  const rows = diffRows(change.diff, kind);
  const { added, removed } = diffCounts(rows);
  return h("details", { class: "change", open },
    h("summary", {},
      h("code", { class: "path" }, change.path),
      h("span", { class: "counts" },
        h("span", { class: "added", "aria-label": fill(gettext("%(count)s lines added"), { count: added }) }, `+${added}`),
        " ",
        h("span", { class: "removed", "aria-label": fill(gettext("%(count)s lines removed"), { count: removed }) }, `−${removed}`)),
      h("span", { class: "meta" }, CHANGE_KIND[kind] ? CHANGE_KIND[kind]() : kind || "")),
    rows.length ? diffTable(rows) : null);
}

export function changesView(changes) {
  return (changes || []).map((change) => fileChangeView(change));
}
