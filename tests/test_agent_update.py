"""Self-update (SPEC AGT-7): a newer release is applied; a hash mismatch or a broken
release is refused and the running version stays."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent
from agent.local.update import is_newer, update
from agent.terminal import Failure

from .conftest import port_open
from .live import free_port

# The agent has no Django: the relay's database and channel layer change nothing here.
pytestmark = pytest.mark.agent_alone

AGENT_DIR = Path(agent.__file__).resolve().parent


class FakeRelay:
    """A folder served over HTTP as a relay serves its agent release."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = root / "agent"
        shutil.copytree(
            AGENT_DIR, self.files, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def publish(self, version: str, *, lie_about: str | None = None) -> None:
        init = self.files / "__init__.py"
        init.write_text(f'__version__ = "{version}"\n')
        entries = []
        for path in sorted(p for p in self.files.rglob("*") if p.is_file()):
            relative = path.relative_to(self.files).as_posix()
            if relative == "version":
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if relative == lie_about:
                digest = "0" * 64
            entries.append({"path": relative, "sha256": digest, "size": path.stat().st_size})
        (self.files / "version").write_text(json.dumps({"agentVersion": version, "files": entries}))


@pytest.fixture
def fake_relay(tmp_path: Path) -> Iterator[FakeRelay]:
    relay = FakeRelay(tmp_path / "site")
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(relay.port), "--bind", "127.0.0.1"],
        cwd=relay.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not port_open("127.0.0.1", relay.port):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield relay
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    app = tmp_path / "install" / "app"
    shutil.copytree(AGENT_DIR, app / "agent", ignore=shutil.ignore_patterns("__pycache__"))
    return app


def installed_version(app: Path) -> str:
    return (app / "agent" / "__init__.py").read_text()


def test_an_agent_of_the_flat_layout_accepts_this_release_as_it_checks_one(installed):
    # Agents from before agent/ was grouped check a downloaded release with this import.
    done = subprocess.run(
        [sys.executable, "-c", "import agent.cli, agent.host; print(agent.__version__)"],
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        cwd=str(installed),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == agent.__version__


def test_a_newer_release_is_downloaded_checked_and_switched_in(fake_relay, installed):
    fake_relay.publish("9.9.9")
    outcome = update(fake_relay.url, installed, current="0.2.0")
    assert outcome.updated and outcome.version == "9.9.9"
    assert '"9.9.9"' in installed_version(installed)
    assert '"0.2.0"' in installed_version(installed.with_name("app.previous"))
    assert not installed.with_name("app.staged").exists()


def test_a_hash_mismatch_is_refused_and_the_old_version_stays(fake_relay, installed):
    fake_relay.publish("9.9.9", lie_about="runtime/host.py")
    before = installed_version(installed)
    with pytest.raises(Failure, match=r"runtime/host\.py does not match its sha256"):
        update(fake_relay.url, installed, current="0.2.0")
    assert installed_version(installed) == before
    assert not installed.with_name("app.staged").exists()


def test_a_release_that_cannot_start_is_refused(fake_relay, installed):
    (fake_relay.files / "runtime" / "host.py").write_text("this is not python(\n")
    fake_relay.publish("9.9.9")
    before = installed_version(installed)
    with pytest.raises(Failure, match="does not start"):
        update(fake_relay.url, installed, current="0.2.0")
    assert installed_version(installed) == before


def test_the_same_or_an_older_release_is_left_alone(fake_relay, installed):
    fake_relay.publish("0.2.0")
    assert not update(fake_relay.url, installed, current="0.2.0").updated
    fake_relay.publish("0.1.9")
    assert not update(fake_relay.url, installed, current="0.2.0").updated
    assert not installed.with_name("app.previous").exists()


def test_versions_compare_by_number_not_by_text():
    assert is_newer("0.10.0", "0.9.9")
    assert not is_newer("0.2.0", "0.2.0")
    assert not is_newer("", "0.2.0")
