"""The agent release served by the relay (SPEC DEV-7) and the migration page (DEV-8)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import agent

# The agent has no Django: the relay's database and channel layer change nothing here.
pytestmark = pytest.mark.agent_alone

AGENT_DIR = Path(agent.__file__).resolve().parent


def test_the_manifest_lists_every_agent_file_with_its_hash(client):
    response = client.get("/agent/version")
    assert response.status_code == 200
    manifest = response.json()
    assert manifest["agentVersion"] == agent.__version__
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = {
        p.relative_to(AGENT_DIR).as_posix()
        for p in AGENT_DIR.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert on_disk and on_disk <= set(listed)
    for path, entry in listed.items():
        content = (AGENT_DIR / path).read_bytes()
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert entry["size"] == len(content)


def test_the_served_bytes_match_the_manifest(client):
    for entry in client.get("/agent/version").json()["files"]:
        response = client.get(f"/agent/{entry['path']}")
        assert response.status_code == 200, entry["path"]
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]
        assert response["ETag"] == f'"{entry["sha256"]}"'


@pytest.mark.parametrize(
    "path",
    [
        "/agent/../codexpanel/settings.py",
        "/agent/..%2Fcodexpanel%2Fsettings.py",
        "/agent/%2e%2e/codexpanel/settings.py",
        "/agent/__pycache__/protocol.cpython-311.pyc",
        "/agent//etc/passwd",
        "/agent/nope.py",
        "/agent/",
    ],
)
def test_nothing_outside_the_release_is_reachable(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"SECRET_KEY" not in response.content


def test_release_files_cannot_be_written(client):
    assert client.post("/agent/version").status_code == 405
    assert client.post("/agent/__init__.py").status_code == 405


def test_the_device_page_sends_visitors_to_the_installer(client):
    page = client.get("/device.html")
    assert page.status_code == 200
    assert (
        "curl -fsSL http://testserver/agent/install.sh | sh -s -- --server http://testserver"
        in page.text
    )
    assert "http://testserver/agent/install.ps1" in page.text
    chinese = client.get("/device.html", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "添加电脑" in chinese.text
