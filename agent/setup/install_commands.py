"""The one-line install commands of a relay (SPEC AGT-0), shown by the relay's pages and by
`python -m agent install --print-command`."""

from __future__ import annotations

import shlex


def install_commands(relay_url: str) -> dict[str, str]:
    relay = relay_url.rstrip("/")
    quoted = shlex.quote(relay)
    return {
        "unix": f"curl -fsSL {quoted}/agent/install.sh | sh -s -- --server {quoted}",
        "windows": (
            "powershell -NoProfile -ExecutionPolicy Bypass -Command "
            f"\"& ([scriptblock]::Create((irm '{relay}/agent/install.ps1'))) -Server '{relay}'\""
        ),
    }
