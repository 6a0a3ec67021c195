"""Where the agent keeps its files, and agent-runtime.json (SPEC AGT-3)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import platformdirs

from ..terminal import Failure

APP_NAME = "CodexPanelAgent"
REQUIRED = ("relayUrl", "deviceId", "deviceToken", "deviceWssUrl", "workspace")


def on_windows() -> bool:
    return os.name == "nt"


def install_dir() -> Path:
    """Windows: %LOCALAPPDATA%\\CodexPanelAgent; macOS and Linux: the platform's per-user
    data directory."""
    if on_windows() and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / APP_NAME
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_path() -> Path:
    override = os.environ.get("CODEXPANEL_AGENT_CONFIG")
    return Path(override) if override else install_dir() / "agent-runtime.json"


def log_dir(config: dict[str, Any] | None = None) -> Path:
    if config and config.get("logPath"):
        return Path(config["logPath"]).parent
    return install_dir() / "logs"


def load(path: Path | None = None) -> dict[str, Any]:
    path = path or config_path()
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Failure(
            f"This computer is not paired yet ({path} is missing)",
            "这台电脑尚未绑定",
            "Run: python -m agent install",
        ) from None
    except (OSError, ValueError) as exc:
        raise Failure(
            f"Cannot read {path}: {exc}", "配置文件无法读取", "Run the installer again."
        ) from None
    missing = [key for key in REQUIRED if not config.get(key)]
    if not isinstance(config, dict) or missing:
        raise Failure(
            f"{path} lacks {', '.join(missing)}", "配置文件不完整", "Run the installer again."
        )
    return config


def save(config: dict[str, Any], path: Path | None = None) -> Path:
    """Write atomically, readable by this user only: it holds the device token."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".agent-runtime-")
    try:
        if os.name == "posix":
            os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(config, file, indent=2, ensure_ascii=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def single_instance(lock_file: Path) -> object | None:
    """Hold an exclusive lock for as long as this process runs; None if another agent
    process already holds it (two agents would fight over one device and one outbox)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    handle = lock_file.open("a+")
    try:
        if on_windows():
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle
