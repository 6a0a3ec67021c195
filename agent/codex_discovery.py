"""Finding the Codex CLI (SPEC AGT-2): --codex-path or CODEXPANEL_CODEX_PATH, `codex` on
PATH, the npm global prefix, then well-known install locations."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .terminal import Failure

NAMES = ("codex.cmd", "codex.exe", "codex") if os.name == "nt" else ("codex",)


def _npm_prefix() -> Path | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - npm found on PATH
            [npm, "prefix", "-g"], capture_output=True, text=True, timeout=15
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    prefix = done.stdout.strip()
    return Path(prefix) if done.returncode == 0 and prefix else None


def _well_known() -> list[Path]:
    home = Path.home()
    places = [home / ".local/bin", Path("/usr/local/bin"), Path("/opt/homebrew/bin")]
    if os.name == "nt" and os.environ.get("APPDATA"):
        places.insert(0, Path(os.environ["APPDATA"]) / "npm")
    return places


def find_codex(explicit: str | None = None) -> str:
    explicit = explicit or os.environ.get("CODEXPANEL_CODEX_PATH")
    if explicit:
        if Path(explicit).is_file():
            return str(Path(explicit).resolve())
        raise Failure(f"No Codex CLI at {explicit}", "指定的 Codex 路径不存在")
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    prefix = _npm_prefix()
    folders = ([prefix, prefix / "bin"] if prefix else []) + _well_known()
    for folder in folders:
        for name in NAMES:
            candidate = folder / name
            if candidate.is_file():
                return str(candidate)
    raise Failure(
        "Codex CLI not found",
        "未找到 Codex CLI",
        "Install it with `npm i -g @openai/codex`, or pass --codex-path.",
    )
