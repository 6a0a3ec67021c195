"""Images a person attaches to a turn from the console (SPEC CON-5), kept until the agent
has fetched them for Codex."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .device import Device


class Attachment(models.Model):
    attachment_id = models.CharField(max_length=64, unique=True, editable=False)
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    content_type = models.CharField(_("type"), max_length=32)
    size = models.PositiveIntegerField(_("size in bytes"))
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()
    created_at = models.DateTimeField(_("uploaded"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [models.Index(fields=["created_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(size__gt=0), name="attachment_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.attachment_id} ({self.content_type}, {self.size} bytes)"
