"""A local stand-in for the OpenAI Responses API, enough to drive the real
`codex app-server` offline (see shared docs, codex-app-server.md §6).

The reply depends on the newest user message:
- `[shell:CMD]` asks to run CMD with escalated permissions (a command approval);
- `[ask]` asks the person two questions through the request_user_input tool;
- `[patch:NAME:TEXT]` asks to add file NAME containing TEXT (a file-change approval);
- `[permissions]` asks for more permissions through the request_permissions tool;
- `[mcp:SERVER:TOOL]` calls TOOL of an MCP server (see mcp_server.py);
- `[slow]` streams a long answer slowly (for steering and interrupting), a chunk every
  0.25 s, and `[slow:SECONDS]` at another pace (a fault test needs only a turn that is
  still streaming when the fault strikes);
- anything else gets "Hello from the fake model." in a few deltas.
After a tool call, the next request (carrying its output) gets "Done." as the answer.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GREETING = ["Hello ", "from the ", "fake model."]
# What "[markdown]" answers: the Markdown a real model writes, streamed in pieces that
# split its marks, plus raw HTML a page must never run.
MARKDOWN = [
    "**Looking at** the `src` folder.\n\n",
    "```python\ndef greet():\n    return 'hi'\n```\n\n",
    "- one\n- two\n\nSee [the docs](https://example.com/docs) ",
    'and <img src=x onerror="window.injected=1"> <b>raw</b>. ',
    "[run](javascript:window.injected=2) [page](data:text/html,hi)",
]


# What "[ask]" asks the person, through Codex's request_user_input tool.
QUESTIONS = [
    {
        "id": "colour",
        "header": "Colour",
        "question": "Which colour should the button be?",
        "options": [
            {"label": "Blue", "description": "calm, like the rest"},
            {"label": "Red", "description": "stands out"},
        ],
    },
    {
        "id": "name",
        "header": "Name",
        "question": "What should the button say?",
        "options": [{"label": "Save", "description": "the usual"}],
    },
]


# What "[permissions]" asks for, through Codex's request_permissions tool (a feature that
# write_codex_home turns on).
PERMISSIONS_ASKED = {
    "permissions": {
        "file_system": {"read": ["/srv/data/in"], "write": ["/srv/data/out", "/srv/data/tmp"]},
        "network": {"enabled": True},
    },
    "justification": "to fetch the data",
}


def _sse(kind: str, payload: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()


def _latest_user_text(items: list[dict[str, Any]]) -> str:
    for item in reversed(items):
        if item.get("type") == "message" and item.get("role") == "user":
            texts = [c.get("text", "") for c in item.get("content", []) if isinstance(c, dict)]
            return "\n".join(texts)
    return ""


class Handler(BaseHTTPRequestHandler):
    server: FakeResponses

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        # Codex may go away mid-answer (a test interrupted or killed it).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(body)
        items = body.get("input", [])
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        number = len(self.server.requests)
        self._send("response.created", {"response": {"id": f"resp-{number}"}})
        if items and items[-1].get("type") == "function_call_output":
            self._message(number, ["Done."])
        else:
            self._reply(number, _latest_user_text(items))
        self._send(
            "response.completed",
            {
                "response": {
                    "id": f"resp-{number}",
                    "usage": {
                        "input_tokens": 10,
                        "input_tokens_details": None,
                        "output_tokens": 5,
                        "output_tokens_details": None,
                        "total_tokens": 15,
                    },
                }
            },
        )

    def _send(self, kind: str, payload: dict[str, Any]) -> None:
        self.wfile.write(_sse(kind, payload))
        self.wfile.flush()

    def _reply(self, number: int, text: str) -> None:
        shell = re.search(r"\[shell:(.+?)\]", text)
        patch = re.search(r"\[patch:([^:\]]+):(.*?)\]", text)
        mcp = re.search(r"\[mcp:(\w+):(\w+)\]", text)
        slow = re.search(r"\[slow(?::(\d+(?:\.\d+)?))?\]", text)
        if shell:
            self._tool_call(number, shell.group(1))
        elif patch:
            name, content = patch.groups()
            command = (
                f"apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: {name}\n+{content}\n"
                "*** End Patch\nEOF\n"
            )
            self._tool_call(number, command)
        elif mcp:
            server, tool = mcp.groups()
            self._function_call(number, tool, {}, namespace=f"mcp__{server}")
        elif "[ask]" in text:
            self._function_call(number, "request_user_input", {"questions": QUESTIONS})
        elif "[permissions]" in text:
            self._function_call(number, "request_permissions", PERMISSIONS_ASKED)
        elif "[markdown]" in text:
            self._message(number, MARKDOWN)
        elif slow:
            pause = float(slow.group(1) or 0.25)
            self._message(number, [f"chunk {n} " for n in range(60)], pause=pause)
        else:
            self._message(number, GREETING)

    def _tool_call(self, number: int, command: str) -> None:
        arguments = {
            "cmd": command,
            "yield_time_ms": 2000,
            "sandbox_permissions": "require_escalated",
            "justification": "The test asks for it.",
        }
        self._function_call(number, "exec_command", arguments)

    def _function_call(
        self, number: int, name: str, arguments: dict[str, Any], namespace: str | None = None
    ) -> None:
        item = {
            "type": "function_call",
            "call_id": f"call-{number}",
            "name": name,
            "arguments": json.dumps(arguments),
            # MCP tools reach the model grouped per server, as a namespace of functions.
            **({"namespace": namespace} if namespace else {}),
        }
        self._send("response.output_item.done", {"item": item})

    def _message(self, number: int, parts: list[str], pause: float = 0.0) -> None:
        item_id = f"msg-{number}"
        self._send(
            "response.output_item.added",
            {"item": {"type": "message", "role": "assistant", "id": item_id, "content": []}},
        )
        for part in parts:
            if pause:
                time.sleep(pause)
            self._send("response.output_text.delta", {"item_id": item_id, "delta": part})
        done = {
            "type": "message",
            "role": "assistant",
            "id": item_id,
            "content": [{"type": "output_text", "text": "".join(parts)}],
        }
        self._send("response.output_item.done", {"item": done})


class FakeResponses(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> FakeResponses:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


MCP_SERVER = Path(__file__).with_name("mcp_server.py")


def write_codex_home(home: Any, base_url: str, *, mcp: bool = False) -> None:
    """A private CODEX_HOME whose config points codex at the fake server, offline; with
    mcp, Codex also starts the local MCP server (mcp_server.py) as "release"."""
    home.mkdir(parents=True, exist_ok=True)
    servers = (
        f"\n[mcp_servers.release]\ncommand = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(MCP_SERVER))}]\n"
        if mcp
        else ""
    )
    (home / "config.toml").write_text(
        f"""model = "fake-model"
model_provider = "fake"
approval_policy = "on-request"
sandbox_mode = "read-only"
check_for_update_on_startup = false
# request_permissions_tool is how the model asks for permissions; it is still marked as
# under development, and Codex warns on every thread unless told not to.
suppress_unstable_features_warning = true

[model_providers.fake]
name = "Fake local provider"
base_url = "{base_url}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 20000

[features]
plugins = false
apps = false
request_permissions_tool = true

[analytics]
enabled = false
{servers}"""
    )
