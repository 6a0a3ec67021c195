"""Downloading the agent release a relay serves (SPEC DEV-7, AGT-2, AGT-7): every file of
the manifest, each checked against its sha256, written beside the running copy and
switched in atomically."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import click

from ..relay_client import RelayClient
from ..terminal import Failure


def fetch_manifest(client: RelayClient) -> dict[str, Any]:
    manifest = client.get("/agent/version")
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list) or not manifest.get("agentVersion"):
        raise Failure("The relay's agent manifest is invalid", "服务器资源清单无效")
    for entry in files:
        path = PurePosixPath(str(entry.get("path", "")))
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise Failure(f"The manifest names an unsafe path: {path}", "资源清单路径不安全")
    return manifest


def download(client: RelayClient, manifest: dict[str, Any], target: Path) -> None:
    """Download and verify every file into `target` (a fresh folder)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    files = manifest["files"]
    with click.progressbar(
        files, label="Downloading host-runtime files / 预下载资源", show_pos=True
    ) as bar:
        for entry in bar:
            content = client.get_bytes(f"/agent/{entry['path']}")
            digest = hashlib.sha256(content).hexdigest()
            if digest != entry["sha256"]:
                raise Failure(
                    f"{entry['path']} does not match its sha256 in the manifest",
                    "文件校验失败",
                    "The download was damaged or tampered with; run the installer again.",
                )
            destination = target / "agent" / entry["path"]
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(content)


def switch(staged: Path, current: Path) -> None:
    """Make `staged` the current release; the previous one stays as current.previous."""
    previous = current.with_name(current.name + ".previous")
    if previous.exists():
        shutil.rmtree(previous)
    if current.exists():
        current.rename(previous)
    staged.rename(current)
