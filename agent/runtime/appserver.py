"""The `codex app-server` child process: JSON-RPC-like messages, one per line, over stdio.

Three kinds of message come back: responses to our requests (matched by id), notifications,
and the server's own requests (approvals), which carry an id from the server's separate
counter and wait for our answer. A reader thread sorts them; callers block only on their
own request's answer.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import IO, Any

from .. import __version__

log = logging.getLogger(__name__)

Notification = Callable[[str, dict[str, Any]], None]
ServerRequest = Callable[[Any, str, dict[str, Any]], None]
Exited = Callable[[int | None], None]


class AppServerError(Exception):
    """An error answer from app-server, or the process being gone."""

    def __init__(self, code: int | str, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class AppServer:
    def __init__(
        self,
        codex_path: str,
        *,
        cwd: str | Path | None = None,
        env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        on_notification: Notification | None = None,
        on_request: ServerRequest | None = None,
        on_exit: Exited | None = None,
        stderr_path: Path | None = None,
        experimental: bool = False,
    ) -> None:
        self.codex_path = codex_path
        self.cwd = str(cwd) if cwd else None
        self.env = env
        self.extra_args = extra_args or []
        self.on_notification = on_notification or (lambda method, params: None)
        self.on_request = on_request or (lambda request_id, method, params: None)
        self.on_exit = on_exit or (lambda code: None)
        self.stderr_path = stderr_path
        self.experimental = experimental
        self.process: subprocess.Popen[bytes] | None = None
        self.ids = itertools.count(1)
        self.pending: dict[int, Future[Any]] = {}
        self.write_lock = threading.Lock()
        self.initialize_result: dict[str, Any] = {}

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 60) -> dict[str, Any]:
        """Spawn app-server and run the initialize handshake."""
        stderr: IO[bytes] | int = subprocess.DEVNULL
        if self.stderr_path is not None:
            self.stderr_path.parent.mkdir(parents=True, exist_ok=True)
            stderr = self.stderr_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - the user's own codex binary
            [self.codex_path, "app-server", *self.extra_args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=self.cwd,
            env={**os.environ, **(self.env or {})},
            # Its own process group: `codex` is often a Node wrapper around the real
            # binary, and when the wrapper dies the binary must go with it.
            start_new_session=os.name == "posix",
        )
        if stderr is not subprocess.DEVNULL:
            stderr.close()
        threading.Thread(target=self._read, name="app-server-reader", daemon=True).start()
        threading.Thread(target=self._watch, name="app-server-watch", daemon=True).start()
        try:
            self._initialize(timeout)
        except AppServerError:
            self.stop()  # a child that never answered must not linger
            raise
        return self.initialize_result

    def _initialize(self, timeout: float) -> None:
        self.initialize_result = self.request(
            "initialize",
            {
                "clientInfo": {"name": "codexpanel", "title": "codexpanel", "version": __version__},
                "capabilities": {"experimentalApi": self.experimental},
            },
            timeout=timeout,
        )
        self.notify("initialized")

    def request(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 60
    ) -> Any:
        request_id = next(self.ids)
        future: Future[Any] = Future()
        self.pending[request_id] = future
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            self._write(message)
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise AppServerError("timeout", f"{method} got no answer in {timeout:g} s") from None
        finally:
            self.pending.pop(request_id, None)

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"method": method}
        if params is not None:
            message["params"] = params
        self._write(message)

    def respond(self, request_id: Any, result: Any) -> None:
        self._write({"id": request_id, "result": result})

    def respond_error(self, request_id: Any, code: int, message: str) -> None:
        self._write({"id": request_id, "error": {"code": code, "message": message}})

    def stop(self, timeout: float = 5) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            if process.stdin:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        self._kill_group(process)

    @staticmethod
    def _kill_group(process: subprocess.Popen[bytes]) -> None:
        if os.name == "posix":
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)

    # --- internals ------------------------------------------------------------------------

    def _write(self, message: dict[str, Any]) -> None:
        if not self.running or self.process is None or self.process.stdin is None:
            raise AppServerError("not_running", "codex app-server is not running")
        line = json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n"
        with self.write_lock:
            try:
                self.process.stdin.write(line.encode())
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError) as exc:
                raise AppServerError("not_running", f"codex app-server went away: {exc}") from exc

    def _read(self) -> None:
        process = self.process
        if process is None or process.stdout is None:
            return
        for raw in process.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                log.warning("app-server wrote a line that is not JSON: %r", raw[:200])
                continue
            try:
                self._dispatch(message)
            except Exception:
                log.exception("handling an app-server message failed")

    def _watch(self) -> None:
        """Notice the process ending even if a child it left behind holds stdout open."""
        process = self.process
        if process is None:
            return
        code = process.wait()
        self._kill_group(process)
        gone = AppServerError("exited", f"codex app-server exited with code {code}")
        for future in list(self.pending.values()):
            if not future.done():
                future.set_exception(gone)
        self.on_exit(code)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" not in message:
            future = self.pending.get(message.get("id"))  # type: ignore[arg-type]
            if future is None or future.done():
                return
            if "error" in message:
                error = message["error"] or {}
                future.set_exception(
                    AppServerError(
                        error.get("code", "error"), error.get("message", ""), error.get("data")
                    )
                )
            else:
                future.set_result(message.get("result"))
        elif "id" in message:
            self.on_request(message["id"], message["method"], message.get("params") or {})
        else:
            self.on_notification(message["method"], message.get("params") or {})
