"""This computer as the relay sees it (SPEC AGT-2): a stable device id and a default name."""

from __future__ import annotations

import getpass
import hashlib
import platform
import socket
from pathlib import Path


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "user"


def device_id() -> str:
    """The same on every run for one user on one computer: a hash of the host name, its
    domain, the OS user and their home folder."""
    host = socket.gethostname()
    domain = socket.getfqdn()
    material = "\n".join([host, domain, _user(), str(Path.home())])
    return "cp-" + hashlib.sha256(material.encode()).hexdigest()[:32]


def default_device_name() -> str:
    host = socket.gethostname().split(".")[0] or "computer"
    return f"{host} / {_user()} Codex Desktop Agent"


def platform_name() -> str:
    return {"Windows": "windows", "Darwin": "macos", "Linux": "linux"}.get(
        platform.system(), platform.system().lower()
    )
