"""The wallet ledger and monthly cards (SPEC WAL-1 … WAL-5) through wallet.actions, the
audit command, and the user's wallet API (CON-9)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.models import AuditRecord
from codexpanel.errors import ActionError
from devices.access import check_device_quota, device_quota
from wallet import actions
from wallet.models import CardPlan, Entitlement, LedgerEntry, Wallet

from .realtime import make_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan() -> CardPlan:
    return CardPlan.objects.create(
        code="pro", name="Pro", price=3000, duration_days=30, device_quota=5
    )


def recharge(user, amount: int, key: str = "r1", kind: str = "recharge"):
    return actions.adjust(user, kind=kind, amount=amount, reason="top-up", idempotency_key=key)


def test_adjustments_append_entries_whose_running_balance_is_the_wallet(ada):
    recharge(ada, 500, "a")
    actions.adjust(ada, kind="deduct", amount=-120, reason="usage", idempotency_key="b")
    actions.adjust(ada, kind="correction", amount=-30, reason="typo", idempotency_key="c")
    entries = list(
        LedgerEntry.objects.order_by("id").values_list("kind", "amount", "balance_after")
    )
    assert entries == [("recharge", 500, 500), ("deduct", -120, 380), ("correction", -30, 350)]
    assert Wallet.objects.get(user=ada).balance == 350


def test_a_deduction_beyond_the_balance_is_refused_and_changes_nothing(ada):
    recharge(ada, 100)
    with pytest.raises(ActionError) as refused:
        actions.adjust(ada, kind="deduct", amount=-101, reason="too much", idempotency_key="d")
    assert refused.value.code == "insufficient_balance" and refused.value.status == 409
    assert Wallet.objects.get(user=ada).balance == 100
    assert LedgerEntry.objects.count() == 1


def test_the_same_key_and_request_returns_the_first_result_and_writes_nothing(ada):
    first = recharge(ada, 250, "same")
    again = recharge(ada, 250, "same")
    assert again.replayed and again.entry.pk == first.entry.pk
    assert Wallet.objects.get(user=ada).balance == 250
    assert AuditRecord.objects.filter(action="wallet.adjust").count() == 1


def test_the_same_key_with_a_different_request_is_refused(ada):
    recharge(ada, 250, "same")
    with pytest.raises(ActionError) as refused:
        recharge(ada, 999, "same")
    assert refused.value.code == "idempotency_key_reused"
    assert Wallet.objects.get(user=ada).balance == 250


@pytest.mark.parametrize(
    ("kind", "amount", "code"),
    [
        ("recharge", -5, "invalid_amount"),
        ("deduct", 5, "invalid_amount"),
        ("gift", 0, "invalid_amount"),
        ("card_purchase", -5, "invalid_kind"),
        ("bonus", 5, "invalid_kind"),
    ],
)
def test_an_amount_that_does_not_fit_its_kind_is_refused(ada, kind, amount, code):
    with pytest.raises(ActionError) as refused:
        actions.adjust(ada, kind=kind, amount=amount, reason="x", idempotency_key="k")
    assert refused.value.code == code
    assert not LedgerEntry.objects.exists()


def test_an_adjustment_needs_an_idempotency_key(ada):
    with pytest.raises(ActionError) as refused:
        actions.adjust(ada, kind="gift", amount=5, reason="x", idempotency_key=" ")
    assert refused.value.code == "invalid_idempotency_key"


def test_ledger_entries_cannot_be_changed_or_deleted(ada):
    entry = recharge(ada, 10).entry
    entry.amount = 10_000
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


def test_the_audit_command_passes_a_clean_ledger_and_fails_a_tampered_one(ada, make_user):
    recharge(ada, 10)
    recharge(make_user("bob"), 20)
    out = io.StringIO()
    call_command("audit_wallets", stdout=out)
    assert "2 wallet(s) checked" in out.getvalue()
    Wallet.objects.filter(user=ada).update(balance=11)
    errors = io.StringIO()
    with pytest.raises(CommandError, match="1 mismatch"):
        call_command("audit_wallets", stderr=errors)
    assert "balance is 11, the entries add up to 10" in errors.getvalue()


def test_buying_a_card_pays_from_the_balance_and_raises_the_device_quota(ada, plan):
    recharge(ada, 5000)
    assert device_quota(ada) == 1
    bought = actions.buy_card(ada, "pro", "buy-1")
    assert bought.entry.kind == "card_purchase" and bought.entry.amount == -3000
    assert Wallet.objects.get(user=ada).balance == 2000
    assert bought.entitlement.purchase == bought.entry
    assert device_quota(ada) == 5
    again = actions.buy_card(ada, "pro", "buy-1")
    assert again.replayed and again.entitlement.pk == bought.entitlement.pk
    assert Wallet.objects.get(user=ada).balance == 2000


def test_a_card_bought_while_one_is_held_starts_when_it_ends(ada, plan, clock):
    recharge(ada, 9000)
    first = actions.buy_card(ada, "pro", "buy-1").entitlement
    second = actions.buy_card(ada, "pro", "buy-2").entitlement
    assert second.starts_at == first.ends_at
    assert second.ends_at == first.ends_at + timedelta(days=30)


def test_a_card_the_balance_cannot_pay_for_is_refused(ada, plan):
    recharge(ada, 2999)
    with pytest.raises(ActionError) as refused:
        actions.buy_card(ada, "pro", "buy-1")
    assert refused.value.code == "insufficient_balance"
    assert not Entitlement.objects.exists()
    assert Wallet.objects.get(user=ada).balance == 2999


def test_renewal_extends_from_the_later_of_now_and_the_current_end(ada, plan, clock, make_user):
    boss = make_user("boss")
    card = actions.grant_card(ada, plan, boss)
    end = card.ends_at
    clock.advance(days=10)
    renewed = actions.renew_card(card, boss)
    assert renewed.ends_at == end + timedelta(days=30)  # still running: from its end
    clock.advance(days=100)
    lapsed = actions.renew_card(renewed, boss)
    assert lapsed.ends_at == clock() + timedelta(days=30)  # lapsed: from now
    assert [r.action for r in AuditRecord.objects.order_by("id")] == [
        "card.grant",
        "card.renew",
        "card.renew",
    ]


@override_settings(CODEXPANEL_FREE_DEVICE_QUOTA=1)
def test_revoking_a_card_drops_the_quota_and_a_bind_beyond_it_is_refused(ada, plan, make_user):
    boss = make_user("boss")
    card = actions.grant_card(ada, plan, boss)
    make_device(ada, "desk-0001-aaaaaa")
    make_device(ada, "desk-0002-bbbbbb")
    check_device_quota(ada, "desk-0003-cccccc")  # within the card's 5
    actions.revoke_card(card, boss)
    assert device_quota(ada) == 1
    with pytest.raises(ActionError) as refused:
        check_device_quota(ada, "desk-0003-cccccc")
    assert refused.value.code == "device_quota_exceeded"
    with pytest.raises(ActionError) as again:
        actions.renew_card(card, boss)
    assert again.value.code == "card_revoked"


def test_an_expired_card_no_longer_counts(ada, plan, clock, make_user):
    actions.grant_card(ada, plan, make_user("boss"))
    clock.advance(days=31)
    assert device_quota(ada) == 1


# --- the user's wallet API -------------------------------------------------------------


def test_the_wallet_api_shows_balance_quota_cards_and_plans(person, ada, plan, paired):
    recharge(ada, 4000)
    actions.buy_card(ada, "pro", "buy-1")
    wallet = person.client.get("/api/wallet").json()
    assert wallet["balance"] == 1000
    assert wallet["deviceQuota"] == 5 and wallet["devicesUsed"] == 1
    assert [card["plan"]["code"] for card in wallet["cards"]] == ["pro"]
    assert wallet["plans"][0] == {
        "code": "pro",
        "name": "Pro",
        "price": 3000,
        "durationDays": 30,
        "deviceQuota": 5,
    }


def test_the_ledger_api_pages_newest_first_and_shows_only_my_entries(person, ada, make_user):
    for n in range(5):
        recharge(ada, 10 + n, f"k{n}")
    recharge(make_user("bob"), 99, "bobs")
    first = person.client.get("/api/wallet/ledger?limit=3").json()
    assert [e["amount"] for e in first["entries"]] == [14, 13, 12]
    rest = person.client.get(f"/api/wallet/ledger?limit=3&before={first['before']}").json()
    assert [e["amount"] for e in rest["entries"]] == [11, 10] and rest["before"] is None


def test_buying_a_card_over_the_api_is_idempotent(person, ada, plan):
    recharge(ada, 3000)
    body = {"plan": "pro", "idempotencyKey": "phone-tap-1"}
    first = person.post("/api/wallet/cards", body)
    assert first.status_code == 201 and first.json()["balance"] == 0
    again = person.post("/api/wallet/cards", body)
    assert again.status_code == 200 and again.json() == first.json()
    assert Entitlement.objects.count() == 1


def test_the_card_api_refuses_clearly_and_changes_nothing(person, ada, plan):
    recharge(ada, 100)
    poor = person.post("/api/wallet/cards", {"plan": "pro", "idempotencyKey": "k1"})
    assert poor.status_code == 409 and poor.json()["error"]["code"] == "insufficient_balance"
    missing = person.post("/api/wallet/cards", {"plan": "gold", "idempotencyKey": "k2"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "plan_not_found"
    keyless = person.post("/api/wallet/cards", {"plan": "pro"})
    assert keyless.status_code == 400
    assert Wallet.objects.get(user=ada).balance == 100 and not Entitlement.objects.exists()


def test_signed_out_visitors_have_no_wallet(client):
    assert client.get("/api/wallet").status_code in (401, 403)
    assert client.post("/api/wallet/cards", {}).status_code in (401, 403)


def test_a_bad_ledger_position_is_refused_clearly(person):
    answer = person.client.get("/api/wallet/ledger?before=yesterday")
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "invalid_request",
        "message": "before must be a whole number.",
    }
