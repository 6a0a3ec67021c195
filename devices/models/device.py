"""Devices and their tokens (SPEC DEV-1).

A Device row exists once a computer has finished pairing (SET-7). Its credential is a
DeviceToken; a device has at most one active token, and replaced or revoked tokens stay
as rows so an agent presenting one can be told "revoked" rather than "unknown".
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

DEVICE_ID_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$",
    _("A device id is 8 to 128 letters, digits, dots, colons, dashes or underscores."),
    code="invalid_device_id",
)

TOKEN_PREFIX = "cpd_"  # noqa: S105 - a public marker, not a secret


class Device(models.Model):
    class Mode(models.TextChoices):
        HOST_RUNTIME = "host-runtime", _("Host runtime")

    device_id = models.CharField(
        _("device id"), max_length=128, unique=True, validators=[DEVICE_ID_VALIDATOR]
    )
    name = models.CharField(_("name"), max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="devices",
        verbose_name=_("owner"),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    mode = models.CharField(_("mode"), max_length=32, choices=Mode, default=Mode.HOST_RUNTIME)
    platform = models.CharField(_("platform"), max_length=64, blank=True)
    agent_version = models.CharField(_("agent version"), max_length=32, blank=True)
    workspace = models.CharField(_("workspace"), max_length=1024, blank=True)
    capabilities = models.JSONField(_("capabilities"), default=dict, blank=True)
    control_state = models.JSONField(_("control state"), default=dict, blank=True)
    # The agent's last word on its Codex: state, error, version, versionNote, notices.
    codex = models.JSONField(_("Codex"), default=dict, blank=True, editable=False)
    online = models.BooleanField(_("online"), default=False)
    last_heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"))
    bound_at = models.DateTimeField(_("bound"))
    bound_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("bound by"),
    )
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    # Why the last socket ended: a dropped connection is expected back, a revoked one not.
    offline_reason = models.CharField(
        _("why it went offline"), max_length=40, blank=True, editable=False
    )
    offline_at = models.DateTimeField(_("went offline"), null=True, blank=True, editable=False)
    # The channel of the socket that holds the device, if any (DEV-2).
    connection = models.CharField(max_length=200, blank=True, editable=False)
    connected_at = models.DateTimeField(_("connected"), null=True, blank=True)
    # The highest agent event seq stored; the next expected one is this + 1 (DEV-4).
    last_acked_seq = models.BigIntegerField(default=0, editable=False)
    # The relay's own counter of everything in this device's event stream (DEV-5).
    stream_seq = models.BigIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["name", "device_id"]
        indexes = [models.Index(fields=["owner", "name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.device_id})"


class DeviceToken(models.Model):
    class Reason(models.TextChoices):
        REINSTALLED = "reinstalled", _("Replaced by a reinstall")
        REBOUND = "rebound", _("Device moved to another account")
        REVOKED = "revoked", _("Revoked")

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    # The first characters of the plaintext, so people can tell tokens apart.
    hint = models.CharField(max_length=12)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=16, choices=Reason, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("device token")
        verbose_name_plural = _("device tokens")
        constraints = [
            models.UniqueConstraint(
                fields=["device"],
                condition=Q(revoked_at__isnull=True),
                name="one_active_token_per_device",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | ~Q(revoked_reason=""),
                name="revoked_token_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hint}…"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
