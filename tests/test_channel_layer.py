"""The Redis channel layer under a reconnect storm (SPEC §9): more callers at once than the
pool holds connections wait for one instead of failing, and each deployment's groups carry
its own prefix."""

from __future__ import annotations

import asyncio

import pytest
from channels_redis.core import RedisChannelLayer
from redis.exceptions import MaxConnectionsError

from codexpanel.channel_layer import RelayChannelLayer, deployment_prefix

from .conftest import port_open, require

pytestmark = pytest.mark.service
REDIS = "redis://127.0.0.1:6379/5"


async def storm(layer: RedisChannelLayer) -> None:
    # What 300 hellos at once do: join their groups and tell the group they are there.
    async def hello(n: int) -> None:
        await layer.group_add(f"device.{n}", f"specific.{n}!x")
        await layer.group_send(f"device.{n}", {"type": "device.superseded", "channel": "-"})

    try:
        await asyncio.gather(*(hello(n) for n in range(300)))
    finally:
        await layer.flush()


@pytest.mark.asyncio
async def test_a_burst_beyond_the_pool_waits_for_connections_instead_of_failing():
    require(port_open("127.0.0.1", 6379), "Redis on 127.0.0.1:6379")
    layer = RelayChannelLayer(
        hosts=[{"address": REDIS}], prefix="storm-relay", pool_size=4, pool_timeout=20
    )
    await storm(layer)
    assert layer.pool_size == 4


@pytest.mark.asyncio
async def test_the_plain_pool_refuses_the_same_burst():
    # What the relay would do without its own pool: refuse hellos during a restart.
    require(port_open("127.0.0.1", 6379), "Redis on 127.0.0.1:6379")
    plain = RedisChannelLayer(hosts=[{"address": REDIS, "max_connections": 4}], prefix="storm")
    with pytest.raises(MaxConnectionsError):
        await storm(plain)


def test_a_deployments_prefix_follows_its_database():
    one = {"ENGINE": "postgresql", "HOST": "db", "PORT": 5432, "NAME": "relay"}
    assert deployment_prefix(one) == deployment_prefix(dict(one))  # every process agrees
    assert deployment_prefix(one) != deployment_prefix({**one, "NAME": "staging"})
    assert deployment_prefix(one).startswith("codexpanel-")
