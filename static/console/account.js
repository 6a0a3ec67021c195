// CON-9: the person's balance and ledger, monthly cards and device quota, and buying a
// card from the balance.
import { api } from "./api.js";
import { confirmAction } from "./confirm.js";
import { fill, gettext, h, language, replace, timestamp } from "./dom.js";
import { notificationsCard } from "./notifications.js";

const KINDS = {
  recharge: () => gettext("Recharge"),
  gift: () => gettext("Gift"),
  deduct: () => gettext("Deduction"),
  card_purchase: () => gettext("Card purchase"),
  refund: () => gettext("Refund"),
  correction: () => gettext("Correction"),
};

function newKey() {
  return typeof crypto.randomUUID === "function"
    ? crypto.randomUUID()
    : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

export function mount(root, { toast, config }) {
  const money = new Intl.NumberFormat(language(), { style: "currency", currency: config.currency });
  const show = (minor) => money.format(minor / 100);
  const summary = h("section", { class: "card", "aria-labelledby": "balance-heading" });
  const plans = h("section", { class: "card", "aria-labelledby": "plans-heading" });
  const ledger = h("ul", { class: "list" });
  const more = h("button", { type: "button", hidden: true }, gettext("Load more"));
  // One key per card until its purchase succeeds: a retried tap cannot buy twice.
  const keys = new Map();
  let before = null;

  function cardLine(card) {
    const upcoming = new Date(card.startsAt) > new Date();
    return h("li", {}, h("strong", {}, card.plan.name), " · ",
      upcoming
        ? fill(gettext("from %(start)s to %(end)s"), { start: timestamp(card.startsAt), end: timestamp(card.endsAt) })
        : fill(gettext("until %(end)s"), { end: timestamp(card.endsAt) }));
  }

  function drawSummary(wallet) {
    replace(summary,
      h("h2", { id: "balance-heading" }, gettext("Balance")),
      h("p", { class: "code", "data-testid": "balance" }, show(wallet.balance)),
      h("p", { "data-testid": "quota" },
        fill(gettext("%(used)s of %(quota)s computers in use"), { used: wallet.devicesUsed, quota: wallet.deviceQuota })),
      wallet.cards.length
        ? h("ul", { class: "plain", "aria-label": gettext("Your monthly cards") }, wallet.cards.map(cardLine))
        : h("p", { class: "hint" }, gettext("No monthly card: the free quota applies.")));
  }

  function drawPlans(wallet) {
    const offers = wallet.plans.map((plan) => {
      const buy = h("button", { type: "button", class: "primary" },
        fill(gettext("Buy for %(price)s"), { price: show(plan.price) }));
      buy.disabled = plan.price > wallet.balance;
      buy.addEventListener("click", async () => {
        const sure = await confirmAction({
          title: fill(gettext("Buy %(card)s for %(price)s?"), { card: plan.name, price: show(plan.price) }),
          message: fill(gettext("%(price)s is taken from your balance now."), { price: show(plan.price) }),
          confirm: fill(gettext("Buy for %(price)s"), { price: show(plan.price) }),
          tone: "primary",
        });
        if (!sure) return;
        if (!keys.has(plan.code)) keys.set(plan.code, newKey());
        buy.disabled = true;
        try {
          await api("POST", "/api/wallet/cards", { plan: plan.code, idempotencyKey: keys.get(plan.code) });
          keys.delete(plan.code);
          toast(fill(gettext("%(card)s is yours."), { card: plan.name }));
          load();
        } catch (problem) {
          if (problem.status) keys.delete(plan.code);  // refused: a new tap is a new request
          toast(problem.message, "error");
          buy.disabled = false;
        }
      });
      return h("li", { class: "row", "data-plan": plan.code },
        h("span", { class: "title" }, plan.name),
        h("span", { class: "meta" }, fill(gettext("%(days)s days · up to %(quota)s computers"),
          { days: plan.durationDays, quota: plan.deviceQuota })),
        buy);
    });
    replace(plans, h("h2", { id: "plans-heading" }, gettext("Monthly cards")),
      offers.length ? h("ul", { class: "list" }, offers) : h("p", { class: "empty" }, gettext("No cards are on sale.")));
  }

  function entryRow(entry) {
    const label = KINDS[entry.kind] ? KINDS[entry.kind]() : entry.kind;
    const sign = entry.amount > 0 ? "+" : "−";
    return h("li", { class: "row" },
      h("span", { class: "title" }, h("span", {}, label), h("span", {}, `${sign}${show(Math.abs(entry.amount))}`)),
      h("span", { class: "meta" }, [timestamp(entry.createdAt), entry.reason].filter(Boolean).join(" · ")),
      h("span", { class: "meta" }, fill(gettext("Balance after: %(balance)s"), { balance: show(entry.balanceAfter) })));
  }

  async function loadLedger(reset) {
    const query = reset || before === null ? "" : `?before=${before}`;
    const page = await api("GET", `/api/wallet/ledger${query}`);
    if (reset) ledger.replaceChildren();
    ledger.append(...page.entries.map(entryRow));
    if (ledger.children.length === 0) ledger.append(h("li", { class: "empty" }, gettext("No entries yet.")));
    before = page.before;
    more.hidden = before === null;
  }

  async function load() {
    try {
      const wallet = await api("GET", "/api/wallet");
      drawSummary(wallet);
      drawPlans(wallet);
      await loadLedger(true);
    } catch (problem) {
      toast(problem.message, "error");
    }
  }

  more.addEventListener("click", () => loadLedger(false).catch((problem) => toast(problem.message, "error")));
  replace(root,
    h("a", { class: "back", href: "#/" }, `← ${gettext("Your computers")}`),
    h("h1", { tabindex: "-1" }, gettext("Account")),
    summary, plans, notificationsCard({ toast }),
    h("section", { "aria-labelledby": "ledger-heading" },
      h("h2", { id: "ledger-heading" }, gettext("Ledger")), ledger, more));
  load();
  return { destroy() {} };
}
