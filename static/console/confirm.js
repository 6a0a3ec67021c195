// Asking before an action that is hard to take back (Full access, restarting the agent,
// removing a computer, paying for a card): a modal dialog whose safe choice has the focus,
// so a stray tap or Enter does nothing.
import { gettext, h, uid } from "./dom.js";

export function confirmAction({ title, message, confirm, tone = "danger" }) {
  return new Promise((resolve) => {
    const heading = uid("confirm");
    const yes = h("button", { type: "button", class: tone }, confirm);
    const no = h("button", { type: "button" }, gettext("Cancel"));
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": heading },
      h("h2", { id: heading }, title),
      message ? h("p", {}, message) : null,
      h("div", { class: "actions" }, no, yes));
    const finish = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    yes.addEventListener("click", () => finish(true));
    no.addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", (escape) => {
      escape.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}
