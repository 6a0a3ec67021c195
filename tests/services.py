"""Private PostgreSQL and Redis servers on free loopback ports, for the fault tests: they
stop and start these at will without disturbing the servers the rest of the suite uses."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from .conftest import port_open, require
from .live import free_port


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; CI runs as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _wait_for_port(port: int, up: bool, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while port_open("127.0.0.1", port) != up:
        assert time.monotonic() < deadline, f"{what} did not {'start' if up else 'stop'}"
        time.sleep(0.05)


class PrivatePostgres:
    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        require(bool(found), "PostgreSQL server binaries (Debian package postgresql)")
        self.bin = Path(found[-1]).parent
        # Not under pytest's temporary folders: those are private to the user running the
        # tests, and the server runs as postgres when that user is root.
        self.root = Path(tempfile.mkdtemp(prefix="codexpanel-pg-"))
        self.data = self.root / "pgdata"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        subprocess.run(
            _as_postgres(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.start()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.data / "server.log"), "-w", "start")
        _wait_for_port(self.port, True, "PostgreSQL")

    def stop(self) -> None:
        # Fast shutdown: open sessions are cut off, as a crash or a failover would.
        self._ctl("-m", "fast", "-w", "stop")
        _wait_for_port(self.port, False, "PostgreSQL")

    def create_database(self, name: str, template: str = "template1") -> None:
        subprocess.run(
            [
                str(self.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-T",
                template,
                name,
            ],
            check=True,
            capture_output=True,
        )

    def close(self) -> None:
        if port_open("127.0.0.1", self.port):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        require(self.binary is not None, "redis-server (Debian package redis-server)")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # Nothing kept on disk: a restart comes back empty, as a replaced Redis would.
        self.process = subprocess.Popen(
            [
                self.binary or "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, True, "Redis")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        _wait_for_port(self.port, False, "Redis")

    def close(self) -> None:
        self.stop()


class Link:
    """A TCP forwarder between the agent and a relay host, which the test can cut (both
    ends reset at once) or freeze (bytes stop flowing, nobody is told, as when a laptop
    sleeps or a network drops packets). New connections always pass."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        self.accepted = 0
        self.silent: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            frozen = threading.Event()
            with self.lock:
                self.pairs.append((client, server, frozen))
                self.accepted += 1
            for source, sink in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink, frozen), daemon=True
                ).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, frozen: threading.Event) -> None:
        try:
            while data := source.recv(65536):
                if not frozen.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        if not frozen.is_set():
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def _take(self) -> list[tuple[socket.socket, socket.socket, threading.Event]]:
        with self.lock:
            pairs, self.pairs = self.pairs, []
        return pairs

    def cut(self) -> None:
        with self.lock:
            silent, self.silent = self.silent, []
        for client, server, frozen in self._take() + silent:
            frozen.set()  # the pumps forward nothing more, nor say goodbye
            for end in (client, server):
                # A zero linger makes the close send a reset, not an orderly goodbye. The
                # close takes effect only once the pump blocked reading this end returns:
                # shutting down the reading side wakes it, sending nothing.
                end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RD)
                end.close()

    def freeze(self) -> None:
        pairs = self._take()
        for _client, _server, frozen in pairs:
            frozen.set()
        with self.lock:
            self.silent += pairs

    def close(self) -> None:
        self.listener.close()
        self.cut()
