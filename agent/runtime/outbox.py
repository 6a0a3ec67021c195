"""The agent's durable memory (SPEC DEV-4, DEV-3): events not yet acknowledged by the relay,
and the commands already run. Kept in SQLite beside the config, so neither a dropped
connection nor an agent restart loses an event or runs a command twice."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from .. import protocol

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commands (
    command_id TEXT PRIMARY KEY, result TEXT, created REAL DEFAULT (julianday('now'))
);
"""
# Remembered command ids; the relay re-delivers only recent, unanswered ones.
KEEP_COMMANDS = 2000
# How long opening the outbox waits for another process holding it.
SETUP_SECONDS = 10.0


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=SETUP_SECONDS
        )
        self._prepare()
        self.lock = threading.Lock()

    def _prepare(self) -> None:
        # Switching to WAL takes an exclusive lock and SQLite answers "locked" at once,
        # without waiting on the busy timeout, when another process opens the same outbox
        # at that moment (an agent and `agent status`, or a restart overlapping the old
        # process); so the switch is retried for as long as an ordinary write would wait.
        deadline = time.monotonic() + SETUP_SECONDS
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.executescript(SCHEMA)
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _meta(self, key: str, default: int) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def _set_meta(self, key: str, value: int) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    # --- events ---------------------------------------------------------------------------

    def _transaction(self) -> Any:
        outbox = self

        class Transaction:
            def __enter__(self) -> None:
                outbox.db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind: Any, *rest: Any) -> None:
                outbox.db.execute("ROLLBACK" if kind else "COMMIT")

        return Transaction()

    def append(self, event: dict[str, Any]) -> int:
        """Number the event and keep it until the relay acknowledges it."""
        with self.lock, self._transaction():
            seq = self._meta("next_seq", 1)
            self.db.execute(
                "INSERT INTO events (seq, body) VALUES (?, ?)",
                (seq, json.dumps({**event, "seq": seq}, ensure_ascii=False)),
            )
            self._set_meta("next_seq", seq + 1)
            return seq

    def pending(self, after: int = 0, limit: int = 500) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def replace_refused(self, seq: int, code: Any, message: Any) -> None:
        """The relay refused event seq: keep its place (seq numbers have no gaps) with a
        note of what was refused and why, which the relay takes."""
        with self.lock, self._transaction():
            row = self.db.execute("SELECT body FROM events WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                return
            refused = json.loads(row[0])
            at = refused.get("at")
            if not (isinstance(at, str) and 0 < len(at) <= 64):
                at = None
            if refused.get("eventType") == protocol.EVENT_REFUSED:
                # A note refused in turn is replaced by the barest one, which always passes.
                at, refused = None, {"eventType": protocol.EVENT_REFUSED}
            note = {
                "seq": seq,
                "eventType": protocol.EVENT_REFUSED,
                "at": at,
                "payload": {
                    "eventType": str(refused.get("eventType", ""))[:128],
                    "code": str(code)[:64],
                    "message": str(message)[:500],
                },
            }
            note = protocol.repaired({k: v for k, v in note.items() if v is not None})
            if isinstance(refused.get("threadId"), str) and 0 < len(refused["threadId"]) <= 256:
                note["threadId"] = protocol.repaired(refused["threadId"])
            self.db.execute(
                "UPDATE events SET body = ? WHERE seq = ?",
                (json.dumps(note, ensure_ascii=False), seq),
            )

    def acknowledge(self, seq: int) -> None:
        with self.lock:
            self.db.execute("DELETE FROM events WHERE seq <= ?", (seq,))

    def count(self) -> int:
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def reconcile(self, last_acked: int) -> None:
        """After a welcome: drop what the relay has. The first welcome this outbox sees
        instead continues the relay's numbering: a fresh install's events are new to the
        relay even when their numbers are not."""
        with self.lock:
            synced = self._meta("synced", 0)
        if not synced:
            self.renumber_from(last_acked + 1)
            with self.lock:
                self._set_meta("synced", 1)
            return
        with self.lock:
            self.db.execute("DELETE FROM events WHERE seq <= ?", (last_acked,))
            remaining = self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            if remaining == 0 and self._meta("next_seq", 1) <= last_acked:
                self._set_meta("next_seq", last_acked + 1)

    def renumber_from(self, expected: int) -> None:
        """The relay expects `expected` next: number what waits from there, in order."""
        with self.lock, self._transaction():
            rows = self.db.execute("SELECT seq, body FROM events ORDER BY seq").fetchall()
            self.db.execute("DELETE FROM events")
            for offset, (_seq, body) in enumerate(rows):
                event = json.loads(body)
                event["seq"] = expected + offset
                self.db.execute(
                    "INSERT INTO events (seq, body) VALUES (?, ?)",
                    (event["seq"], json.dumps(event, ensure_ascii=False)),
                )
            self._set_meta("next_seq", expected + len(rows))

    # --- commands -------------------------------------------------------------------------

    def claim_command(self, command_id: str) -> tuple[bool, dict[str, Any] | None]:
        """(True, None) the first time a command id is seen; afterwards (False, its stored
        result, or None while it still runs)."""
        with self.lock:
            row = self.db.execute(
                "SELECT result FROM commands WHERE command_id = ?", (command_id,)
            ).fetchone()
            if row is not None:
                return False, json.loads(row[0]) if row[0] else None
            # One commit, so one sync to disk before the command runs: this record is what
            # stops a redelivered command from running twice.
            with self._transaction():
                self.db.execute("INSERT INTO commands (command_id) VALUES (?)", (command_id,))
                self.db.execute(
                    "DELETE FROM commands WHERE command_id NOT IN "
                    "(SELECT command_id FROM commands ORDER BY created DESC LIMIT ?)",
                    (KEEP_COMMANDS,),
                )
            return True, None

    def unfinished_commands(self) -> list[str]:
        with self.lock:
            rows = self.db.execute("SELECT command_id FROM commands WHERE result IS NULL")
            return [row[0] for row in rows.fetchall()]

    def finish_command(self, command_id: str, result: dict[str, Any]) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE commands SET result = ? WHERE command_id = ?",
                (json.dumps(result, ensure_ascii=False), command_id),
            )

    def close(self) -> None:
        self.db.close()
