"""The host runtime (SPEC AGT-5): one socket to the relay, one `codex app-server`, and the
commands, events and approvals between them."""
