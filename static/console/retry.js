// Trying again after the relay or the network failed: a backoff with a visible countdown
// and a "Retry now" that cuts it short. The stream and the first status check share it,
// so the console comes back on its own, without a reload, however it lost the relay.
import { fill, gettext, h } from "./dom.js";

// The first retry is at once (a stream the relay ended on purpose resumes without a
// pause); the longest wait is short enough that the console is back within seconds of
// the relay's return.
const STEPS_MS = [250, 1000, 2000, 4000, 8000];

export class Retry {
  constructor(attempt, { onWait } = {}) {
    this.attempt = attempt;
    this.onWait = onWait || (() => {});
    this.failures = 0;
    this.timer = null;
    this.ticker = null;
    this.due = 0;
  }

  // After a failure: wait the next step, telling onWait how many seconds are left.
  later() {
    this.cancel();
    const delay = STEPS_MS[Math.min(this.failures, STEPS_MS.length - 1)];
    this.failures += 1;
    this.due = Date.now() + delay;
    this.timer = setTimeout(() => this.now(), delay);
    const tick = () => this.onWait(Math.max(1, Math.ceil((this.due - Date.now()) / 1000)));
    tick();
    this.ticker = setInterval(tick, 1000);
  }

  now() {
    this.cancel();
    this.attempt();
  }

  succeeded() {
    this.cancel();
    this.failures = 0;
  }

  waiting() {
    return this.timer !== null;
  }

  cancel() {
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.timer = null;
    this.ticker = null;
  }
}

// "Reconnecting in 4 s · Retry now", as one line that fits a phone. Built once and
// updated in place each second, so "Retry now" stays put under a finger.
export class Countdown {
  constructor(retry) {
    this.seconds = h("span");
    this.node = h("span", { class: "countdown" }, this.seconds, " · ",
      h("button", { type: "button", class: "link retry-now", onclick: () => retry.now() }, gettext("Retry now")));
  }

  show(seconds) {
    this.seconds.textContent = fill(gettext("Reconnecting in %(seconds)s s"), { seconds });
    return this.node;
  }
}
