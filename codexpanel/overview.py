"""The day at a glance on the admin's front page (SPEC §5): each figure links to the list
it counts, already filtered, and an operator sees only the figures of lists their scopes
open."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Sum
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import clock


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    value: str
    detail: str
    url: str


def _list(name: str, **query: object) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(query)}" if query else url


def _day(now: datetime) -> tuple[datetime, datetime]:
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def _people(now: datetime) -> list[Tile]:
    from accounts.models import SignInFailure, User

    start, _end = _day(now)
    hour_ago = now - timedelta(hours=1)
    new_today = User.objects.filter(date_joined__gte=start).count()
    failed = SignInFailure.objects.filter(at__gte=hour_ago).count()
    return [
        Tile(
            "users",
            _("Users"),
            str(User.objects.filter(is_active=True).count()),
            _("%(count)d joined today") % {"count": new_today},
            _list("accounts_user", is_active__exact=1),
        ),
        Tile(
            "failed-sign-ins",
            _("Failed sign-ins, last hour"),
            str(failed),
            _("wrong passwords and locked-out tries"),
            _list("accounts_signinfailure", at__gte=str(hour_ago)),
        ),
    ]


def _devices(now: datetime) -> list[Tile]:
    from devices.attention import RELAY_APPROVAL_SCAN, waiting_approval_ids
    from devices.models import Device, Event

    start, end = _day(now)
    waiting = len(waiting_approval_ids())
    return [
        Tile(
            "online",
            _("Computers online now"),
            str(Device.objects.filter(online=True, enabled=True).count()),
            _("of %(count)d paired") % {"count": Device.objects.count()},
            _list("devices_device", online__exact=1, enabled__exact=1),
        ),
        Tile(
            "approvals",
            _("Approvals waiting"),
            str(waiting),
            _("among the newest %(count)d asked") % {"count": RELAY_APPROVAL_SCAN},
            _list("devices_event", waiting="approvals"),
        ),
        Tile(
            "events",
            _("Events today"),
            str(Event.objects.filter(created_at__gte=start, created_at__lt=end).count()),
            _("since midnight, %(zone)s") % {"zone": timezone.get_current_timezone_name()},
            _list("devices_event", created_at__gte=str(start), created_at__lt=str(end)),
        ),
    ]


def _money(now: datetime) -> list[Tile]:
    from wallet.models import LedgerEntry, Wallet
    from wallet.money import format_money

    start, end = _day(now)
    total = Wallet.objects.aggregate(total=Sum("balance"))["total"] or 0
    recharged = (
        LedgerEntry.objects.filter(
            kind="recharge", created_at__gte=start, created_at__lt=end
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    return [
        Tile(
            "wallets",
            _("Wallet balances"),
            format_money(total),
            _("%(amount)s recharged today") % {"amount": format_money(recharged)},
            _list("wallet_wallet"),
        )
    ]


def _cards(now: datetime) -> list[Tile]:
    from wallet.models import Entitlement

    ending = Entitlement.objects.filter(
        revoked_at__isnull=True, starts_at__lte=now, ends_at__gt=now
    ).filter(ends_at__lte=now + timedelta(days=7))
    return [
        Tile(
            "cards-ending",
            _("Cards ending in 7 days"),
            str(ending.count()),
            _("active cards that end within a week"),
            _list("wallet_entitlement", status="ending"),
        )
    ]


# Which scope opens which figures: the same scope that opens the list each links to.
SECTIONS: list[tuple[str, Callable[[datetime], list[Tile]]]] = [
    ("manage_users", _people),
    ("operate_any_device", _devices),
    ("adjust_wallet", _money),
    ("manage_cards", _cards),
]
ORDER = ["users", "online", "approvals", "events", "wallets", "cards-ending", "failed-sign-ins"]


def tiles(request: HttpRequest) -> list[Tile]:
    user, now = request.user, clock.now()
    shown = [
        tile
        for scope, section in SECTIONS
        if user.is_active and user.has_perm(f"accounts.{scope}")
        for tile in section(now)
    ]
    return sorted(shown, key=lambda tile: ORDER.index(tile.key))
