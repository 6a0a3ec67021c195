"""What this agent knows of its `codex app-server` (SPEC AGT-5): whether it runs, the last
error, its version and what it said is deprecated. The heartbeat reports it, so the console's
computer page shows it; a deprecation notice is logged and reported once per process, never
stored as an event of every request that provoked it."""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..local.codex_discovery import version_from_user_agent, version_note

log = logging.getLogger(__name__)

# Enough for every notice one Codex release sends; the report stays small.
MAX_NOTICES = 8
MAX_NOTICE_CHARS = 1000


class CodexStatus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state = "stopped"
        self.error: str | None = None
        self.version: str | None = None
        self.notices: list[str] = []

    def starting(self) -> None:
        self.state = "starting"

    def failed(self, error: str, state: str = "failed") -> None:
        self.state = state
        self.error = error[:MAX_NOTICE_CHARS]

    def started(self, initialize_result: dict[str, Any]) -> str | None:
        """app-server answered initialize: it runs. Returns the note on its version, if any
        (outside the tested range), which is also logged."""
        self.state = "running"
        self.error = None
        version = version_from_user_agent(str(initialize_result.get("userAgent") or ""))
        self.version = version[:32] if version else None
        note = self.version_note
        if note:
            log.warning(note)
        return note

    @property
    def version_note(self) -> str | None:
        return version_note(self.version)

    def deprecation(self, params: dict[str, Any]) -> bool:
        """A `deprecationNotice` from app-server; True when this process had not heard it."""
        summary = str(params.get("summary") or "").strip()[:MAX_NOTICE_CHARS]
        if not summary:
            return False
        with self._lock:
            if summary in self.notices or len(self.notices) >= MAX_NOTICES:
                return False
            self.notices.append(summary)
        log.warning("codex app-server: %s", summary)
        return True

    def report(self) -> dict[str, Any]:
        """The heartbeat's `state.codex` (agent/protocol.py CODEX_REPORT)."""
        return {
            "state": self.state,
            "error": self.error,
            "version": self.version,
            "versionNote": self.version_note,
            "notices": list(self.notices),
        }
