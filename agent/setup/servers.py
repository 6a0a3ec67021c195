"""Which relay the agent talks to (SPEC AGT-1): --server, CODEXPANEL_SERVER, or the
development relay running on this computer."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

from ..terminal import Failure

NAMED = {
    "production": ("CODEXPANEL_PRODUCTION_URL", "https://codexpanel.com"),
    "prod": ("CODEXPANEL_PRODUCTION_URL", "https://codexpanel.com"),
    "test": ("CODEXPANEL_TEST_URL", "https://jd.6a.gs"),
    "jd": ("CODEXPANEL_TEST_URL", "https://jd.6a.gs"),
}
LOCAL_PORTS = range(8000, 8011)


def dev_relay_file() -> Path:
    """Where `manage.py dev` records the address of the relay it started."""
    return Path(platformdirs.user_state_dir("codexpanel")) / "dev-relay.json"


def _valid_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Failure(
            f"Not a relay address: {url}",
            "不是有效的服务器地址",
            "Use production, test, local or an http(s):// URL.",
        )
    return url.rstrip("/")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/agent/version", timeout=2) as response:  # noqa: S310
            return "agentVersion" in json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return False


def discover_local() -> str:
    """The development relay: the address its start command recorded, else the first of
    ports 8000-8010 that serves /agent/version."""
    recorded = dev_relay_file()
    if recorded.exists():
        try:
            url = json.loads(recorded.read_text())["url"]
            if _answers(url):
                return url
        except (OSError, ValueError, KeyError):
            pass
    for port in LOCAL_PORTS:
        url = f"http://127.0.0.1:{port}"
        if _answers(url):
            return url
    raise Failure(
        "No development relay found on this computer",
        "未找到本机开发服务器",
        "Start one with scripts/relay, or pass --server http://host:port.",
    )


def resolve_server(choice: str | None) -> str:
    choice = (choice or os.environ.get("CODEXPANEL_SERVER") or "production").strip()
    if choice in NAMED:
        variable, default = NAMED[choice]
        return _valid_url(os.environ.get(variable) or default)
    if choice == "local":
        return discover_local()
    return _valid_url(choice)
