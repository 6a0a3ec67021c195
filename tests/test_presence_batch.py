"""Heartbeats recorded for a whole process at once (SPEC DEV-2, §9): a beat costs the
database nothing until the process writes all its sockets' beats in one batch."""

from __future__ import annotations

import pytest

from devices.models import Device, DeviceToken
from devices.realtime import presence

from .realtime import make_device

pytestmark = pytest.mark.django_db


def _held(devices: list[tuple[Device, str]]) -> dict[int, tuple[int, str]]:
    held = {}
    for n, (device, _token) in enumerate(devices):
        Device.objects.filter(pk=device.pk).update(online=True, connection=f"socket-{n}")
        held[device.pk] = (DeviceToken.objects.get(device=device).pk, f"socket-{n}")
    return held


def test_one_batch_records_every_held_devices_beat_in_two_queries(
    ada, clock, django_assert_max_num_queries
):
    few = _held([make_device(ada, f"desk-{n:04d}-abcdef") for n in range(3)])
    many = _held([make_device(ada, f"lap-{n:04d}-abcdef") for n in range(60)])
    clock.advance(seconds=15)
    with django_assert_max_num_queries(2):
        assert presence.record_beats(few) == set()
    with django_assert_max_num_queries(2):
        assert presence.record_beats(many) == set()
    beats = set(Device.objects.values_list("last_heartbeat_at", flat=True))
    assert beats == {clock.current}


def test_a_batch_names_the_sockets_that_lost_their_device_or_their_access(ada, make_user, clock):
    kept, replaced, revoked, disabled = (make_device(ada, f"desk-{n:04d}-abcdef") for n in range(4))
    bob = make_user("bob")
    held = _held([kept, replaced, revoked, disabled])
    held |= _held([make_device(bob, "bobs-0001-abcdef")])
    bobs = next(pk for pk in held if Device.objects.get(pk=pk).owner_id == bob.pk)
    Device.objects.filter(pk=replaced[0].pk).update(connection="a-newer-socket")
    DeviceToken.objects.filter(device=revoked[0]).update(
        revoked_at=clock.current, revoked_reason="revoked"
    )
    Device.objects.filter(pk=disabled[0].pk).update(enabled=False)
    bob.is_active = False
    bob.save()
    before = Device.objects.get(pk=replaced[0].pk).last_heartbeat_at
    clock.advance(seconds=15)
    refused = presence.record_beats(held)
    assert refused == {replaced[0].pk, revoked[0].pk, disabled[0].pk, bobs}
    assert Device.objects.get(pk=kept[0].pk).last_heartbeat_at == clock.current
    assert Device.objects.get(pk=replaced[0].pk).last_heartbeat_at == before
