"""The host runtime's name before the agent was grouped by responsibility. An agent of that
layout imports `agent.cli, agent.host` from a release it downloaded before it
switches to it; this name keeps those agents updating to this one. Nothing else imports it."""

from .runtime.host import HostRuntime, RuntimeSettings

__all__ = ["HostRuntime", "RuntimeSettings"]
