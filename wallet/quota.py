"""How many devices a user may bind (SPEC WAL-5): the largest quota among their active
cards, else the configured free quota. Derived on every ask, never stored."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Max, QuerySet

from accounts.models import User
from codexpanel import clock

from .models import Entitlement


def active_cards(user: User, now: datetime | None = None) -> QuerySet[Entitlement]:
    now = now or clock.now()
    return Entitlement.objects.filter(
        user=user, revoked_at__isnull=True, starts_at__lte=now, ends_at__gt=now
    )


def device_quota(user: User) -> int:
    best = active_cards(user).aggregate(best=Max("plan__device_quota"))["best"]
    return best if best is not None else settings.CODEXPANEL_FREE_DEVICE_QUOTA
