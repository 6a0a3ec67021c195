// One EventSource per tab on /events: every event of the person's devices, in order.
// The browser resumes it after a drop with Last-Event-ID; when the relay ends it for good
// (signed out, restarted), it is reopened from the last position seen, so nothing is
// missed and nothing shown twice.
const RETRY_MS = [1000, 2000, 5000, 10000, 20000];

export class EventStream {
  constructor({ onEvent, onState }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastId = null;
    this.source = null;
    this.failures = 0;
    this.timer = null;
  }

  start() {
    this.stop();
    const url = this.lastId === null ? "/events" : `/events?lastEventId=${encodeURIComponent(this.lastId)}`;
    const source = new EventSource(url);
    this.source = source;
    this.onState("connecting");
    source.onopen = () => {
      this.failures = 0;
      this.onState("live");
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
      this.onState("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        const delay = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)];
        this.failures += 1;
        this.timer = setTimeout(() => this.start(), delay);
      }
    };
  }

  stop() {
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
  }
}
