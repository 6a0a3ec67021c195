"""Installing the agent on a computer and pairing it with a relay (SPEC AGT-1, AGT-2)."""
