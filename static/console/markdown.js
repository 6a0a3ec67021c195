// Codex writes Markdown. The console shows it rendered, but never as live HTML: the
// renderer refuses raw HTML, and DOMPurify cleans what it makes before it reaches the
// page. Code blocks are highlighted as text spans only. markdown-it, DOMPurify and
// highlight.js are the vendored files in static/vendor/ (see VERSIONS there).
const renderer = window.markdownit({
  html: false,
  linkify: true,
  typographer: false,
  highlight(code, language) {
    const hljs = window.hljs;
    if (hljs && language && hljs.getLanguage(language)) {
      try {
        return hljs.highlight(code, { language, ignoreIllegals: true }).value;
      } catch {
        return "";
      }
    }
    return "";  // markdown-it escapes it
  },
});

window.DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.getAttribute("href")) {
    // A link leaves the console in a new tab, and tells the other site nothing.
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

const ALLOWED = {
  ALLOWED_TAGS: ["a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th",
    "thead", "tr", "ul"],
  ALLOWED_ATTR: ["href", "title", "class", "start", "align", "target", "rel"],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
  RETURN_DOM_FRAGMENT: true,
};

// A fragment to place in the page: the rendered, cleaned Markdown of text.
export function markdown(text) {
  const fragment = window.DOMPurify.sanitize(renderer.render(String(text || "")), ALLOWED);
  // Wide code and tables scroll on their own instead of widening the page.
  for (const block of fragment.querySelectorAll("pre, table")) {
    block.setAttribute("tabindex", "0");
  }
  return fragment;
}
