"""What the benchmarks share: a deployment of relay processes on a fresh database, devices
simulated over the real Agent Protocol, a signed-in browser on a keep-alive connection,
percentiles, and the results file."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import platform
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import PASSWORD  # noqa: E402
from tests.live import Relay  # noqa: E402

RESULTS = ROOT / "docs" / "BENCHMARKS.md"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/2"

DEVICES = """
import django, json, sys
django.setup()
from accounts.models import User
from devices.actions import bind_device, mint_device_token
user = User.objects.create_user("ada", %r)
tokens = []
for n in range(%d):
    minted = mint_device_token()
    bind_device(owner=user, device_id=f"bench-device-{n:05d}", name=f"bench {n}",
        platform="linux", agent_version="0.2.0", workspace="/w", token_hash=minted.digest,
        token_hint=minted.plaintext[:12], bound_by=user, allow_rebind=True)
    tokens.append(minted.plaintext)
print(json.dumps(tokens))
"""


def fresh_postgres(name: str) -> str:
    """A new, empty database on the local server, so every run starts alike."""
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"{POSTGRES}/{name}"


@contextmanager
def deployment(database: str, tmp: Path, relays: int = 1) -> Iterator[tuple[Relay, list[str]]]:
    """Relay processes on one database: PostgreSQL + Redis, or the embedded SQLite."""
    if database == "postgres":
        relay = Relay(fresh_postgres("codexpanel_bench"), REDIS)
    else:
        relay = Relay(f"sqlite:///{tmp / 'bench.sqlite3'}")
    relay.env["CODEXPANEL_COMMANDS_IN_FLIGHT"] = "1000"
    # Measured as deployed: the production settings, PBKDF2 and all.
    relay.env["DJANGO_SETTINGS_MODULE"] = "codexpanel.settings"
    relay.migrate()
    try:
        hosts = [relay.start() for _ in range(relays)]
        yield relay, hosts
    finally:
        relay.stop()


def make_devices(relay: Relay, count: int) -> list[str]:
    return json.loads(relay.python(DEVICES % (PASSWORD, count)))


# --- simulated devices -------------------------------------------------------------------


def hello(token: str) -> str:
    return json.dumps(
        {
            "type": "device.hello",
            "protocolVersion": 1,
            "agentVersion": "0.2.0",
            "token": token,
            "provider": {"transport": "bench://"},
            "capabilities": {},
        }
    )


class Devices:
    """Simulated devices on one event loop in a background thread: each says hello, keeps
    its heartbeats, answers every command at once, and can stream agent events."""

    def __init__(self, host: str, tokens: list[str]) -> None:
        self.url = f"ws://{host}/device-wss"
        self.tokens = tokens
        self.loop = asyncio.new_event_loop()
        self.sockets: list[Any] = []
        self.acked = 0
        self.retries = 0
        # Seconds from each device's first connection attempt to its welcome.
        self.hello_seconds: list[float] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def start(self, batch: int = 50) -> None:
        future = asyncio.run_coroutine_threadsafe(self._connect_all(batch), self.loop)
        future.result(timeout=600)

    async def _connect_all(self, batch: int) -> None:
        for first in range(0, len(self.tokens), batch):
            chunk = self.tokens[first : first + batch]
            self.sockets += await asyncio.gather(*(self._connect(token) for token in chunk))

    async def _connect(self, token: str) -> Any:
        # Like the real agent, a device whose connection attempt fails tries again.
        started = time.perf_counter()
        for attempt in range(6):
            try:
                socket = await websockets.connect(
                    self.url, max_size=2**20, ping_interval=None, open_timeout=30
                )
                break
            except (OSError, TimeoutError, websockets.InvalidMessage, websockets.InvalidStatus):
                self.retries += 1
                await asyncio.sleep(0.5 * (attempt + 1))
        else:
            raise RuntimeError("a device could not connect after 6 attempts")
        await socket.send(hello(token))
        welcome = json.loads(await socket.recv())
        if welcome["type"] != "server.welcome":
            raise RuntimeError(f"the relay refused a device: {welcome}")
        self.hello_seconds.append(time.perf_counter() - started)
        self.loop.create_task(self._serve(socket, welcome["heartbeatIntervalSeconds"]))
        return socket

    async def _serve(self, socket: Any, interval: float) -> None:
        async def beat() -> None:
            while True:
                await socket.send(json.dumps({"type": "device.heartbeat", "state": {}}))
                await asyncio.sleep(interval)

        beating = self.loop.create_task(beat())
        try:
            async for raw in socket:
                message = json.loads(raw)
                if message["type"] == "server.command":
                    answer = {"type": "command.result", "commandId": message["commandId"]}
                    await socket.send(json.dumps({**answer, "ok": True, "result": {}}))
                elif message["type"] == "event.ack":
                    self.acked = max(self.acked, message["seq"])
        except websockets.ConnectionClosed:
            pass
        finally:
            beating.cancel()

    def send(self, index: int, message: dict[str, Any]) -> None:
        socket = self.sockets[index]
        asyncio.run_coroutine_threadsafe(socket.send(json.dumps(message)), self.loop).result(10)

    def close(self) -> None:
        async def close_all() -> None:
            await asyncio.gather(*(socket.close() for socket in self.sockets))

        asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)


# --- a browser ---------------------------------------------------------------------------


class Browser:
    """A signed-in browser on one keep-alive connection, as a phone's console would hold."""

    def __init__(self, host: str, username: str = "ada") -> None:
        self.host = host
        self.connection = http.client.HTTPConnection(host, timeout=60)
        self.cookies: dict[str, str] = {}
        self.call("GET", "/api/iam/auth/status")
        self.call("POST", "/api/iam/auth/login", {"username": username, "password": PASSWORD})

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {
            "Content-Type": "application/json",
            "Origin": f"http://{self.host}",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        if method == "POST":
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
        payload = json.dumps(body).encode() if body is not None else None
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return json.loads(data)

    def command(self, device_id: str, name: str = "listSessions") -> dict[str, Any]:
        """A command and its result in two requests: POST, then GET ?wait."""
        base = f"/api/devices/{device_id}/commands"
        issued = self.call("POST", base, {"name": name, "params": {}})
        return self.call("GET", f"{base}/{issued['commandId']}?wait=10")

    def command_in_one(self, device_id: str, name: str = "listSessions") -> dict[str, Any]:
        """A command and its result in one request: POST ?wait."""
        return self.call("POST", f"/api/devices/{device_id}/commands?wait=10", {"name": name})


# --- figures -----------------------------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary_ms(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(samples, 0.5) * 1000, 2),
        "p99": round(percentile(samples, 0.99) * 1000, 2),
        "mean": round(statistics.fmean(samples) * 1000, 2),
    }


def timed(work: Callable[[], Any], count: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        work()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return samples


def echo_floor(count: int) -> list[float]:
    """A bare WebSocket echo on loopback: the least a network round trip costs here."""

    async def run() -> list[float]:
        async def echo(socket: Any) -> None:
            async for message in socket:
                await socket.send(message)

        async with websockets.serve(echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with websockets.connect(f"ws://127.0.0.1:{port}") as client:
                samples = []
                for index in range(count + 20):
                    start = time.perf_counter()
                    await client.send(json.dumps({"type": "server.command", "n": index}))
                    await client.recv()
                    if index >= 20:
                        samples.append(time.perf_counter() - start)
                return samples

    return asyncio.run(run())


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def record(section: str, command: str, lines: list[str]) -> None:
    """Replace this benchmark's section of docs/BENCHMARKS.md with the new figures."""
    RESULTS.parent.mkdir(exist_ok=True)
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    body = "\n".join(
        [
            f"<!-- {section} -->",
            f"## {section}",
            "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}.",
            "",
            "```sh",
            command,
            "```",
            "",
            *lines,
            f"<!-- /{section} -->",
        ]
    )
    pattern = re.compile(rf"<!-- {re.escape(section)} -->.*?<!-- /{re.escape(section)} -->", re.S)
    text = (
        pattern.sub(lambda _: body, text)
        if pattern.search(text)
        else f"{text.rstrip()}\n\n{body}\n"
    )
    RESULTS.write_text(text if text.endswith("\n") else text + "\n")


def run_command(argv: list[str]) -> str:
    return " ".join(["python", "-m", *argv])


# --- a process's footprint ---------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
