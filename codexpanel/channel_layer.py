"""The Redis channel layer with a connection pool that waits (SPEC §9).

channels_redis builds a plain redis-py pool, which in redis-py 8 raises "Too many
connections" the moment it holds 100: a relay restart, when every agent says hello at
once, then refuses hellos and drops sockets that were fine. This pool holds up to
`pool_size` connections and makes a caller wait up to `pool_timeout` seconds for one."""

from __future__ import annotations

import hashlib
from typing import Any

from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool


class RelayChannelLayer(RedisChannelLayer):
    def __init__(self, *args: Any, pool_size: int = 200, pool_timeout: float = 10, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pool_size = pool_size
        self.pool_timeout = pool_timeout

    def create_pool(self, index: int) -> BlockingConnectionPool:
        host = dict(self.hosts[index])
        address = host.pop("address")
        return BlockingConnectionPool.from_url(
            address, max_connections=self.pool_size, timeout=self.pool_timeout, **host
        )


def deployment_prefix(database: dict[str, Any]) -> str:
    """What a deployment's Redis keys and groups start with, unless CODEXPANEL_REDIS_PREFIX
    names it: the same for every process of one deployment (they share its database), and
    different for two deployments sharing a Redis database."""
    where = "|".join(str(database.get(key) or "") for key in ("ENGINE", "HOST", "PORT", "NAME"))
    return "codexpanel-" + hashlib.sha256(where.encode()).hexdigest()[:10]
