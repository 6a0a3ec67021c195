"""A tiny MCP server over stdio (newline-delimited JSON-RPC 2.0), for Codex to start from
its config: its tools ask the person through MCP elicitation and return what came back.

- `fill_form` elicits FORM_SCHEMA (a string, an integer, a number, a boolean, an enum;
  some required) in form mode;
- `open_link` elicits in URL mode, with LINK as the page to open.

Each tool's result is the elicitation's answer as JSON text, so a test can read what
Codex received from the model's next request. Run as `python mcp_server.py`.
"""

from __future__ import annotations

import itertools
import json
import sys
from typing import Any

FORM_MESSAGE = "Where should the release go?"
FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "channel": {
            "type": "string",
            "title": "Channel",
            "enum": ["stable", "beta"],
            "enumNames": ["Stable", "Beta"],
        },
        "note": {"type": "string", "title": "Release note", "maxLength": 200},
        "replicas": {"type": "integer", "title": "Replicas", "minimum": 1, "maximum": 9},
        "ratio": {"type": "number", "title": "Traffic share", "minimum": 0, "maximum": 1},
        "notify": {"type": "boolean", "title": "Tell the team", "default": True},
    },
    "required": ["channel", "replicas"],
}
LINK = "https://example.com/authorize?session=42"
LINK_MESSAGE = "Sign in to the deploy service to continue."

TOOLS = [
    {
        "name": "fill_form",
        "description": "Ask the person where the release goes.",
        "inputSchema": {"type": "object", "properties": {}},
    },
    {
        "name": "open_link",
        "description": "Ask the person to sign in on a web page.",
        "inputSchema": {"type": "object", "properties": {}},
    },
]


class Server:
    def __init__(self) -> None:
        self.ids = itertools.count(1)

    def send(self, message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        sys.stdout.flush()

    def ask(self, params: dict[str, Any]) -> dict[str, Any]:
        """Send an elicitation to the client and wait for its answer, handling nothing
        else meanwhile (Codex sends nothing else while a tool call waits)."""
        request_id = next(self.ids)
        self.send({"id": request_id, "method": "elicitation/create", "params": params})
        for line in sys.stdin:
            message = json.loads(line)
            if message.get("id") == request_id and "method" not in message:
                return message.get("result") or {"error": message.get("error")}
        raise SystemExit(0)

    def call(self, name: str) -> dict[str, Any]:
        if name == "fill_form":
            answer = self.ask(
                {"mode": "form", "message": FORM_MESSAGE, "requestedSchema": FORM_SCHEMA}
            )
        elif name == "open_link":
            answer = self.ask(
                {
                    "mode": "url",
                    "message": LINK_MESSAGE,
                    "url": LINK,
                    "elicitationId": "sign-in-42",
                }
            )
        else:
            return {"content": [{"type": "text", "text": f"no tool {name}"}], "isError": True}
        return {"content": [{"type": "text", "text": "elicited " + json.dumps(answer)}]}

    def handle(self, message: dict[str, Any]) -> None:
        method, request_id = message.get("method"), message.get("id")
        if request_id is None:
            return  # notifications (initialized, cancelled) need no answer
        if method == "initialize":
            result: dict[str, Any] = {
                "protocolVersion": message["params"].get("protocolVersion", "2025-06-18"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "release-desk", "version": "1.0.0"},
            }
        elif method == "tools/list":
            result = {"tools": TOOLS}
        elif method == "tools/call":
            result = self.call(message["params"]["name"])
        elif method == "ping":
            result = {}
        else:
            self.send({"id": request_id, "error": {"code": -32601, "message": "not here"}})
            return
        self.send({"id": request_id, "result": result})

    def serve(self) -> None:
        for line in sys.stdin:
            if line.strip():
                self.handle(json.loads(line))


if __name__ == "__main__":
    Server().serve()
