"""Commands from the console to a device (SPEC DEV-3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .device import Device


class Command(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    FINISHED = (Status.DONE, Status.FAILED, Status.EXPIRED)

    command_id = models.CharField(max_length=64, unique=True)
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="commands")
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    name = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status, default=Status.QUEUED)
    created_at = models.DateTimeField()
    # Past this, an undelivered or unanswered command expires instead of running late.
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    deliveries = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = _("command")
        verbose_name_plural = _("commands")
        indexes = [models.Index(fields=["device", "status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.command_id})"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED
