"""The operators' console (SPEC ADM-1 … ADM-5): every operation works through the admin,
calls the same actions as the API and leaves an audit record; an operator without the
operation's scope is refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from accounts.groups import ensure_default_groups
from accounts.models import AuditRecord, User
from devices.models import Device
from wallet import actions
from wallet.models import CardPlan, Entitlement, Wallet

from .conftest import PASSWORD
from .realtime import make_device

pytestmark = pytest.mark.django_db


def admin_client(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def boss(make_user) -> User:
    user = make_user("boss")
    user.groups.add(ensure_default_groups())
    return user


@pytest.fixture
def operator(boss) -> Client:
    return admin_client(boss)


@pytest.fixture
def helpdesk(make_user) -> Client:
    """Can open the admin, but holds neither adjust_wallet nor manage_cards."""
    user = make_user("helpdesk")
    group = Group.objects.create(name="Helpdesk")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    user.groups.add(group)
    return admin_client(user)


@pytest.fixture
def plan() -> CardPlan:
    return CardPlan.objects.create(
        code="pro", name="Pro", price=3000, duration_days=30, device_quota=5
    )


def audited(action: str) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=action))


def adjust(client: Client, user: User, **fields):
    form = {"kind": "recharge", "amount": "5", "reason": "first payment", "idempotency_key": "k1"}
    return client.post(f"/admin/wallet/wallet/adjust/{user.pk}/", {**form, **fields})


def test_an_operator_recharges_gifts_and_deducts_with_an_idempotency_key(operator, boss, ada):
    assert operator.get(f"/admin/wallet/wallet/adjust/{ada.pk}/").status_code == 200
    assert adjust(operator, ada).status_code == 302
    assert adjust(operator, ada).status_code == 302  # the same form again
    adjust(operator, ada, kind="gift", amount="0.50", idempotency_key="k2")
    adjust(operator, ada, kind="deduct", amount="1.20", idempotency_key="k3")
    assert Wallet.objects.get(user=ada).balance == 430
    records = audited("wallet.adjust")
    assert len(records) == 3
    assert records[-1].actor == boss and records[-1].target_user == ada
    assert records[-1].before == {"balance": 0} and records[-1].after["balance"] == 500


def test_a_deduction_beyond_the_balance_is_shown_as_an_error(operator, ada):
    page = adjust(operator, ada, kind="deduct", amount="0.01")
    assert page.status_code == 200 and "does not cover ¥0.01" in page.text
    assert not Wallet.objects.filter(user=ada, balance__lt=0).exists()


def test_the_ledger_is_read_only_in_the_admin(operator, ada):
    adjust(operator, ada)
    wallet = Wallet.objects.get(user=ada)
    page = operator.get(f"/admin/wallet/wallet/{wallet.pk}/change/")
    assert page.status_code == 200 and "first payment" in page.text
    entry = wallet.entries.get()
    assert operator.get(f"/admin/wallet/ledgerentry/{entry.pk}/delete/").status_code == 403
    assert operator.post(f"/admin/wallet/ledgerentry/{entry.pk}/change/", {}).status_code == 403
    assert operator.get("/admin/wallet/ledgerentry/add/").status_code == 403


def test_an_operator_without_the_scope_is_refused(helpdesk, ada, plan):
    assert helpdesk.get(f"/admin/wallet/wallet/adjust/{ada.pk}/").status_code == 403
    assert adjust(helpdesk, ada).status_code == 403
    assert helpdesk.get("/admin/wallet/wallet/").status_code == 403
    assert helpdesk.get("/admin/wallet/entitlement/add/").status_code == 403
    assert (
        helpdesk.post(
            "/admin/wallet/entitlement/add/", {"user": ada.pk, "plan": plan.pk}
        ).status_code
        == 403
    )
    assert not Wallet.objects.exists() and not Entitlement.objects.exists()


def test_an_operator_without_manage_users_cannot_touch_accounts(helpdesk, ada):
    assert helpdesk.get("/admin/accounts/user/").status_code == 403
    changed = helpdesk.post(
        "/admin/accounts/user/", {"action": "disable_users", "_selected_action": [ada.pk]}
    )
    assert changed.status_code == 403
    ada.refresh_from_db()
    assert ada.is_active and not AuditRecord.objects.exists()


def test_cards_are_granted_renewed_and_revoked_from_the_admin(operator, boss, ada, plan):
    added = operator.post("/admin/wallet/entitlement/add/", {"user": ada.pk, "plan": plan.pk})
    assert added.status_code == 302
    card = Entitlement.objects.get()
    assert card.source == "grant"
    page = operator.get("/admin/wallet/entitlement/")
    assert "quota" in page.text.lower()
    end = card.ends_at
    changelist = "/admin/wallet/entitlement/"
    operator.post(changelist, {"action": "renew_cards", "_selected_action": [card.pk]})
    card.refresh_from_db()
    assert (card.ends_at - end).days == 30
    operator.post(changelist, {"action": "revoke_cards", "_selected_action": [card.pk]})
    card.refresh_from_db()
    assert card.revoked_at is not None
    assert [r.action for r in AuditRecord.objects.order_by("id")] == [
        "card.grant",
        "card.renew",
        "card.revoke",
    ]
    assert all(r.actor == boss and r.target_user == ada for r in AuditRecord.objects.all())


def device_form(device: Device, owner: User) -> dict:
    """The change form as the admin page posts it: the owner and the tokens inline."""
    tokens = list(device.tokens.values_list("pk", flat=True))
    form = {
        "owner": owner.pk,
        "tokens-TOTAL_FORMS": str(len(tokens)),
        "tokens-INITIAL_FORMS": str(len(tokens)),
        "tokens-MIN_NUM_FORMS": "0",
        "tokens-MAX_NUM_FORMS": "1000",
    }
    for index, token in enumerate(tokens):
        form[f"tokens-{index}-id"] = str(token)
        form[f"tokens-{index}-device"] = str(device.pk)
    return form


def test_a_device_is_bound_to_another_user_within_their_quota(operator, boss, ada, make_user):
    bob = make_user("bob")
    device, _token = make_device(ada, "desk-0001-aaaaaa")
    page = operator.post(f"/admin/devices/device/{device.pk}/change/", device_form(device, bob))
    assert page.status_code == 302
    device.refresh_from_db()
    assert device.owner == bob and device.bound_by == boss
    record = audited("device.bind")[0]
    assert record.before == {"owner": ada.user_id} and record.after == {"owner": bob.user_id}
    # bob's one free place is taken now: another device cannot be moved to him.
    other, _token = make_device(ada, "desk-0002-bbbbbb")
    refused = operator.post(f"/admin/devices/device/{other.pk}/change/", device_form(other, bob))
    assert refused.status_code == 200 and "quota" in refused.text.lower()
    assert Device.objects.get(pk=other.pk).owner == ada


def test_an_operator_without_operate_any_device_cannot_touch_devices(helpdesk, ada):
    device, _token = make_device(ada, "desk-0001-aaaaaa")
    assert helpdesk.get(f"/admin/devices/device/{device.pk}/change/").status_code == 403
    changelist = "/admin/devices/device/"
    refused = helpdesk.post(
        changelist, {"action": "disable_devices", "_selected_action": [device.pk]}
    )
    assert refused.status_code == 403
    assert Device.objects.get(pk=device.pk).enabled and not AuditRecord.objects.exists()


def test_the_user_page_shows_the_wallet_and_links_the_money_operations(operator, ada, plan):
    actions.adjust(ada, kind="gift", amount=25, reason="welcome", idempotency_key="w")
    page = operator.get(f"/admin/accounts/user/{ada.pk}/change/")
    assert "balance ¥0.25" in page.text and "device quota 1" in page.text
    assert f"/admin/wallet/wallet/adjust/{ada.pk}/" in page.text
    grant = operator.get(f"/admin/wallet/entitlement/add/?user={ada.pk}")
    assert f'<option value="{ada.pk}" selected>' in grant.text


def test_device_disable_and_token_revocation_are_audited(operator, ada):
    device, _token = make_device(ada, "desk-0001-aaaaaa")
    changelist = "/admin/devices/device/"
    operator.post(changelist, {"action": "disable_devices", "_selected_action": [device.pk]})
    operator.post(changelist, {"action": "revoke_tokens", "_selected_action": [device.pk]})
    assert [r.action for r in AuditRecord.objects.order_by("id")] == [
        "device.disable",
        "device.revoke_token",
    ]


def test_user_state_groups_and_password_resets_are_audited(operator, boss, ada):
    changelist = "/admin/accounts/user/"
    operator.post(changelist, {"action": "disable_users", "_selected_action": [ada.pk]})
    ada.refresh_from_db()
    assert not ada.is_active
    support = Group.objects.create(name="Support")
    form = {
        "username": "ada",
        "user_id": ada.user_id,
        "email": "",
        "is_active": "on",
        "groups": [support.pk],
    }
    assert operator.post(f"/admin/accounts/user/{ada.pk}/change/", form).status_code == 302
    adas_phone = admin_client(ada)
    assert adas_phone.get("/api/iam/auth/status").json()["authenticated"] is True
    reset = operator.post(
        f"/admin/accounts/user/{ada.pk}/password/",
        {"password1": "a new long passphrase 77", "password2": "a new long passphrase 77"},
    )
    assert reset.status_code == 302
    ada.refresh_from_db()
    assert ada.check_password("a new long passphrase 77")
    assert adas_phone.get("/api/iam/auth/status").json()["authenticated"] is False
    assert [r.action for r in AuditRecord.objects.order_by("id")] == [
        "user.disable",
        "user.enable",
        "user.groups",
        "user.password_reset",
    ]
    assert AuditRecord.objects.get(action="user.groups").after == {"groups": ["Support"]}


def test_a_test_user_is_rolled_back_entirely_from_the_admin(operator, ada, plan):
    adjust(operator, ada, amount="30")
    actions.buy_card(ada, "pro", "tap-1")
    card = Entitlement.objects.get()
    operator.post(
        "/admin/accounts/user/", {"action": "disable_users", "_selected_action": [ada.pk]}
    )
    operator.post(
        "/admin/wallet/entitlement/", {"action": "revoke_cards", "_selected_action": [card.pk]}
    )
    adjust(operator, ada, kind="refund", amount="30", reason="trial over", idempotency_key="k9")
    adjust(
        operator, ada, kind="deduct", amount="30", reason="refund paid out", idempotency_key="k10"
    )
    ada.refresh_from_db()
    card.refresh_from_db()
    assert not ada.is_active and card.revoked_at is not None
    assert Wallet.objects.get(user=ada).balance == 0
    assert {r.action for r in AuditRecord.objects.all()} >= {
        "user.disable",
        "card.revoke",
        "wallet.adjust",
    }


def test_audit_records_are_read_only(operator, ada):
    adjust(operator, ada)
    record = AuditRecord.objects.get()
    assert operator.get("/admin/accounts/auditrecord/").status_code == 200
    assert operator.get("/admin/accounts/auditrecord/add/").status_code == 403
    assert operator.get(f"/admin/accounts/auditrecord/{record.pk}/delete/").status_code == 403


@pytest.mark.parametrize("amount", [str(10**30), str(-(10**30)), str(2**63)])
def test_an_amount_beyond_what_the_ledger_holds_is_a_form_error(operator, ada, amount):
    page = adjust(operator, ada, kind="correction", amount=amount)
    assert page.status_code == 200 and "errorlist" in page.text
    assert not Wallet.objects.filter(user=ada).exists()


def test_a_recharge_that_would_overflow_the_balance_is_refused_and_changes_nothing(operator, ada):
    top = 2**63 - 1
    Wallet.objects.create(user=ada, balance=top)
    page = adjust(operator, ada, amount="0.01")
    assert page.status_code == 200 and "errorlist" in page.text
    assert Wallet.objects.get(user=ada).balance == top
    assert not Wallet.objects.get(user=ada).entries.exists()


@pytest.mark.parametrize(
    "fields",
    [{"price": str(10**30)}, {"duration_days": str(10**12)}, {"device_quota": str(10**12)}],
)
def test_a_card_plan_beyond_what_its_columns_hold_is_a_form_error(operator, fields):
    form = {"code": "max", "name": "Max", "price": "100", "duration_days": "30"}
    page = operator.post(
        "/admin/wallet/cardplan/add/", {**form, "device_quota": "3", "purchasable": "on", **fields}
    )
    assert page.status_code == 200 and "errorlist" in page.text
    assert not CardPlan.objects.filter(code="max").exists()
