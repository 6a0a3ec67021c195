"""Self-update (SPEC AGT-7): compare the relay's release with our own, download the new one
beside the running copy, check every sha256 and that it imports, then switch atomically.
Any failure leaves the running version in place."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..relay_client import RelayClient, RelayError
from ..terminal import Failure
from . import release

EVERY_SECONDS = 6 * 3600


def version_key(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def is_newer(offered: str, current: str = __version__) -> bool:
    return bool(offered) and version_key(offered) > version_key(current)


@dataclass(frozen=True)
class Outcome:
    updated: bool
    version: str
    message: str


def _imports(release_dir: Path) -> str | None:
    """None if the downloaded release imports cleanly, else what went wrong."""
    done = subprocess.run(
        [sys.executable, "-c", "import agent.cli, agent.runtime.host; print(agent.__version__)"],
        env={**os.environ, "PYTHONPATH": str(release_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(release_dir),
    )
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["?"])[-1]


def update(relay_url: str, app_dir: Path, current: str = __version__) -> Outcome:
    """Bring app_dir to the relay's release if it is newer. Raises Failure (and changes
    nothing) if the manifest is invalid, a hash does not match or the release is broken."""
    client = RelayClient(relay_url)
    try:
        manifest = release.fetch_manifest(client)
    except RelayError as error:
        raise Failure(f"The relay refused the manifest: {error.message}") from None
    offered = manifest["agentVersion"]
    if not is_newer(offered, current):
        return Outcome(False, current, f"agent {current} is current")
    staged = app_dir.with_name(app_dir.name + ".staged")
    try:
        release.download(client, manifest, staged)
        problem = _imports(staged)
        if problem:
            raise Failure(f"agent {offered} does not start: {problem}", "新版本无法启动")
    except Failure:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    release.switch(staged, app_dir)
    return Outcome(True, offered, f"updated from {current} to {offered}")
