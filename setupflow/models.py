"""Desktop setup flows (SPEC §2): one computer asking to be paired with an account.

The shape is RFC 8628's device authorization grant. The installer holds flowSecret; the
person holds the short code, shown in the terminal and carried by the setup link. Only
hashes of every secret are stored. The device and setup tokens are minted at the moment the
installer collects them, so their plaintext never reaches the database.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# RFC 8628 §6.1: consonants only, so no code spells a word and none is mistyped for
# another (no vowels, no 0/O or 1/I).
CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
CODE_LENGTH = 8


def normalize_code(raw: str) -> str:
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


class SetupFlow(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        COMPLETED = "completed", _("Completed")
        DENIED = "denied", _("Denied")

    class DeniedReason(models.TextChoices):
        CODE_ATTEMPTS = "code_attempts", _("Too many wrong codes")
        BY_USER = "by_user", _("Cancelled in the browser")

    flow_id = models.CharField(max_length=40, unique=True)
    secret_hash = models.CharField(max_length=64)
    code_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State, default=State.PENDING)
    denied_reason = models.CharField(max_length=16, choices=DeniedReason, blank=True)

    # The installer's profile of the computer (SET-1).
    device_id = models.CharField(max_length=128)
    device_name = models.CharField(max_length=200)
    workspace = models.CharField(max_length=1024, blank=True)
    platform = models.CharField(max_length=64, blank=True)
    agent_version = models.CharField(max_length=32, blank=True)
    started_from = models.CharField(max_length=64, blank=True)
    # The installer presented this computer's current device token: proof that whoever
    # runs it holds the computer, which moving it to another account requires (SET-4).
    holds_device_token = models.BooleanField(default=False)

    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    interval = models.PositiveSmallIntegerField()
    last_polled_at = models.DateTimeField(null=True, blank=True)
    wrong_attempts = models.PositiveSmallIntegerField(default=0)

    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The permission groups the approver held when approving (SET-3).
    approved_by_groups = models.JSONField(default=list, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    rebind_confirmed = models.BooleanField(default=False)

    # One-time terminal token (SET-6), made by approved_by's session on the setup page.
    terminal_token_hash = models.CharField(max_length=64, blank=True)
    terminal_token_expires_at = models.DateTimeField(null=True, blank=True)
    terminal_token_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )

    # Filled when the installer collects its tokens; the device token's hash becomes the
    # device's active token only at complete.
    handed_off_at = models.DateTimeField(null=True, blank=True)
    device_token_hash = models.CharField(max_length=64, blank=True)
    device_token_hint = models.CharField(max_length=12, blank=True)
    setup_token_hash = models.CharField(max_length=64, blank=True)
    setup_token_expires_at = models.DateTimeField(null=True, blank=True)

    completed_at = models.DateTimeField(null=True, blank=True)
    previous_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("setup flow")
        verbose_name_plural = _("setup flows")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "expires_at"]),
            models.Index(
                fields=["setup_token_hash"],
                condition=~Q(setup_token_hash=""),
                name="setupflow_setup_token",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["pending", "denied"]) | Q(approved_at__isnull=False),
                name="approved_flow_has_approval",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device_name} ({self.flow_id})"

    @staticmethod
    def hash_code(flow_id: str, code: str) -> str:
        # The code is short, so unlike the long secrets it is hashed with a key.
        key = settings.SECRET_KEY.encode()
        return hmac.new(
            key, f"{flow_id}:{normalize_code(code)}".encode(), hashlib.sha256
        ).hexdigest()

    def code_matches(self, code: str) -> bool:
        return hmac.compare_digest(self.hash_code(self.flow_id, code), self.code_hash)

    def is_expired(self, now: datetime) -> bool:
        """Past its lifetime: a flow must be approved and collected within expires_at, and
        once collected, completed while the setup token lives."""
        if self.state == self.State.PENDING:
            return self.expires_at <= now
        if self.state == self.State.APPROVED:
            if self.handed_off_at is None:
                return self.expires_at <= now
            return self.setup_token_expires_at is not None and self.setup_token_expires_at <= now
        return False
