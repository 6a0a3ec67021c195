"""The admin's front page shows the day at a glance (SPEC §5): users, computers online,
approvals waiting, events today, wallet totals, cards ending within a week and failed
sign-ins in the last hour, each linking to its list already filtered, each shown only to
an operator whose scopes open that list."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client

from accounts.groups import ensure_default_groups
from accounts.models import SignInFailure
from codexpanel import clock
from devices.models import Device, Event
from wallet import actions
from wallet.models import CardPlan, Entitlement

from .conftest import PASSWORD
from .realtime import make_device
from .test_attention import Agent
from .test_wallet_admin_operations import scoped_client

pytestmark = pytest.mark.django_db


def tiles(client: Client) -> dict[str, tuple[str, str]]:
    """Each figure on the front page: its value and where it links."""
    page = client.get("/admin/").text
    found = re.findall(
        r'<li data-tile="([^"]+)">\s*<a href="([^"]+)">.*?<span class="tile-value">([^<]*)</span>',
        page,
        re.S,
    )
    return {key: (value, unescape(url)) for key, url, value in found}


@pytest.fixture
def day(make_user):
    ada, bob = make_user("ada"), make_user("bob")
    make_user("gone", is_active=False)
    desk, _token = make_device(ada, "desk-0001-aaaaaa")
    make_device(bob, "desk-0002-bbbbbb")
    Device.objects.filter(pk=desk.pk).update(online=True)
    agent = Agent(desk)
    agent.ask("1:0")
    agent.ask("1:1", thread="thr_2", turn="turn_2")
    agent.report("serverRequest/resolved", {"requestId": "1:0", "threadId": "thr_1"}, "thr_1")
    Event.objects.filter(event_type="serverRequest/resolved").update(
        created_at=clock.now() - timedelta(days=2)
    )
    actions.adjust(ada, kind="recharge", amount=5000, reason="r", idempotency_key="r")
    actions.adjust(bob, kind="gift", amount=250, reason="g", idempotency_key="g")
    plan = CardPlan.objects.create(
        code="pro", name="Pro", price=100, duration_days=30, device_quota=2
    )
    soon = actions.grant_card(ada, plan, None)
    actions.grant_card(bob, plan, None)
    Entitlement.objects.filter(pk=soon.pk).update(ends_at=clock.now() + timedelta(days=2))
    SignInFailure.objects.create(
        at=clock.now(), username="ada", network="10.0.0.1", reason="invalid"
    )
    SignInFailure.objects.create(
        at=clock.now() - timedelta(hours=2), username="ada", network="10.0.0.1", reason="invalid"
    )
    return ada, bob


def test_the_front_page_shows_the_day_and_each_figure_opens_its_filtered_list(make_user, day):
    boss = make_user("boss")
    boss.groups.add(ensure_default_groups())
    client = Client()
    assert client.login(username="boss", password=PASSWORD)
    shown = tiles(client)
    assert list(shown) == [
        "users", "online", "approvals", "events", "wallets", "cards-ending", "failed-sign-ins"
    ]  # fmt: skip
    values = {key: value for key, (value, _url) in shown.items()}
    assert values == {
        "users": "3",  # ada, bob and boss; the disabled account is not counted
        "online": "1",
        "approvals": "1",
        "events": "2",  # the resolution was two days ago
        "wallets": "¥52.50",
        "cards-ending": "1",
        "failed-sign-ins": "1",
    }
    opened = {key: client.get(url) for key, (_value, url) in shown.items()}
    assert all(page.status_code == 200 for page in opened.values())
    assert "gone" not in opened["users"].text and ">ada<" in opened["users"].text
    assert "desk-0001-aaaaaa" in opened["online"].text
    assert "desk-0002-bbbbbb" not in opened["online"].text
    approvals = opened["approvals"].text
    assert approvals.count("item/commandExecution/requestApproval") == 1
    assert "thr_2" in approvals and "thr_1" not in approvals
    assert "serverRequest/resolved" not in opened["events"].text
    assert (
        ">ada</a>" in opened["cards-ending"].text and ">bob</a>" not in opened["cards-ending"].text
    )
    assert opened["failed-sign-ins"].text.count("10.0.0.1") == 1


def test_an_operator_sees_only_the_figures_their_scopes_open(make_user, day):
    cashier = scoped_client(make_user, "cashier", "adjust_wallet")
    assert list(tiles(cashier)) == ["wallets"]
    desk = scoped_client(make_user, "desk", "operate_any_device", "manage_cards")
    assert list(tiles(desk)) == ["online", "approvals", "events", "cards-ending"]
    assert desk.get("/admin/accounts/signinfailure/").status_code == 403
    assert cashier.get("/admin/devices/event/").status_code == 403


def test_a_refused_sign_in_is_recorded_without_the_hostile_text_it_carried(client, ada):
    answer = client.post(
        "/api/iam/auth/login",
        {"username": "ada\u202e\u0007", "password": "wrong"},
        content_type="application/json",
    )
    assert answer.status_code == 401, answer.json()
    failure = SignInFailure.objects.get()
    assert failure.username == "ada\ufffd\ufffd" and failure.reason == "invalid"
    failure.delete()
    wrong = client.post(
        "/api/iam/auth/login",
        {"username": "ada", "password": "wrong"},
        content_type="application/json",
    )
    assert wrong.status_code == 401
    assert SignInFailure.objects.filter(username="ada", reason="invalid").count() == 1


def test_failed_sign_ins_older_than_the_window_are_dropped_as_new_ones_arrive(client, ada):
    SignInFailure.objects.create(
        at=clock.now() - timedelta(days=31), username="old", network="10.0.0.9", reason="invalid"
    )
    client.post(
        "/api/iam/auth/login",
        {"username": "ada", "password": "wrong"},
        content_type="application/json",
    )
    assert list(SignInFailure.objects.values_list("username", flat=True)) == ["ada"]


def test_a_locked_out_flood_is_recorded_once_a_minute_and_each_wrong_password_once(db):
    from accounts.actions import record_sign_in_failure

    for _ in range(5):
        record_sign_in_failure("ada", "10.0.0.1", "locked")
        record_sign_in_failure("ada", "10.0.0.1", "invalid")
    assert SignInFailure.objects.filter(reason="locked").count() == 1
    assert SignInFailure.objects.filter(reason="invalid").count() == 5
