"""Every change to money and cards (SPEC WAL-1 … WAL-4). Views, the admin and the shell
call these; each locks the wallet row, so concurrent changes of one wallet queue up
instead of losing an update, and an idempotency key makes a retried request harmless."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from accounts import audit
from accounts.models import User
from codexpanel import clock
from codexpanel.errors import ActionError

from .models import LEDGER_MAX, CardPlan, Entitlement, LedgerEntry, Wallet
from .money import format_money

MAX_KEY_LENGTH = 128
ADJUSTABLE = {
    LedgerEntry.Kind.RECHARGE,
    LedgerEntry.Kind.GIFT,
    LedgerEntry.Kind.DEDUCT,
    LedgerEntry.Kind.REFUND,
    LedgerEntry.Kind.CORRECTION,
}


@dataclass(frozen=True)
class Adjusted:
    entry: LedgerEntry
    # True when the key had been used for this same request before: nothing was written.
    replayed: bool


@dataclass(frozen=True)
class Purchased:
    entitlement: Entitlement
    entry: LedgerEntry
    replayed: bool


def _digest(**request: Any) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ActionError(
            "invalid_idempotency_key",
            _("An idempotency key of 1 to %(max)d characters is required.")
            % {"max": MAX_KEY_LENGTH},
        )


def _locked_wallet(user: User) -> Wallet:
    Wallet.objects.get_or_create(user=user)
    return Wallet.objects.select_for_update().get(user=user)


def _earlier(wallet: Wallet, key: str, digest: str) -> LedgerEntry | None:
    entry = wallet.entries.filter(idempotency_key=key).first()
    if entry is not None and entry.request_digest != digest:
        raise ActionError(
            "idempotency_key_reused",
            _("This idempotency key was already used for a different request."),
            409,
        )
    return entry


def _append(
    wallet: Wallet,
    kind: str,
    amount: int,
    reason: str,
    actor: User | None,
    key: str,
    digest: str,
) -> LedgerEntry:
    balance = wallet.balance + amount
    if balance > LEDGER_MAX:
        raise ActionError(
            "balance_too_large",
            _(
                "The balance (%(balance)s) cannot grow by %(amount)s: a balance holds at most "
                "%(limit)s."
            )
            % {
                "balance": format_money(wallet.balance),
                "amount": format_money(amount),
                "limit": format_money(LEDGER_MAX),
            },
            409,
        )
    if balance < 0:
        raise ActionError(
            "insufficient_balance",
            _("The balance (%(balance)s) does not cover %(amount)s.")
            % {"balance": format_money(wallet.balance), "amount": format_money(-amount)},
            409,
        )
    entry = LedgerEntry.objects.create(
        wallet=wallet,
        kind=kind,
        amount=amount,
        balance_after=balance,
        reason=reason,
        actor=actor,
        idempotency_key=key,
        request_digest=digest,
    )
    wallet.balance = balance
    wallet.save(update_fields=["balance", "updated_at"])
    return entry


def _check_amount(kind: str, amount: int) -> None:
    if kind not in ADJUSTABLE:
        raise ActionError("invalid_kind", _("That kind of entry cannot be made by hand."))
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ActionError("invalid_amount", _("The amount is a non-zero whole number."))
    if (kind in LedgerEntry.CREDITS and amount < 0) or (kind in LedgerEntry.DEBITS and amount > 0):
        raise ActionError(
            "invalid_amount",
            _("A %(kind)s adds money and a deduction takes it: the sign does not match.")
            % {"kind": kind},
        )


@transaction.atomic
def adjust(
    user: User,
    *,
    kind: str,
    amount: int,
    reason: str,
    idempotency_key: str,
    actor: User | None = None,
) -> Adjusted:
    """Recharge, gift, deduct, refund or correct: amount is the signed change."""
    _check_key(idempotency_key)
    _check_amount(kind, amount)
    digest = _digest(user=user.pk, kind=kind, amount=amount, reason=reason)
    wallet = _locked_wallet(user)
    earlier = _earlier(wallet, idempotency_key, digest)
    if earlier is not None:
        return Adjusted(earlier, replayed=True)
    before = wallet.balance
    entry = _append(wallet, kind, amount, reason[:500], actor, idempotency_key, digest)
    audit.record(
        actor,
        "wallet.adjust",
        user,
        subject=f"{kind} {amount:+d}: {reason}",
        before={"balance": before},
        after={"balance": entry.balance_after, "entry": entry.pk},
    )
    return Adjusted(entry, replayed=False)


def _latest_end(user: User, plan: CardPlan) -> Any:
    return Entitlement.objects.filter(user=user, plan=plan, revoked_at__isnull=True).aggregate(
        end=Max("ends_at")
    )["end"]


@transaction.atomic
def buy_card(user: User, plan_code: str, idempotency_key: str) -> Purchased:
    """Pay for a card from the balance; it starts when the same card already held ends."""
    _check_key(idempotency_key)
    plan = CardPlan.objects.filter(code=plan_code, purchasable=True).first()
    if plan is None:
        raise ActionError("plan_not_found", _("There is no such card on sale."), 404)
    digest = _digest(user=user.pk, kind="card_purchase", plan=plan.code)
    wallet = _locked_wallet(user)
    earlier = _earlier(wallet, idempotency_key, digest)
    if earlier is not None:
        return Purchased(earlier.entitlement, earlier, replayed=True)
    entry = _append(
        wallet,
        LedgerEntry.Kind.CARD_PURCHASE,
        -plan.price,
        plan.name,
        user,
        idempotency_key,
        digest,
    )
    now = clock.now()
    start = max(now, _latest_end(user, plan) or now)
    entitlement = Entitlement.objects.create(
        user=user,
        plan=plan,
        source=Entitlement.Source.PURCHASE,
        starts_at=start,
        ends_at=start + timedelta(days=plan.duration_days),
        purchase=entry,
    )
    return Purchased(entitlement, entry, replayed=False)


def _card_state(entitlement: Entitlement) -> dict[str, Any]:
    return {
        "plan": entitlement.plan.code,
        "endsAt": entitlement.ends_at.isoformat(),
        "revoked": entitlement.revoked_at is not None,
    }


@transaction.atomic
def grant_card(user: User, plan: CardPlan, actor: User | None) -> Entitlement:
    now = clock.now()
    entitlement = Entitlement.objects.create(
        user=user,
        plan=plan,
        source=Entitlement.Source.GRANT,
        starts_at=now,
        ends_at=now + timedelta(days=plan.duration_days),
    )
    audit.record(actor, "card.grant", user, subject=str(plan), after=_card_state(entitlement))
    return entitlement


def _locked_card(entitlement: Entitlement) -> Entitlement:
    return (
        Entitlement.objects.select_for_update()
        .select_related("plan", "user")
        .get(pk=entitlement.pk)
    )


@transaction.atomic
def renew_card(entitlement: Entitlement, actor: User | None) -> Entitlement:
    """Extend by the plan's length from the later of now and the card's current end."""
    card = _locked_card(entitlement)
    if card.revoked_at is not None:
        raise ActionError("card_revoked", _("A revoked card cannot be renewed."), 409)
    before = _card_state(card)
    card.ends_at = max(clock.now(), card.ends_at) + timedelta(days=card.plan.duration_days)
    card.save(update_fields=["ends_at"])
    audit.record(
        actor,
        "card.renew",
        card.user,
        subject=str(card.plan),
        before=before,
        after=_card_state(card),
    )
    return card


@transaction.atomic
def revoke_card(entitlement: Entitlement, actor: User | None) -> Entitlement:
    card = _locked_card(entitlement)
    if card.revoked_at is None:
        before = _card_state(card)
        card.revoked_at = clock.now()
        card.save(update_fields=["revoked_at"])
        audit.record(
            actor,
            "card.revoke",
            card.user,
            subject=str(card.plan),
            before=before,
            after=_card_state(card),
        )
    return card
