"""What the agent does on the computer itself: its config, the background process and its
autostart, the local panel, self-update and finding the Codex CLI (SPEC AGT-3, AGT-7)."""
