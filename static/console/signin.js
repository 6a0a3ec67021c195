// CON-1: sign in with a password or with a code sent by email.
import { api, authStatus } from "./api.js";
import { field, gettext, h, replace } from "./dom.js";

export function mount(root, { onSignedIn }) {
  const error = h("p", { class: "notice error", role: "alert", hidden: true });
  const panel = h("div");
  let mode = "password";

  function fail(problem) {
    error.textContent = problem.message;
    error.hidden = false;
  }

  async function finish(request) {
    error.hidden = true;
    try {
      await request();
      const status = await authStatus();
      onSignedIn(status.user);
    } catch (problem) {
      fail(problem);
    }
  }

  function passwordForm() {
    const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none" });
    const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
    return h("form", {
      onsubmit: (submit) => {
        submit.preventDefault();
        finish(() => api("POST", "/api/iam/auth/login", { username: username.value, password: password.value }));
      },
    },
    field(gettext("Username"), username),
    field(gettext("Password"), password),
    h("button", { type: "submit", class: "primary" }, gettext("Sign in")));
  }

  function codeForm() {
    const email = h("input", { name: "email", type: "email", autocomplete: "email", required: true });
    const code = h("input", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true });
    const codeStep = h("div", { hidden: true }, field(gettext("Code from the email"), code),
      h("button", { type: "submit", class: "primary" }, gettext("Sign in")));
    const send = h("button", { type: "button" }, gettext("Email me a code"));
    const sent = h("p", { class: "notice success", role: "status", hidden: true });
    send.addEventListener("click", async () => {
      error.hidden = true;
      try {
        const answer = await api("POST", "/api/iam/auth/email-code/request", { email: email.value });
        sent.textContent = answer.message || gettext("If that address has an account, a code is on its way.");
        sent.hidden = false;
        codeStep.hidden = false;
        code.focus();
      } catch (problem) {
        fail(problem);
      }
    });
    return h("form", {
      onsubmit: (submit) => {
        submit.preventDefault();
        finish(() => api("POST", "/api/iam/auth/email-code/verify", { email: email.value, code: code.value }));
      },
    }, field(gettext("Email"), email), send, sent, codeStep);
  }

  const tabs = [
    ["password", gettext("Password")],
    ["code", gettext("Email code")],
  ].map(([name, label]) => h("button", {
    type: "button",
    "aria-pressed": String(name === mode),
    onclick: () => show(name),
  }, label));

  function show(name) {
    mode = name;
    tabs.forEach((tab, index) => tab.setAttribute("aria-pressed", String(index === (name === "password" ? 0 : 1))));
    error.hidden = true;
    replace(panel, name === "password" ? passwordForm() : codeForm());
  }

  replace(root,
    h("h1", { tabindex: "-1" }, gettext("Sign in")),
    h("section", { class: "card" },
      h("div", { class: "tabs", role: "group", "aria-label": gettext("How to sign in") }, tabs),
      error,
      panel),
    h("p", { class: "hint" }, gettext("Sign in to see your computers, follow Codex and answer its questions.")));
  show("password");
  return { destroy() {} };
}
