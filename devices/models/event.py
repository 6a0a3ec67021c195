"""The event log (SPEC DEV-4, DEV-5): what the agent reported and what the relay saw.

Every event holds two stream positions, each contiguous and assigned under a row lock, so
their order is the order of commit: `user_seq` in the owner's stream (all their devices)
and `stream_seq` in the device's stream. A browser resumes either stream from the last
position it saw, with no gap and no duplicate. `agent_seq` is the agent's own numbering,
unique per device, so a re-sent event is stored once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .device import Device


class UserEventCounter(models.Model):
    """The last position handed out in one user's event stream."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.last_seq}"


class Event(models.Model):
    class Source(models.TextChoices):
        AGENT = "agent", _("Agent")
        RELAY = "relay", _("Relay")

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="events")
    # The device's owner when the event happened: history stays with the account it
    # belonged to, even after the device moves to another one.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    user_seq = models.BigIntegerField()
    stream_seq = models.BigIntegerField()
    agent_seq = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=Source)
    event_type = models.CharField(max_length=128)
    thread_id = models.CharField(max_length=256, blank=True)
    turn_id = models.CharField(max_length=256, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField()
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.UniqueConstraint(fields=["user", "user_seq"], name="event_user_position"),
            models.UniqueConstraint(fields=["device", "stream_seq"], name="event_device_position"),
            models.UniqueConstraint(
                fields=["device", "agent_seq"],
                condition=Q(agent_seq__isnull=False),
                name="event_agent_seq_once",
            ),
        ]
        indexes = [
            models.Index(fields=["device", "thread_id", "stream_seq"]),
            models.Index(fields=["user", "thread_id", "user_seq"]),
            # The console's "needs attention" list: a user's approval requests, newest first.
            models.Index(fields=["user", "event_type", "user_seq"]),
            models.Index(fields=["created_at"]),
            # The operators' overview: the newest approval requests of every user.
            models.Index(fields=["event_type", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.stream_seq} on {self.device_id}"
