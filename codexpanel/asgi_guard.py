"""The last line of defence around every ASGI application: an exception that escapes it
is logged once here and answered as the connection still allows.

Daphne answers an escaped exception with a 500 from its periodic checker. Once the
response has started that 500 cannot be sent, and the ValueError it raises instead ends
the checker for the life of the process: finished connections are never reaped again (the
process grows without bound) and timed-out sockets are never closed. So nothing is let
escape: an HTTP response that has not started gets the JSON 500, one that has started is
ended where it stands (the browser's EventSource reconnects with Last-Event-ID), and a
WebSocket is closed with the application's internal-error code."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from agent.protocol import Close

from .errors import error_body

log = logging.getLogger("codexpanel.asgi")

Scope = dict[str, Any]
Message = dict[str, Any]


class ContainFailures:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        sent: set[str] = set()

        async def tracked(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.body" and message.get("more_body"):
                kind = "http.response.more"
            sent.add(kind)
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s %s failed", scope["type"], scope.get("path", ""))
            # The peer may be gone already; there is nothing more to tell it then.
            with contextlib.suppress(Exception):
                await self._answer(scope["type"], sent, send)

    @staticmethod
    async def _answer(kind: str, sent: set[str], send: Any) -> None:
        if kind == "websocket":
            if "websocket.close" not in sent:
                await send({"type": "websocket.close", "code": Close.INTERNAL_ERROR})
        elif "http.response.start" not in sent:
            body = json.dumps(error_body("internal_error", "The relay failed to answer.")).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif "http.response.body" not in sent:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
