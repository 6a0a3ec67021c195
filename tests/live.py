"""Real relay processes on loopback, and the clients that talk to them the way browsers do:
shared by the tests that cross process boundaries."""

from __future__ import annotations

import atexit
import http.client
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from .conftest import PASSWORD, port_open

ROOT = Path(__file__).resolve().parent.parent

SETUP = """
import django, json
django.setup()
from accounts.models import User
from devices.actions import bind_device, mint_device_token
user = User.objects.create_user("ada", %r)
minted = mint_device_token()
device = bind_device(owner=user, device_id=%r, name="desk", platform="linux",
    agent_version="0.2.0", workspace="/w", token_hash=minted.digest,
    token_hint=minted.plaintext[:12], bound_by=user, allow_rebind=True).device
print(json.dumps({"token": minted.plaintext, "deviceId": device.device_id}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Relay:
    """A relay deployment: one database, one channel layer, any number of Daphne
    processes."""

    def __init__(self, database_url: str, redis_url: str = "", log_dir: Path | None = None) -> None:
        self.log_dir = log_dir
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DJANGO_SETTINGS_MODULE": "tests.relay_settings",
            "DEBUG": "false",
            "CODEXPANEL_SESSION_SECRET": "live-" + "x" * 60,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database_url,
            "CODEXPANEL_SECURE_SSL_REDIRECT": "false",
            "CODEXPANEL_SECURE_COOKIES": "false",
            "CODEXPANEL_HSTS_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
        }
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.processes: list[subprocess.Popen[str]] = []
        self.hosts: list[str] = []
        # A SQLite file that is still a plain copy of the migrated template (sqlite_relay):
        # until something else writes to it, a paired device can be copied in whole.
        self.untouched_copy: Path | None = None

    def python(self, code: str) -> str:
        self.untouched_copy = None
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def migrate(self) -> None:
        self.untouched_copy = None
        done = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr

    def user(self, username: str = "ada") -> None:
        self.python(
            "import django; django.setup()\n"
            "from accounts.models import User\n"
            f"User.objects.create_user({username!r}, {PASSWORD!r})"
        )

    def paired_device(self, device_id: str = "live-desk-000001") -> dict[str, str]:
        """User ada (password PASSWORD) and a device of hers: its id and token."""
        if self.untouched_copy is not None:
            database, self.untouched_copy = self.untouched_copy, None
            template, paired = _paired_sqlite(device_id)
            shutil.copyfile(template, database)
            return dict(paired)
        return json.loads(self.python(SETUP % (PASSWORD, device_id)))

    def start(self, port: int | None = None, *options: str) -> str:
        """Start one more relay process (options: more of Daphne's); returns its host."""
        self.untouched_copy = None
        port = port or free_port()
        # The relay's own warnings are kept where asked, so a failing test can show them.
        log = open(self.log_dir / f"relay-{port}.log", "a") if self.log_dir else None  # noqa: SIM115
        process = subprocess.Popen(
            # As an operator runs it (README): Daphne through codexpanel.serve.
            [
                sys.executable,
                *("-m", "codexpanel.serve", "-b", "127.0.0.1", "-p", str(port)),
                *options,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=log or subprocess.DEVNULL,
            text=True,
        )
        if log is not None:
            log.close()
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port):
            assert process.poll() is None, "daphne exited"
            assert time.monotonic() < deadline, "daphne did not start"
            time.sleep(0.1)
        host = f"127.0.0.1:{port}"
        self.hosts.append(host)
        return host

    def kill(self, host: str) -> None:
        index = self.hosts.index(host)
        process = self.processes[index]
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


_migrated: Path | None = None


def _migrated_sqlite() -> Path:
    """An empty, migrated SQLite database, made once per test process: each relay starts
    from a copy, which costs a file copy instead of running every migration again."""
    global _migrated
    if _migrated is None or not _migrated.exists():
        template = Path(tempfile.mkdtemp(prefix="codexpanel-relay-")) / "migrated.sqlite3"
        Relay(f"sqlite:///{template}").migrate()
        atexit.register(shutil.rmtree, template.parent, ignore_errors=True)
        _migrated = template
    return _migrated


_paired: dict[str, tuple[Path, dict[str, str]]] = {}


def _paired_sqlite(device_id: str) -> tuple[Path, dict[str, str]]:
    """The migrated database with ada and her device already in it, made once per test
    process and device id: pairing in a Django process of its own costs seconds per test,
    a copy milliseconds. Tests of one process share the token, each in its own copy."""
    if device_id not in _paired or not _paired[device_id][0].exists():
        migrated = _migrated_sqlite()
        template = migrated.with_name(f"paired-{device_id}.sqlite3")
        shutil.copyfile(migrated, template)
        relay = Relay(f"sqlite:///{template}")
        _paired[device_id] = (template, json.loads(relay.python(SETUP % (PASSWORD, device_id))))
    return _paired[device_id]


@contextmanager
def sqlite_relay(
    tmp_path: Path, env: dict[str, str] | None = None, name: str = "relay", redis_url: str = ""
) -> Iterator[Relay]:
    database = tmp_path / f"{name}.sqlite3"
    shutil.copyfile(_migrated_sqlite(), database)
    relay = Relay(f"sqlite:///{database}", redis_url)
    relay.env.update(env or {})
    relay.untouched_copy = database
    try:
        yield relay
    finally:
        relay.stop()


class Browser:
    """A signed-in browser on one relay process: JSON API and an EventSource."""

    def __init__(self, host: str, username: str = "ada") -> None:
        self.host = host
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.call("GET", "/api/iam/auth/status")  # sets the CSRF cookie
        self.call("POST", "/api/iam/auth/login", {"username": username, "password": PASSWORD})

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Content-Type": "application/json", "Origin": f"http://{self.host}"}
        if method == "POST":
            # Signing in rotates the CSRF token, so read it fresh, as a page would.
            headers["X-CSRFToken"] = self.cookie("csrftoken")
        request = urllib.request.Request(
            f"http://{self.host}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers=headers,
        )
        with self.opener.open(request, timeout=60) as response:
            return json.loads(response.read())

    def call_status(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Like call, but an HTTP error answers (status, its JSON body) instead of raising."""
        try:
            return 200, self.call(method, path, body)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def upload(self, path: str, name: str, data: bytes, content_type: str) -> Any:
        """POST one file as multipart/form-data field `image`, as a page's form would."""
        boundary = "codexpanel-test-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
                f'filename="{name}"\r\nContent-Type: {content_type}\r\n\r\n'
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            f"http://{self.host}{path}",
            method="POST",
            data=body,
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Origin": f"http://{self.host}",
                "X-CSRFToken": self.cookie("csrftoken"),
            },
        )
        with self.opener.open(request, timeout=60) as response:
            return json.loads(response.read())

    def command(self, device_id: str, name: str, wait: float = 30, **params: Any) -> Any:
        """Send a command and wait for its result."""
        base = f"/api/devices/{device_id}/commands"
        issued = self.call("POST", base, {"name": name, "params": params})
        return self.call("GET", f"{base}/{issued['commandId']}?wait={wait:g}")

    def stream(self, last_event_id: int | None = None) -> EventSource:
        return EventSource(self.host, self.cookie("codexpanel_session"), last_event_id)


def sse_records(
    response: http.client.HTTPResponse, before_line: Callable[[], object] = lambda: None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(id, event) for each record of an /events response, until the stream ends. It reads
    through the response, which decodes the chunked body and sees its end, not the raw
    socket; before_line runs before each line is read (a test pausing the reader)."""
    fields: dict[str, str] = {}
    while True:
        before_line()
        raw = response.readline()
        if not raw:
            return
        line = raw.decode().rstrip("\n")
        if not line:
            if "data" in fields:
                yield int(fields["id"]), json.loads(fields["data"])
            fields = {}
        elif ": " in line and not line.startswith(":"):
            key, value = line.split(": ", 1)
            fields[key] = value


class EventSource:
    def __init__(self, host: str, session: str, last_event_id: int | None) -> None:
        self.events: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
        self.connection = http.client.HTTPConnection(host, timeout=120)
        headers = {"Cookie": f"codexpanel_session={session}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.connection.request("GET", "/events", headers=headers)
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for record in sse_records(self.response):
                self.events.put(record)
        except (OSError, ValueError, AttributeError):
            # close() from another thread pulls the socket from under the read: the end.
            return

    def agent_events(self, count: int) -> list[tuple[int, dict[str, Any]]]:
        found: list[tuple[int, dict[str, Any]]] = []
        while len(found) < count:
            position, event = self.events.get(timeout=20)
            if event["source"] == "agent":
                found.append((position, event))
        return found

    def until(self, predicate: Any, timeout: float = 60) -> list[dict[str, Any]]:
        """Every event up to and including the first that satisfies predicate."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"gave up waiting; saw {[e['eventType'] for e in seen]}"
            _position, event = self.events.get(timeout=remaining)
            seen.append(event)
            if predicate(event):
                return seen

    def close(self) -> None:
        self.connection.sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()
