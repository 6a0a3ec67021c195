"""The operators' console as an operator uses it on a phone's Chromium, by tapping
(SPEC §5, ADM-2, ADM-3): find a user who has no wallet yet and give a first recharge;
revoke a card from its page and pick which computers to disable; export the ledger list
they filtered; open a figure of the front page's overview."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import screenshot, watched_page
from .conftest import PASSWORD
from .live import Relay, sqlite_relay

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.own_deployment]

OPERATOR = """
import django; django.setup()
from django.contrib.auth.models import Group, Permission
from accounts.models import User
group = Group.objects.create(name="Money and cards")
group.permissions.set(Permission.objects.filter(
    codename__in=["access_admin", "adjust_wallet", "manage_cards"]))
User.objects.create_user("cashier", %r).groups.add(group)
User.objects.create_user("grace", "unused-password-1", email="grace@example.com")
"""

ADA_WITH_A_CARD = """
import django; django.setup()
from accounts.models import User
from devices.actions import bind_device, mint_device_token
from wallet.actions import grant_card
from wallet.models import CardPlan
ada = User.objects.create_user("ada", "unused-password-1")
plan, _ = CardPlan.objects.get_or_create(code="team", name="Team", price=3000, duration_days=30,
    device_quota=3)
card = grant_card(ada, plan, None)
for n in range(1, 4):
    minted = mint_device_token()
    bind_device(owner=ada, device_id=f"desk-000{n}-aaaaaa", name=f"desk {n}",
        platform="linux", agent_version="0.2.0", workspace="/w", token_hash=minted.digest,
        token_hint=minted.plaintext[:12], bound_by=ada, allow_rebind=True)
print(card.pk)
"""

STATE = """
import django, json; django.setup()
from devices.models import Device
from wallet.models import Entitlement, Wallet
print(json.dumps({
    "grace": [w.balance for w in Wallet.objects.filter(user__username="grace")],
    "disabled": sorted(Device.objects.filter(enabled=False).values_list("device_id", flat=True)),
    "revoked": Entitlement.objects.filter(revoked_at__isnull=False).count(),
}))
"""


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory, static_root: dict[str, str]) -> Iterator[Any]:
    with sqlite_relay(tmp_path_factory.mktemp("admin"), static_root) as deployment:
        deployment.python(OPERATOR % PASSWORD)
        deployment.start()
        yield deployment


@pytest.fixture(params=[360, 390])
def page(request: Any, chromium: Any, relay: Relay) -> Iterator[Any]:
    viewport = {"width": request.param, "height": 800}
    with watched_page(chromium, relay.hosts[0], viewport=viewport) as opened:
        opened.goto("/admin/login/")
        opened.locator("#id_username").fill("cashier")
        opened.locator("#id_password").fill(PASSWORD)
        opened.locator('input[type="submit"]').tap()
        opened.locator("#site-name").wait_for()
        opened.width = request.param
        yield opened


def state(relay: Relay) -> dict[str, Any]:
    return json.loads(relay.python(STATE))


def test_an_operator_finds_a_user_without_a_wallet_and_recharges_them_by_tapping(page, relay):
    before = state(relay)["grace"]
    page.goto("/admin/wallet/wallet/")
    page.get_by_role("link", name="Adjust any user's balance").tap()
    page.get_by_label("Username, email or user id").fill("grace@example")
    page.get_by_role("button", name="Find").tap()
    page.locator("#found-users").wait_for()
    row = page.locator("#found-users li")
    assert row.count() == 1 and "grace" in row.inner_text()
    screenshot(page, f"admin-find-user-{page.width}")
    row.get_by_role("link", name="Adjust balance").tap()
    page.get_by_label("Kind").select_option("recharge")
    page.get_by_label("Amount").fill("50")
    page.get_by_label("Reason").fill("first payment")
    page.get_by_role("button", name="Adjust").tap()
    said = page.locator(".messagelist .success")
    said.wait_for()
    balance = (before[0] if before else 0) + 5000
    assert said.inner_text() == (f"Recharged grace by ¥50.00 — balance ¥{balance // 100:,}.00")
    assert state(relay)["grace"] == [balance]


def test_an_operator_revokes_a_card_and_picks_the_computers_to_disable_by_tapping(page, relay):
    card = relay.python(
        ADA_WITH_A_CARD.replace('"ada"', f'"ada{page.width}"').replace(
            "desk-000{n}", f"d{page.width}-000{{n}}"
        )
    ).strip()
    page.goto(f"/admin/wallet/entitlement/{card}/change/")
    page.locator(".card-actions").scroll_into_view_if_needed()
    screenshot(page, f"admin-card-{page.width}")
    page.get_by_role("button", name="Revoke").tap()
    page.locator("#pick-devices").wait_for()
    warning = page.locator(".messagelist .warning").inner_text()
    assert warning.startswith(
        f"Over quota: ada{page.width} now holds 3 enabled computers on a quota of 1."
    )
    screenshot(page, f"admin-pick-devices-{page.width}")
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(400)  # the admin's links fade their colours over 0.15 s
    screenshot(page, f"admin-pick-devices-{page.width}-dark")
    page.emulate_media(color_scheme="light")
    page.get_by_label(f"d{page.width}-0001-aaaaaa", exact=False).check()
    page.get_by_label(f"d{page.width}-0003-aaaaaa", exact=False).check()
    page.get_by_role("button", name="Disable the picked computers").tap()
    said = page.locator(".messagelist .success")
    said.wait_for()
    assert said.inner_text() == (
        f"Disabled 2 of ada{page.width}'s computers; 1 stay enabled on a quota of 1."
    )
    disabled = [d for d in state(relay)["disabled"] if d.startswith(f"d{page.width}-")]
    assert disabled == [f"d{page.width}-0001-aaaaaa", f"d{page.width}-0003-aaaaaa"]


def test_an_operator_exports_the_ledger_list_they_filtered_by_tapping(page, relay):
    relay.python(
        "import django; django.setup()\n"
        "from accounts.models import User\n"
        "from wallet.actions import adjust\n"
        f"user = User.objects.create_user('payer{page.width}', 'unused-password-1')\n"
        "adjust(user, kind='gift', amount=1, reason='tiny', idempotency_key='g')\n"
    )
    page.goto("/admin/wallet/ledgerentry/")
    page.locator("#searchbar").fill(f"payer{page.width}")
    page.locator('#changelist-search input[type="submit"]').tap()
    page.locator("#result_list").wait_for()
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").tap()
    saved = download.value.path()
    rows = Path(saved).read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("created,username,user_id,kind,amount")
    assert len(rows) == 2 and f",payer{page.width}," in rows[1] and ",gift,0.01," in rows[1]


def test_the_front_page_figures_open_their_filtered_lists_by_tapping(page, relay):
    page.goto("/admin/")
    tiles = page.locator(".tiles li")
    assert [tiles.nth(n).get_attribute("data-tile") for n in range(tiles.count())] == [
        "wallets",
        "cards-ending",
    ]
    screenshot(page, f"admin-overview-{page.width}")
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(400)  # the admin's links fade their colours over 0.15 s
    screenshot(page, f"admin-overview-{page.width}-dark")
    page.emulate_media(color_scheme="light")
    page.get_by_role("link", name="Cards ending in 7 days").tap()
    page.locator("#changelist").wait_for()
    assert page.url.endswith("/admin/wallet/entitlement/?status=ending")
    assert page.locator("#changelist-filter .selected").first.inner_text() != ""
    page.goto("/admin/")
    page.get_by_role("link", name="Wallet balances").tap()
    page.locator("#changelist").wait_for()
    assert page.url.endswith("/admin/wallet/wallet/")
