"""Finding the Codex CLI (SPEC AGT-2): --codex-path or CODEXPANEL_CODEX_PATH, `codex` on
PATH, the npm global prefix, then well-known install locations; and which Codex versions
this agent was tested with."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from ..terminal import Failure

NAMES = ("codex.cmd", "codex.exe", "codex") if os.name == "nt" else ("codex",)
# The oldest and newest `codex app-server` this agent's tests ran on, end to end.
TESTED = ((0, 169, 0), (0, 171, 0))


def version_from_user_agent(user_agent: str) -> str | None:
    """The Codex version in app-server's initialize answer: "<client>/<version> (…)"."""
    found = re.match(r"[^/\s]+/(\d+\.\d+\.\d+\S*)", user_agent or "")
    return found.group(1) if found else None


def version_note(version: str | None) -> str | None:
    """A plain sentence when this Codex is outside the tested range, else None."""
    found = re.match(r"(\d+)\.(\d+)\.(\d+)", version or "")
    if found is None:
        return None
    number = tuple(int(part) for part in found.groups())
    tested = "–".join(".".join(map(str, end)) for end in TESTED)
    if number < TESTED[0]:
        return f"Codex {version} is older than this agent was tested with ({tested}); update Codex."
    if number > TESTED[1]:
        return (
            f"Codex {version} is newer than this agent was tested with ({tested}); "
            "it may still work."
        )
    return None


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
