"""The agent release this relay serves (SPEC DEV-7), built from its own `agent/` package.

The manifest and the bytes it describes are read together, once per process, and files are
served only from that table: a request can name a manifest path and nothing else, so no
path, however crafted, reaches another file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import agent

# What a release consists of: the package's code and the data files it reads.
RELEASE_SUFFIXES = {".py", ".txt", ".json", ".sh", ".ps1", ".html", ".css", ".js", ".svg"}


@dataclass(frozen=True)
class ReleaseFile:
    path: str
    content: bytes
    sha256: str


@dataclass(frozen=True)
class Release:
    version: str
    files: dict[str, ReleaseFile]

    def manifest(self) -> dict[str, Any]:
        return {
            "agentVersion": self.version,
            "files": [
                {"path": f.path, "sha256": f.sha256, "size": len(f.content)}
                for f in self.files.values()
            ],
        }


def _release_paths(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and path.suffix in RELEASE_SUFFIXES
        and "__pycache__" not in path.relative_to(root).parts
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


@cache
def current_release() -> Release:
    root = Path(agent.__file__).resolve().parent
    files: dict[str, ReleaseFile] = {}
    for path in _release_paths(root):
        content = path.read_bytes()
        name = path.relative_to(root).as_posix()
        files[name] = ReleaseFile(name, content, hashlib.sha256(content).hexdigest())
    return Release(agent.__version__, files)
