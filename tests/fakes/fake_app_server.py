"""A small stand-in for `codex app-server`: the JSONL protocol, initialize handshake,
threads and turns, a burst of streaming deltas, and an approval request, for the agent's
unit tests. Usage: python fake_app_server.py app-server"""

from __future__ import annotations

import json
import sys
import threading

write_lock = threading.Lock()
approvals = iter(range(1000))


def send(message: dict) -> None:
    with write_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def notify(method: str, params: dict) -> None:
    send({"method": method, "params": params})


def run_turn(thread_id: str, text: str) -> None:
    turn = {"id": "turn-1", "status": "inProgress", "items": []}
    notify("turn/started", {"threadId": thread_id, "turn": turn})
    if text.startswith("ask:"):  # a server request of the method named
        send(
            {
                "id": next(approvals),
                "method": text[4:],
                "params": {"threadId": thread_id, "turnId": "turn-1", "detail": "from the fake"},
            }
        )
        return
    if text == "approve":
        send(
            {
                "id": next(approvals),
                "method": "item/commandExecution/requestApproval",
                "params": {"threadId": thread_id, "turnId": "turn-1", "command": "ls"},
            }
        )
        return
    for n in range(100):
        notify(
            "item/agentMessage/delta",
            {"threadId": thread_id, "turnId": "turn-1", "itemId": "msg-1", "delta": f"{n},"},
        )
    notify("turn/completed", {"threadId": thread_id, "turn": {**turn, "status": "completed"}})


def main() -> None:
    for line in sys.stdin:
        message = json.loads(line)
        method, request_id = message.get("method"), message.get("id")
        params = message.get("params") or {}
        if method is None:  # the answer to an approval request
            answered = {"requestId": request_id, "result": message.get("result")}
            if "error" in message:
                answered["error"] = message["error"]
            notify("fake/answered", answered)
        elif method == "initialize":
            send({"id": request_id, "result": {"userAgent": "fake/0.0.0"}})
        elif method == "thread/start":
            send({"id": request_id, "result": {"thread": {"id": "thr-1"}, "params": params}})
        elif method == "turn/start":
            send({"id": request_id, "result": {"turn": {"id": "turn-1"}}})
            text = params["input"][0]["text"]
            threading.Thread(target=run_turn, args=(params["threadId"], text)).start()
        elif method == "crash":
            sys.exit(3)
        elif request_id is not None:
            send({"id": request_id, "error": {"code": -32600, "message": f"unknown {method}"}})


if __name__ == "__main__":
    main()
