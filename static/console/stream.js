// One EventSource per tab on /events: every event of the person's devices, in order.
// Whenever it fails (the relay restarted or is down, the network dropped, the phone
// slept), it is reopened from the last position seen, with a visible backoff, so nothing
// is missed and nothing shown twice. The browser's own reconnect is not used: it cannot
// be shown, hurried or bounded.
import { Retry } from "./retry.js";

export class EventStream {
  constructor({ onEvent, onState }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastId = null;
    this.source = null;
    this.everOpened = false;
    this.retry = new Retry(() => this.start(), {
      onWait: (seconds) => this.onState("waiting", { seconds, retry: this.retry }),
    });
  }

  start() {
    this.close();
    const url = this.lastId === null ? "/events" : `/events?lastEventId=${encodeURIComponent(this.lastId)}`;
    const source = new EventSource(url);
    this.source = source;
    this.onState(this.everOpened ? "reconnecting" : "connecting");
    source.onopen = () => {
      const resumed = this.everOpened;
      this.everOpened = true;
      this.retry.succeeded();
      this.onState("live", { resumed });
    };
    source.onmessage = (message) => {
      if (message.lastEventId) this.lastId = message.lastEventId;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      this.onEvent(event);
    };
    source.onerror = () => {
      if (source !== this.source) return;
      this.close();
      this.retry.later();
    };
  }

  // Try at once if the stream is down (the network came back, the phone woke up).
  nudge() {
    if (this.retry.waiting() || (this.source && this.source.readyState === EventSource.CLOSED)) {
      this.retry.now();
    }
  }

  live() {
    return Boolean(this.source && this.source.readyState === EventSource.OPEN);
  }

  close() {
    if (this.source) this.source.close();
    this.source = null;
  }

  stop() {
    this.retry.cancel();
    this.close();
    this.everOpened = false;
  }
}
