"""Serve the relay: Daphne, with what the relay needs of it by default (SPEC §7).

- A WebSocket message may be larger than the relay's own frame limit (MAX_FRAME_BYTES),
  so that the relay's check runs first and answers with close 1009, instead of the
  server dropping the connection without a close frame.
- The access log never carries a query string: setup links carry a flow id and its code.
- The garbage collector does not pause the process for seconds as sockets pile up
  (codexpanel.heap).

`manage.py dev` runs the development server on the same RelayServer.

Usage: python -m codexpanel.serve [daphne options]   (the application is implied)
"""

from __future__ import annotations

import re
import sys
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol

from agent.protocol import Close

from . import heap
from .logs import SERVER_MESSAGE_BYTES, without_query

APPLICATION = "codexpanel.asgi:application"
SIZE_OPTIONS = ("--websocket-max-message-size", "--websocket-max-frame-size")
# module.path:attribute — not an endpoint string such as tcp:8000 or unix:/run/relay.sock.
ASGI_PATH = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+:[A-Za-z_]\w*")


class RedactedAccessLog:
    """Daphne's access log, less every query string."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        if "path" in details:
            details = {**details, "path": without_query(details["path"])}
        self.inner(protocol, action, details)


class RelayWebSocketProtocol(WebSocketProtocol):
    def serverClose(self, code: int | None = None) -> None:
        # Autobahn lets an application close only with 1000 or 3000-4999, but "message too
        # big" is a protocol code (RFC 6455 §7.4.1) the relay means exactly when it says it.
        if code == Close.MESSAGE_TOO_BIG:
            self.sendCloseFrame(code=code, isReply=False)
            return
        super().serverClose(code)


class RelayServer(Server):
    def __init__(self, *args: Any, action_logger: Any = None, **kwargs: Any) -> None:
        logger = RedactedAccessLog(action_logger) if action_logger else None
        super().__init__(*args, action_logger=logger, **kwargs)

    def run(self) -> None:
        heap.settle()  # the application is loaded: what is on the heap now stays
        super().run()

    # Daphne makes its WebSocket factory when it starts: the relay's protocol goes in, and a
    # message over the server's own limit is refused by a closing handshake (1009), not
    # by dropping the TCP connection.
    @property
    def ws_factory(self) -> Any:
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: Any) -> None:
        factory.protocol = RelayWebSocketProtocol
        factory.setProtocolOptions(failByDrop=False)
        self._ws_factory = factory


class RelayCommandLine(CommandLineInterface):
    server_class = RelayServer


def arguments(given: list[str]) -> list[str]:
    """Daphne's arguments: the operator's, the size defaults unless overridden, and the
    relay's application unless one is named."""
    extra: list[str] = []
    for option in SIZE_OPTIONS:
        if not any(arg == option or arg.startswith(f"{option}=") for arg in given):
            extra += [option, str(SERVER_MESSAGE_BYTES)]
    if not any(ASGI_PATH.fullmatch(arg) for arg in given):
        extra.append(APPLICATION)
    return [*given, *extra]


def main(argv: list[str] | None = None) -> None:
    RelayCommandLine().run(arguments(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
