"""The event log's retention (SPEC DEV-4)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from devices.models import Device, Event
from devices.realtime.eventlog import record_agent_events

from .realtime import events, make_device

pytestmark = pytest.mark.django_db


def test_events_past_the_retention_period_are_pruned_and_positions_keep_counting(make_user, clock):
    device, _token = make_device(make_user("ada"))
    record_agent_events(device.pk, events(1, 2)["events"])
    clock.advance(days=31)
    record_agent_events(device.pk, events(3, 1)["events"])
    out = io.StringIO()
    call_command("prune_events", stdout=out)
    assert "Deleted 2 event(s) older than 30 day(s)." in out.getvalue()
    assert list(Event.objects.values_list("agent_seq", "stream_seq")) == [(3, 3)]
    # Positions never restart, so a browser resuming from an old id is not confused.
    record_agent_events(device.pk, events(4, 1)["events"])
    assert Event.objects.get(agent_seq=4).stream_seq == 4
    assert Device.objects.get().last_acked_seq == 4
