"""What a host runtime is started with: the relay, the device's token, the workspace and
the Codex CLI, and where it keeps its state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import control


@dataclass
class RuntimeSettings:
    relay_url: str
    device_wss_url: str
    device_token: str
    workspace: str
    codex_path: str
    state_dir: Path
    control_state: dict[str, Any] = field(default_factory=lambda: dict(control.DEFAULT))
    codex_env: dict[str, str] = field(default_factory=dict)
    codex_args: list[str] = field(default_factory=list)
    log_dir: Path | None = None
    # The installed release this runtime runs from; self-update replaces it (AGT-7).
    app_dir: Path | None = None
