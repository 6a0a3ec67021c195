"""What the relay's logs and its server agree on without importing the server."""

from __future__ import annotations

from typing import Any

from agent.protocol import MAX_FRAME_BYTES

# The WebSocket server takes messages up to this size: room above the relay's own frame
# limit, so that an oversized frame reaches the relay's check (close 1009).
SERVER_MESSAGE_BYTES = 4 * MAX_FRAME_BYTES


def without_query(path: Any) -> Any:
    return path.split("?", 1)[0] if isinstance(path, str) else path
