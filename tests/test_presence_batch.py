"""What presence costs the database (SPEC DEV-2, §9): a beat costs nothing until the process
writes all its sockets' beats in batches, and a hello checks the device's access in one
query once it holds the device's lock."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction

from accounts.models import User
from devices.models import Device, DeviceToken
from devices.realtime import presence, sweeper
from devices.realtime.hub import hub

from .realtime import hello, make_device

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


class HeldSocket:
    """What the sweep asks of a socket holding a device."""

    def __init__(self, token_pk: int, channel: str) -> None:
        self.token_pk, self.channel_name = token_pk, channel
        self.handed: list[dict[str, Any]] = []

    def beating(self) -> bool:
        return True

    def hand(self, message: dict[str, Any]) -> None:
        self.handed.append(message)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_sweep_writes_beats_a_chunk_per_trip_to_the_database_thread(
    ada, clock, monkeypatch
):
    # Each chunk is its own trip, so a hello waiting for that one thread goes between
    # chunks instead of after all of them.
    devices = [
        await database_sync_to_async(make_device)(ada, f"desk-{n:04d}-abcdef") for n in range(5)
    ]
    held = await database_sync_to_async(_held)(devices)
    chunks: list[int] = []
    record_beats = presence.record_beats

    def spy(beats: dict[int, tuple[int, str]]) -> set[int]:
        chunks.append(len(beats))
        return record_beats(beats)

    monkeypatch.setattr(presence, "BEATS_PER_QUERY", 2)
    monkeypatch.setattr(presence, "record_beats", spy)
    sockets = {pk: HeldSocket(*beat) for pk, beat in held.items()}
    monkeypatch.setattr(hub(), "held", sockets)
    clock.advance(seconds=15)
    await sweeper.record_held()
    assert chunks == [2, 2, 1]
    beats = Device.objects.values_list("last_heartbeat_at", flat=True)
    assert set(await database_sync_to_async(list)(beats)) == {clock.current}
    assert all(socket.handed == [] for socket in sockets.values())


def test_a_hello_checks_its_devices_access_in_one_query_after_the_lock(
    ada, django_assert_max_num_queries
):
    device, _token = make_device(ada)
    token_pk = DeviceToken.objects.get(device=device).pk
    presence.connect(device.pk, token_pk, "socket-1", hello(None))
    # Online already, so no event: the lock, the access check, the update, and the
    # savepoint around them.
    with django_assert_max_num_queries(5):
        connected = presence.connect(device.pk, token_pk, "socket-2", hello(None))
    assert connected.messages == []
    assert Device.objects.get(pk=device.pk).connection == "socket-2"


def _revoke(device: Device) -> None:
    DeviceToken.objects.filter(device=device).update(
        revoked_at=device.created_at, revoked_reason="revoked"
    )


def _disable(device: Device) -> None:
    Device.objects.filter(pk=device.pk).update(enabled=False)


def _disable_owner(device: Device) -> None:
    User.objects.filter(pk=device.owner_id).update(is_active=False)


@pytest.mark.parametrize(
    "end, reason",
    [(_revoke, "token_revoked"), (_disable, "device_disabled"), (_disable_owner, "owner_disabled")],
)
def test_a_hello_whose_access_ended_after_its_token_was_read_is_refused_with_the_reason(
    ada, end, reason
):
    device, _token = make_device(ada)
    token_pk = DeviceToken.objects.get(device=device).pk
    end(device)
    with pytest.raises(presence.AccessEnded) as ended:
        presence.connect(device.pk, token_pk, "socket-1", hello(None))
    assert ended.value.reason == reason
    stored = Device.objects.get(pk=device.pk)
    assert (stored.online, stored.connection) == (False, "")


@pytest.mark.django_db(transaction=True)
def test_a_hello_waiting_on_the_device_lock_sees_a_revocation_committed_meanwhile(ada):
    device, _token = make_device(ada)
    token_pk = DeviceToken.objects.get(device=device).pk
    locked, release = threading.Event(), threading.Event()

    def reinstall() -> None:
        # As a new pairing does: lock the device, revoke its token, commit a moment later.
        try:
            with transaction.atomic():
                Device.objects.select_for_update().get(pk=device.pk)
                DeviceToken.objects.filter(pk=token_pk).update(
                    revoked_at=device.created_at, revoked_reason="rebound"
                )
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    revoker = threading.Thread(target=reinstall)
    revoker.start()
    assert locked.wait(10)
    threading.Timer(0.3, release.set).start()  # while the hello below waits on the lock
    with pytest.raises(presence.AccessEnded) as ended:
        presence.connect(device.pk, token_pk, "socket-1", hello(None))
    revoker.join(10)
    assert ended.value.reason == "token_revoked"
    assert not Device.objects.get(pk=device.pk).online
