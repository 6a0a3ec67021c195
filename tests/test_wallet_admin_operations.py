"""What an operator does with money and cards, page by page (SPEC §5, ADM-2, ADM-3): find
any user and adjust their wallet, read amounts in the currency's major unit, renew and
revoke a card from its own page, and pick which computers to disable when a revoked card
leaves its user over quota."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.test import Client

from accounts.models import AuditRecord, User
from codexpanel import clock
from devices.models import Device
from wallet import actions
from wallet.models import CardPlan, Entitlement, LedgerEntry, Wallet
from wallet.money import format_money, to_minor

from .conftest import PASSWORD
from .realtime import make_device

pytestmark = pytest.mark.django_db


def scoped_client(make_user, name: str, *scopes: str) -> Client:
    """An operator whose group holds exactly these scopes."""
    user = make_user(name)
    group = Group.objects.create(name=f"{name} group")
    for codename in ("access_admin", *scopes):
        group.permissions.add(Permission.objects.get(codename=codename))
    user.groups.add(group)
    client = Client()
    assert client.login(username=name, password=PASSWORD)
    return client


def said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def cashier(make_user) -> Client:
    return scoped_client(make_user, "cashier", "adjust_wallet")


@pytest.fixture
def carder(make_user) -> Client:
    return scoped_client(make_user, "carder", "manage_cards")


@pytest.fixture
def plan() -> CardPlan:
    return CardPlan.objects.create(
        code="team", name="Team", price=3000, duration_days=30, device_quota=3
    )


def adjust(client: Client, user: User, kind: str, amount: str, key: str = "k1"):
    form = {"kind": kind, "amount": amount, "reason": "by hand", "idempotency_key": key}
    return client.post(f"/admin/wallet/wallet/adjust/{user.pk}/", form, follow=True)


def test_an_operator_with_only_adjust_wallet_finds_a_new_user_and_gives_a_first_recharge(
    cashier, make_user
):
    newcomer = make_user("grace", email="grace@example.com")
    make_user("hopper")
    tools = cashier.get("/admin/wallet/wallet/")
    assert "/admin/wallet/wallet/find/" in tools.text
    for query in ("grac", "GRACE@example", newcomer.user_id):
        page = cashier.get("/admin/wallet/wallet/find/", {"q": query})
        assert page.status_code == 200
        assert "grace@example.com" in page.text and "no wallet yet" in page.text
        assert "hopper" not in page.text
        assert f"/admin/wallet/wallet/adjust/{newcomer.pk}/" in page.text
    assert "No user matches" in cashier.get("/admin/wallet/wallet/find/", {"q": "nobody"}).text
    done = adjust(cashier, newcomer, "recharge", "50")
    assert said(done) == ["Recharged grace by ¥50.00 — balance ¥50.00"]
    assert Wallet.objects.get(user=newcomer).balance == 5000
    found = cashier.get("/admin/wallet/wallet/find/", {"q": "grace"})
    assert "¥50.00" in found.text and "no wallet yet" not in found.text


def test_a_search_for_users_refuses_control_characters_and_overlong_text(cashier):
    for query in ("ada\x00", "x" * 151):
        page = cashier.get("/admin/wallet/wallet/find/", {"q": query})
        assert page.status_code == 200 and "printable characters" in page.text


def test_finding_users_needs_the_adjust_wallet_scope(carder, ada):
    assert carder.get("/admin/wallet/wallet/find/", {"q": "ada"}).status_code == 403


@pytest.mark.parametrize(
    ("kind", "amount", "message", "balance"),
    [
        ("recharge", "50", "Recharged ada by ¥50.00 — balance ¥150.00", 15000),
        ("gift", "0.5", "Gave ada a gift of ¥0.50 — balance ¥100.50", 10050),
        ("deduct", "5", "Deducted ¥5.00 from ada — balance ¥95.00", 9500),
        ("refund", "1,000.25", "Refunded ¥1,000.25 to ada — balance ¥1,100.25", 110025),
        ("correction", "-0.25", "Corrected the balance of ada by -¥0.25 — balance ¥99.75", 9975),
    ],
)
def test_each_adjustment_says_who_what_and_the_balance_it_left(
    cashier, ada, kind, amount, message, balance
):
    actions.adjust(ada, kind="recharge", amount=10000, reason="start", idempotency_key="start")
    assert said(adjust(cashier, ada, kind, amount)) == [message]
    assert Wallet.objects.get(user=ada).balance == balance


def test_the_same_form_sent_twice_says_nothing_changed_and_names_the_balance(cashier, ada):
    adjust(cashier, ada, "recharge", "50")
    again = adjust(cashier, ada, "recharge", "50")
    assert said(again) == ["Already done with this key; nothing changed. ada's balance: ¥50.00"]
    assert LedgerEntry.objects.count() == 1


@pytest.mark.parametrize(
    ("kind", "amount", "error"),
    [
        ("deduct", "-5", "Enter a deduction as a positive amount: it is taken from the balance."),
        ("recharge", "-5", "Enter the amount without a minus sign: a recharge adds it"),
        ("gift", "0", "Enter an amount other than zero."),
        ("recharge", "0.001", "Enter an amount such as ¥50.00, in CNY."),
        ("recharge", "1e3", "Enter an amount such as ¥50.00, in CNY."),
        ("recharge", "fifty", "Enter an amount such as ¥50.00, in CNY."),
    ],
)
def test_an_amount_that_does_not_say_what_it_means_is_refused_with_a_message(
    cashier, ada, kind, amount, error
):
    page = adjust(cashier, ada, kind, amount)
    assert page.status_code == 200 and error in page.text
    assert not Wallet.objects.filter(user=ada).exists() and not AuditRecord.objects.exists()


def test_amounts_are_shown_in_the_major_unit_on_every_money_page(cashier, carder, ada, plan):
    adjust(cashier, ada, "recharge", "1234.5")
    wallet = Wallet.objects.get(user=ada)
    assert "¥1,234.50" in cashier.get("/admin/wallet/wallet/").text
    assert "+¥1,234.50" in cashier.get(f"/admin/wallet/wallet/{wallet.pk}/change/").text
    assert "+¥1,234.50" in cashier.get("/admin/wallet/ledgerentry/").text
    assert "¥30.00" in carder.get("/admin/wallet/cardplan/").text
    edit = carder.get(f"/admin/wallet/cardplan/{plan.pk}/change/")
    assert 'value="30.00"' in edit.text


def test_a_card_plan_price_is_typed_in_the_major_unit_and_stored_in_minor_units(carder):
    form = {"code": "solo", "name": "Solo", "price": "19.90", "duration_days": "30"}
    page = carder.post("/admin/wallet/cardplan/add/", {**form, "device_quota": "1"})
    assert page.status_code == 302
    assert CardPlan.objects.get(code="solo").price == 1990
    refused = carder.post(
        "/admin/wallet/cardplan/add/", {**form, "code": "neg", "price": "-1", "device_quota": "1"}
    )
    assert refused.status_code == 200 and "without a minus sign" in refused.text


def test_money_text_round_trips_between_the_major_and_the_minor_unit():
    assert to_minor("50") == 5000 and to_minor(" 1,050.25 ") == 105025
    assert format_money(105025) == "¥1,050.25" and format_money(-5) == "-¥0.05"
    assert to_minor("12,345,678.5") == 1234567850
    # A decimal comma, digits beyond what Decimal holds exactly, or an exponent: refused.
    for text in ("0.001", "1e3", "NaN", "", "--1", "Infinity", "1,05", "1,2345", ",100"):
        with pytest.raises(ValueError):
            to_minor(text)
    for text in ("1.99999999999999999999999999999", "9" * 90):
        with pytest.raises(ValueError):
            to_minor(text)
    assert format_money(5000, "JPY") == "¥5,000" and to_minor("5000", "JPY") == 5000
    assert format_money(1234, "KWD") == "KWD 1.234"


def test_granting_is_called_grant_a_card_and_says_what_it_gave(carder, ada, plan):
    assert "Grant a card" in carder.get("/admin/wallet/entitlement/").text
    assert "Grant a card" in carder.get("/admin/wallet/entitlement/add/").text
    granted = carder.post(
        "/admin/wallet/entitlement/add/", {"user": ada.pk, "plan": plan.pk}, follow=True
    )
    assert said(granted)[0].startswith("Granted Team to ada until ")
    assert said(granted)[0].endswith("their device quota is 3.")


def test_a_cards_page_renews_and_revokes_it_with_buttons(carder, ada, plan):
    card = actions.grant_card(ada, plan, None)
    page = carder.get(f"/admin/wallet/entitlement/{card.pk}/change/")
    assert 'form="renew-card"' in page.text and 'form="revoke-card"' in page.text
    assert 'name="_save"' not in page.text
    assert carder.get(f"/admin/wallet/entitlement/{card.pk}/renew/").status_code == 405
    end = card.ends_at
    renewed = carder.post(f"/admin/wallet/entitlement/{card.pk}/renew/", follow=True)
    card.refresh_from_db()
    assert (card.ends_at - end).days == 30
    assert said(renewed)[0].startswith("Renewed Team of ada until ")
    revoked = carder.post(f"/admin/wallet/entitlement/{card.pk}/revoke/", follow=True)
    card.refresh_from_db()
    assert card.revoked_at is not None
    assert said(revoked) == ["Revoked Team of ada; their device quota is now 1."]
    after = carder.get(f"/admin/wallet/entitlement/{card.pk}/change/")
    assert 'form="renew-card"' not in after.text and "This card is revoked" in after.text
    actions_seen = [r.action for r in AuditRecord.objects.order_by("id")]
    assert actions_seen == ["card.grant", "card.renew", "card.revoke"]


def test_renewing_and_revoking_need_the_manage_cards_scope(cashier, ada, plan):
    card = actions.grant_card(ada, plan, None)
    assert cashier.post(f"/admin/wallet/entitlement/{card.pk}/renew/").status_code == 403
    assert cashier.post(f"/admin/wallet/entitlement/{card.pk}/revoke/").status_code == 403
    assert cashier.get(f"/admin/wallet/entitlement/over-quota/{ada.pk}/").status_code == 403
    card.refresh_from_db()
    assert card.revoked_at is None


def ada_with_three_computers(ada, plan) -> tuple[Entitlement, list[Device]]:
    card = actions.grant_card(ada, plan, None)
    computers = [make_device(ada, f"desk-000{n}-aaaaaa")[0] for n in range(1, 4)]
    return card, computers


def test_revoking_a_card_that_leaves_its_user_over_quota_lets_the_operator_pick_devices(
    carder, ada, plan, make_user
):
    card, computers = ada_with_three_computers(ada, plan)
    someone_elses, _token = make_device(make_user("bob"), "desk-0009-bbbbbb")
    revoked = carder.post(f"/admin/wallet/entitlement/{card.pk}/revoke/")
    picker = f"/admin/wallet/entitlement/over-quota/{ada.pk}/"
    assert revoked.status_code == 302 and revoked.url == picker
    assert said(revoked)[0].startswith(
        "Over quota: ada now holds 3 enabled computers on a quota of 1."
    )
    page = carder.get(picker)
    assert "pick at least 2 to disable" in page.text
    assert all(computer.device_id in page.text for computer in computers)
    assert someone_elses.device_id not in page.text
    too_few = carder.post(picker, {"devices": [computers[0].pk]})
    assert too_few.status_code == 200 and "Pick at least 2 computer(s)" in too_few.text
    not_hers = carder.post(picker, {"devices": [computers[0].pk, someone_elses.pk]})
    assert not_hers.status_code == 200 and "errorlist" in not_hers.text
    assert Device.objects.filter(enabled=False).count() == 0
    done = carder.post(picker, {"devices": [computers[0].pk, computers[2].pk]}, follow=True)
    assert said(done)[-1] == ("Disabled 2 of ada's computers; 1 stay enabled on a quota of 1.")
    assert set(Device.objects.filter(enabled=False)) == {computers[0], computers[2]}
    assert AuditRecord.objects.filter(action="device.disable").count() == 2
    within = carder.get(picker, follow=True)
    assert said(within)[-1].startswith("Nothing to disable: ada holds 1 enabled")


def test_revoking_in_bulk_names_each_user_left_over_quota(carder, ada, plan):
    card, _computers = ada_with_three_computers(ada, plan)
    bulk = carder.post(
        "/admin/wallet/entitlement/?status=active",
        {"action": "revoke_cards", "_selected_action": [card.pk]},
        follow=True,
    )
    assert said(bulk)[0] == "Revoked 1 card(s)."
    assert said(bulk)[1].startswith(
        "Over quota: ada now holds 3 enabled computers on a quota of 1."
    )
    assert f"/admin/wallet/entitlement/over-quota/{ada.pk}/" in bulk.text


def test_cards_are_filtered_by_active_ending_expired_and_revoked(carder, ada, make_user, plan):
    now = clock.now()

    def card(user: User, start_days: int, end_days: int, revoked: bool = False) -> Entitlement:
        return Entitlement.objects.create(
            user=user,
            plan=plan,
            source="grant",
            starts_at=now + timedelta(days=start_days),
            ends_at=now + timedelta(days=end_days),
            revoked_at=now if revoked else None,
        )

    active = card(make_user("active"), -1, 20)
    ending = card(make_user("ending"), -20, 3)
    expired = card(make_user("expired"), -40, -10)
    upcoming = card(make_user("upcoming"), 5, 35)
    revoked = card(make_user("revoked"), -1, 20, revoked=True)

    def listed(status: str) -> set[str]:
        page = carder.get("/admin/wallet/entitlement/", {"status": status})
        names = {"active", "ending", "expired", "upcoming", "revoked"}
        return {name for name in names if f">{name}</a>" in page.text}

    assert listed("active") == {"active", "ending"}
    assert listed("ending") == {"ending"}
    assert listed("expired") == {"expired"}
    assert listed("upcoming") == {"upcoming"}
    assert listed("revoked") == {"revoked"}
    assert {active, ending, expired, upcoming, revoked} == set(Entitlement.objects.all())


def test_disabling_beyond_quota_refuses_another_users_computer_and_too_few(ada, plan, make_user):
    from codexpanel.errors import ActionError
    from devices.actions import disable_beyond_quota

    card, computers = ada_with_three_computers(ada, plan)
    actions.revoke_card(card, None)
    bobs, _token = make_device(make_user("bob"), "desk-0009-bbbbbb")
    for picked in ([computers[0].pk, bobs.pk], [computers[0].pk]):
        with pytest.raises(ActionError):
            disable_beyond_quota(ada, picked, ada)
    assert not Device.objects.filter(enabled=False).exists()
    assert disable_beyond_quota(ada, [computers[0].pk, computers[1].pk], ada) == 2


def test_a_wallets_page_is_read_only_so_no_save_can_write_back_a_stale_balance(cashier, ada):
    adjust(cashier, ada, "recharge", "5")
    wallet = Wallet.objects.get(user=ada)
    page = cashier.get(f"/admin/wallet/wallet/{wallet.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.text
    assert cashier.post(f"/admin/wallet/wallet/{wallet.pk}/change/", {}).status_code == 403
