"""Wallets, their append-only ledger, and monthly cards (SPEC WAL-1 … WAL-5).

Money is an integer number of minor units. A wallet's balance is a cached total that only
wallet.actions writes, under a row lock, in the same transaction as the entry that
changes it; the database refuses a negative balance or an entry that breaks the sign rules
of its kind, and entries cannot be changed or deleted once written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .money import format_money


class Wallet(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet"
    )
    balance = models.BigIntegerField(_("balance"), default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_never_negative")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {format_money(self.balance)}"


class AppendOnly(models.Model):
    """Rows that are history: written once, never changed or deleted."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"{type(self).__name__} rows are append-only.")


class LedgerEntry(AppendOnly):
    class Kind(models.TextChoices):
        RECHARGE = "recharge", _("Recharge")
        GIFT = "gift", _("Gift")
        DEDUCT = "deduct", _("Deduct")
        CARD_PURCHASE = "card_purchase", _("Card purchase")
        REFUND = "refund", _("Refund")
        CORRECTION = "correction", _("Correction")

    CREDITS = (Kind.RECHARGE, Kind.GIFT, Kind.REFUND)
    DEBITS = (Kind.DEDUCT, Kind.CARD_PURCHASE)

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind)
    amount = models.BigIntegerField(_("amount"))
    balance_after = models.BigIntegerField(_("balance after"))
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    # What was asked for under the key, so a reuse with a different request is caught.
    request_digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["wallet", "idempotency_key"], name="ledger_idempotency_key_once"
            ),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_never_negative"),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["recharge", "gift", "refund"], amount__gt=0)
                    | Q(kind__in=["deduct", "card_purchase"], amount__lt=0)
                    | (Q(kind="correction") & ~Q(amount=0))
                ),
                name="ledger_amount_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        sign = "+" if self.amount > 0 else ""
        after = format_money(self.balance_after)
        return f"{self.get_kind_display()} {sign}{format_money(self.amount)} → {after}"


# What a ledger column holds (a signed 64-bit integer, on SQLite and PostgreSQL alike):
# no amount or balance may go beyond it.
LEDGER_MAX = 2**63 - 1
# A card lasts at most a hundred years and allows at most ten thousand computers: beyond
# that, the dates it makes and the quota it gives mean nothing.
MAX_CARD_DAYS = 36_500
MAX_CARD_DEVICES = 10_000


class CardPlan(models.Model):
    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=120)
    price = models.BigIntegerField(
        _("price"),
        help_text=_("In minor units."),
        validators=[MinValueValidator(1), MaxValueValidator(LEDGER_MAX)],
    )
    duration_days = models.PositiveIntegerField(
        _("duration (days)"), validators=[MinValueValidator(1), MaxValueValidator(MAX_CARD_DAYS)]
    )
    device_quota = models.PositiveIntegerField(
        _("device quota"),
        validators=[MinValueValidator(1), MaxValueValidator(MAX_CARD_DEVICES)],
    )
    purchasable = models.BooleanField(
        _("on sale"), default=True, help_text=_("Users may buy it from their balance.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("card plan")
        verbose_name_plural = _("card plans")
        ordering = ["price", "code"]
        constraints = [
            # Free cards are granted by operators, not bought.
            models.CheckConstraint(condition=Q(price__gt=0), name="card_has_a_price"),
            models.CheckConstraint(condition=Q(duration_days__gt=0), name="card_lasts"),
            models.CheckConstraint(condition=Q(device_quota__gt=0), name="card_allows_devices"),
        ]

    def __str__(self) -> str:
        return self.name


class Entitlement(models.Model):
    """One card held by one user: active from starts_at until ends_at unless revoked."""

    class Source(models.TextChoices):
        PURCHASE = "purchase", _("Bought from the balance")
        GRANT = "grant", _("Granted by an operator")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="entitlements"
    )
    plan = models.ForeignKey(CardPlan, on_delete=models.PROTECT, related_name="entitlements")
    source = models.CharField(_("source"), max_length=16, choices=Source)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    # The payment of a bought card: a replayed purchase finds its card through it.
    purchase = models.OneToOneField(
        LedgerEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entitlement",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("monthly card")
        verbose_name_plural = _("monthly cards")
        ordering = ["-ends_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="entitlement_has_length"
            )
        ]
        indexes = [models.Index(fields=["user", "ends_at"])]

    def __str__(self) -> str:
        return f"{self.plan} · {self.user}"

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.starts_at <= now < self.ends_at
