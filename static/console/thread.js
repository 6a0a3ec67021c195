// A session as the console shows it: turns holding items, built from a readSession
// snapshot and from events (the relay's log, then the live stream). Applying the same
// event twice changes nothing, so the seams between those sources need no care.
import { fill, gettext } from "./dom.js";

const DELTAS = {
  "item/agentMessage/delta": "text",
  "item/commandExecution/outputDelta": "aggregatedOutput",
  "item/fileChange/outputDelta": "output",
  "item/reasoning/summaryTextDelta": "summaryText",
  "item/reasoning/textDelta": "reasoningText",
  "item/plan/delta": "text",
};

export class ThreadModel {
  constructor(threadId) {
    this.threadId = threadId;
    this.turns = new Map();
    this.seen = new Set();
    this.version = 0;
  }

  turn(turnId) {
    const id = turnId || "unknown";
    if (!this.turns.has(id)) {
      this.turns.set(id, { id, status: "inProgress", items: new Map(), errors: [], version: 0 });
    }
    return this.turns.get(id);
  }

  touch(turn) {
    turn.version += 1;
    this.version += 1;
  }

  running() {
    for (const turn of [...this.turns.values()].reverse()) {
      if (turn.status === "inProgress" && !turn.endedBecause) return turn;
      if (turn.status) return null;
    }
    return null;
  }

  // The turn cannot be going on as far as the console can tell: the computer went
  // offline ("offline") or Codex started again ("codexRestarted"). An offline computer
  // may come back with the turn still running; its next event then revives it.
  endRunning(reason) {
    const turn = this.running();
    if (!turn) return false;
    turn.endedBecause = reason;
    if (reason === "codexRestarted") turn.status = "interrupted";
    this.touch(turn);
    return true;
  }

  revive(turn) {
    if (turn.endedBecause === "offline") turn.endedBecause = null;
  }

  applySnapshot(thread) {
    for (const turn of thread?.turns || []) {
      const model = this.turn(turn.id);
      model.status = turn.status || model.status;
      if (model.status !== "inProgress") model.endedBecause = null;
      model.error = turn.error || model.error;
      model.durationMs = turn.durationMs ?? model.durationMs;
      for (const item of turn.items || []) this.upsert(model, item, true);
      this.touch(model);
    }
  }

  upsert(turn, item, done) {
    if (!item || !item.id) return;
    const known = turn.items.get(item.id);
    // A finished item is final: a late started-event or delta must not undo it.
    if (known && known.done && !done) return;
    const merged = { ...(known || {}), ...item, done: Boolean(done || known?.done) };
    if (!done && known) {
      for (const key of Object.values(DELTAS)) {
        if (known[key] && !item[key]) merged[key] = known[key];
      }
    }
    merged.version = (known?.version || 0) + 1;
    turn.items.set(item.id, merged);
  }

  // Returns true when the event changed what the session shows.
  apply(event) {
    if (event.id !== undefined) {
      if (this.seen.has(event.id)) return false;
      this.seen.add(event.id);
    }
    if (event.threadId && event.threadId !== this.threadId) return false;
    const payload = event.payload || {};
    const kind = event.eventType;
    if (kind === "turn/started") {
      const turn = this.turn(payload.turn?.id || event.turnId);
      turn.status = "inProgress";
      turn.endedBecause = null;
      this.touch(turn);
      return true;
    }
    if (kind === "turn/completed") {
      const turn = this.turn(payload.turn?.id || event.turnId);
      turn.status = payload.turn?.status || "completed";
      turn.endedBecause = null;  // the turn's own end says why it ended
      turn.error = payload.turn?.error || null;
      turn.durationMs = payload.turn?.durationMs ?? null;
      for (const item of turn.items.values()) item.done = true;
      this.touch(turn);
      return true;
    }
    if (kind === "item/started" || kind === "item/completed") {
      const turn = this.turn(payload.turnId || event.turnId);
      this.revive(turn);
      this.upsert(turn, payload.item, kind === "item/completed");
      this.touch(turn);
      return true;
    }
    if (kind in DELTAS) {
      const turn = this.turn(payload.turnId || event.turnId);
      const item = turn.items.get(payload.itemId);
      const key = DELTAS[kind];
      if (item && item.done) return false;
      this.revive(turn);
      const target = item || { id: payload.itemId, type: kind.split("/")[1], done: false, version: 0 };
      target[key] = (target[key] || "") + (payload.delta || "");
      target.version += 1;
      turn.items.set(target.id, target);
      this.touch(turn);
      return true;
    }
    const turn = event.turnId || payload.turnId ? this.turn(payload.turnId || event.turnId) : null;
    if (!turn) return false;
    if (kind === "turn/plan/updated") {
      turn.plan = { explanation: payload.explanation, steps: payload.plan || [] };
    } else if (kind === "turn/diff/updated") {
      turn.diff = payload.diff;
    } else if (kind === "thread/tokenUsage/updated") {
      turn.usage = payload.tokenUsage;
    } else if (kind === "error") {
      turn.errors.push(payload.error?.message || String(payload.message || ""));
    } else if (kind === "agent.request.refused") {
      // Codex asked the program, not the person; the agent said no, and the turn goes on.
      turn.errors.push(fill(gettext("Codex asked for %(method)s, which codexpanel does not provide; the computer declined it."),
        { method: payload.method || "?" }));
    } else {
      return false;
    }
    this.touch(turn);
    return true;
  }
}
