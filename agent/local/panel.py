"""The local panel (SPEC AGT-6): the agent's state and a few fixed actions, on 127.0.0.1,
for people who do not use a terminal. Every request needs the panel token; the Host header
must name the loopback address, so a web page cannot reach the panel by rebinding DNS."""

from __future__ import annotations

import hmac
import html
import json
import secrets
import threading
import urllib.request
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .. import __version__

if TYPE_CHECKING:
    from ..runtime.host import HostRuntime

ACTIONS = ("reconnect", "restart_agent", "restart_codex", "open_console", "open_logs")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def status(runtime: HostRuntime, paths: dict[str, str]) -> dict[str, Any]:
    wss = runtime.client.status
    control = runtime.control_state
    if wss["state"] == "refused":
        advice = "The relay refused this device; run the installer again to pair it."
    elif wss["state"] != "connected":
        advice = "Waiting for the relay; check the network. The agent keeps retrying."
    elif runtime.codex_status.state != "running":
        advice = "Codex is not running; use Restart Codex, or check the Codex log."
    else:
        advice = "All good: use the console on your phone."
    return {
        "agentVersion": __version__,
        "installStep": "running",
        "relay": runtime.settings.relay_url,
        "device": {"deviceWssUrl": runtime.settings.device_wss_url},
        "workspace": runtime.settings.workspace,
        "workMode": control.get("workMode"),
        "permissions": {
            key: control.get(key)
            for key in ("permissionPreset", "sandbox", "approvalPolicy", "approvalsReviewer")
        },
        "lastHeartbeatAt": wss.get("lastHeartbeatAt"),
        "lastHeartbeatError": wss.get("lastHeartbeatError"),
        "wss": {"state": wss["state"], "lastCloseCode": wss.get("lastCloseCode")},
        "codex": {
            "stdioBridge": runtime.codex_status.state,
            "error": runtime.codex_status.error,
            "version": runtime.codex_status.version,
            "versionNote": runtime.codex_status.version_note,
            "notices": list(runtime.codex_status.notices),
        },
        "pendingEvents": runtime.outbox.count(),
        "logPath": paths.get("log", ""),
        "helperPaths": paths,
        "nextStep": advice,
    }


def local_status(settings: dict[str, Any], timeout: float = 3) -> dict[str, Any] | None:
    """What the running agent's panel reports (its address and token are in the config),
    or None when it does not answer."""
    panel = settings.get("panel") or {}
    if not panel.get("port") or not panel.get("token"):
        return None
    request = urllib.request.Request(
        f"http://127.0.0.1:{int(panel['port'])}/api/status",
        headers={"X-Panel-Token": str(panel["token"])},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return json.loads(answer.read())
    except (OSError, ValueError):
        return None


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>codexpanel agent</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem}}
dt{{color:#555}}dd{{margin:0 0 .5rem}}button{{min-height:2.5rem;margin:.25rem}}</style></head>
<body><h1>codexpanel agent / 电脑端 agent</h1><dl id="status"></dl>
<p>
<button data-action="reconnect">Reconnect / 重新连接</button>
<button data-action="restart_codex">Restart Codex / 重启 Codex</button>
<button data-action="restart_agent">Restart agent / 重启 agent</button>
<button data-action="open_console">Open console / 打开控制台</button>
<button data-action="open_logs">Open logs / 打开日志</button>
</p><p id="result" role="status"></p>
<script>
const token = {token};
const headers = {{"X-Panel-Token": token, "Content-Type": "application/json"}};
async function refresh() {{
  const status = await (await fetch("/api/status", {{headers}})).json();
  const list = document.getElementById("status");
  list.replaceChildren();
  for (const [key, value] of Object.entries(status)) {{
    const term = document.createElement("dt"); term.textContent = key;
    const detail = document.createElement("dd");
    detail.textContent = typeof value === "object" ? JSON.stringify(value) : String(value);
    list.append(term, detail);
  }}
}}
for (const button of document.querySelectorAll("button")) {{
  button.addEventListener("click", async () => {{
    const answer = await fetch("/api/action", {{method: "POST", headers,
      body: JSON.stringify({{action: button.dataset.action}})}});
    document.getElementById("result").textContent = (await answer.json()).message;
    setTimeout(refresh, 1000);
  }});
}}
refresh(); setInterval(refresh, 5000);
</script></body></html>"""


class Panel:
    def __init__(self, runtime: HostRuntime, token: str, paths: dict[str, str], port: int = 0):
        self.runtime = runtime
        self.token = token
        self.paths = paths
        panel = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                panel.handle(self, "GET")

            def do_POST(self) -> None:
                panel.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, name="panel", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- requests -------------------------------------------------------------------------

    def _reply(self, request: BaseHTTPRequestHandler, code: int, body: Any, kind: str) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        request.send_response(code)
        request.send_header("Content-Type", kind)
        request.send_header("Cache-Control", "no-store")
        request.send_header("X-Content-Type-Options", "nosniff")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _authorized(self, request: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> bool:
        presented = request.headers.get("X-Panel-Token") or query.get("token", [""])[0]
        return hmac.compare_digest(presented.encode(), self.token.encode())

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        host = (request.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost"):
            self._reply(request, 403, {"error": "bad_host"}, "application/json")
            return
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        if not self._authorized(request, query):
            self._reply(request, 401, {"error": "panel_token_required"}, "application/json")
            return
        if method == "GET" and url.path == "/":
            page = PAGE.format(token=json.dumps(html.escape(self.token)))
            self._reply(request, 200, page, "text/html; charset=utf-8")
        elif method == "GET" and url.path == "/api/status":
            self._reply(request, 200, status(self.runtime, self.paths), "application/json")
        elif method == "POST" and url.path == "/api/action":
            length = min(int(request.headers.get("Content-Length") or 0), 4096)
            try:
                action = json.loads(request.rfile.read(length) or b"{}").get("action")
            except (ValueError, AttributeError):
                action = None
            if action not in ACTIONS:
                self._reply(request, 400, {"error": "unknown_action"}, "application/json")
                return
            message = self.act(action)
            self._reply(request, 200, {"action": action, "message": message}, "application/json")
        else:
            self._reply(request, 404, {"error": "not_found"}, "application/json")

    def act(self, action: str) -> str:
        runtime = self.runtime
        if action == "reconnect":
            runtime.client.reconnect()
            return "Reconnecting to the relay / 正在重新连接"
        if action == "restart_codex":
            runtime.restart_codex_soon("requested from the local panel")
            return "Restarting Codex / 正在重启 Codex"
        if action == "restart_agent":
            runtime.soon(runtime.reexec)
            return "Restarting the agent / 正在重启 agent"
        if action == "open_console":
            webbrowser.open(f"{runtime.settings.relay_url}/console/")
            return "Opening the console / 正在打开控制台"
        log = self.paths.get("log", "")
        webbrowser.open(Path(log).parent.as_uri() if log else "")
        return f"Logs: {log}"
