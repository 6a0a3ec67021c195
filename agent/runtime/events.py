"""Turning what happens into numbered events in the outbox (SPEC AGT-5, DEV-4).

Streaming deltas of one item are merged while they keep coming, for at most a short
window, so a fast turn costs few events and frames; any other event first flushes the
pending delta, so order is kept. Oversized payloads are replaced by a marker the relay can
still store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .. import protocol
from .outbox import Outbox

DELTA_METHODS = {
    "item/agentMessage/delta",
    "item/commandExecution/outputDelta",
    "item/fileChange/outputDelta",
    "item/reasoning/textDelta",
    "item/reasoning/summaryTextDelta",
    "item/plan/delta",
}
COALESCE_WINDOW = 0.05
# Below the relay's 32 MiB limit for one (chunked) message.
MAX_EVENT_BYTES = 16 * 1024 * 1024
# A payload nests this deep at most, so that its event frame (three levels above it) is
# never deeper than the relay takes.
PAYLOAD_DEPTH = protocol.MAX_JSON_DEPTH - 3


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class EventWriter:
    def __init__(self, outbox: Outbox, on_ready: Callable[[], None]) -> None:
        self.outbox = outbox
        self.on_ready = on_ready
        self.lock = threading.Lock()
        self.delta: dict[str, Any] | None = None
        self.delta_started = 0.0

    def emit(
        self, event_type: str, payload: Any, thread_id: str | None, turn_id: str | None
    ) -> None:
        with self.lock:
            self._flush_locked()
            self._append(event_type, payload, thread_id, turn_id)

    def notification(
        self, method: str, params: dict[str, Any], thread_id: str | None, turn_id: str | None
    ) -> None:
        if method not in DELTA_METHODS:
            self.emit(method, params, thread_id, turn_id)
            return
        key = (method, thread_id, params.get("itemId"))
        with self.lock:
            if self.delta is not None and self.delta["key"] == key:
                self.delta["params"]["delta"] += params.get("delta", "")
                return
            self._flush_locked()
            self.delta = {"key": key, "params": dict(params), "turn": turn_id}
            self.delta_started = time.monotonic()

    def flush_due(self) -> None:
        """Called often: send a merged delta once its window has passed."""
        with self.lock:
            if self.delta and time.monotonic() - self.delta_started >= COALESCE_WINDOW:
                self._flush_locked()

    def _flush_locked(self) -> None:
        if self.delta is None:
            return
        method, thread_id, _item = self.delta["key"]
        self._append(method, self.delta["params"], thread_id, self.delta["turn"])
        self.delta = None

    def _append(
        self, event_type: str, payload: Any, thread_id: str | None, turn_id: str | None
    ) -> None:
        # What Codex reports may hold text the relay refuses (a NUL in command output, half
        # an emoji): repaired here, before the outbox keeps it.
        payload = protocol.repaired(payload, max_depth=PAYLOAD_DEPTH)
        thread_id = protocol.repaired(str(thread_id)) if thread_id else None
        turn_id = protocol.repaired(str(turn_id)) if turn_id else None
        event_type = protocol.repaired(event_type)
        if len(protocol.encode({"payload": payload})) > MAX_EVENT_BYTES:
            payload = {"omitted": True, "reason": f"larger than {MAX_EVENT_BYTES} bytes"}
        event: dict[str, Any] = {"eventType": event_type, "at": now_iso(), "payload": payload}
        if thread_id:
            event["threadId"] = str(thread_id)
        if turn_id:
            event["turnId"] = str(turn_id)
        self.outbox.append(event)
        self.on_ready()
