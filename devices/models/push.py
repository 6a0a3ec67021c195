"""Web Push (SPEC CON-6): the relay's VAPID key, each browser's subscription, and the
single-use tokens a notification's Approve and Decline carry."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .device import Device

# What a person may be told about, each switched on or off per browser.
PUSH_KINDS = ("waiting", "turnEnded", "offline")


def all_kinds() -> list[str]:
    return list(PUSH_KINDS)


class VapidKey(models.Model):
    """The relay's own VAPID key pair (RFC 8292), made on first use and kept: browsers
    bind their subscriptions to its public key."""

    private_pem = models.TextField(editable=False)
    public_key = models.CharField(max_length=100, editable=False)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("VAPID key")

    def __str__(self) -> str:
        return self.public_key[:16]


class PushSubscription(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(_("push service endpoint"), max_length=1000, unique=True)
    p256dh = models.CharField(max_length=120)
    auth = models.CharField(max_length=40)
    kinds = models.JSONField(_("what it is told about"), default=all_kinds)
    label = models.CharField(_("browser"), max_length=120, blank=True)
    # The browser session that subscribed: signing out there ends the subscription.
    session_key = models.CharField(max_length=40, blank=True, editable=False)
    created_at = models.DateTimeField(_("subscribed"))
    last_sent_at = models.DateTimeField(_("last notification"), null=True, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return f"{self.user} · {self.label or self.endpoint[:40]}"


class PushAction(models.Model):
    """An answer a notification may give once: this decision, to this request, as this
    person, until it expires. Only the token's hash is kept."""

    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    request_id = models.CharField(max_length=128)
    decision = models.JSONField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.request_id} · {self.decision}"
