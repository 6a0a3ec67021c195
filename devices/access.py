"""Who may see and operate which device (SPEC DEV-6), and how many devices a user may
bind (WAL-5). Every entry point (API views, the setup flow, the device socket, the event
stream) asks these functions, so the rule lives in one place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.models import User
from codexpanel.errors import ActionError
from wallet.quota import device_quota as quota_from_cards

from .models import Device

OPERATE_ANY = "accounts.operate_any_device"


class Use(Enum):
    READ = "read"
    OPERATE = "operate"


def operates_any_device(user: User) -> bool:
    return user.is_active and user.has_perm(OPERATE_ANY)


def visible_devices(user: User) -> QuerySet[Device]:
    """The devices a user can see: their own, or every device for operators."""
    if not user.is_authenticated or not user.is_active:
        return Device.objects.none()
    devices = Device.objects.select_related("owner")
    return devices if operates_any_device(user) else devices.filter(owner=user)


def device_not_found() -> ActionError:
    return ActionError("device_not_found", _("No such device."), 404)


def device_disabled() -> ActionError:
    return ActionError("device_disabled", _("This device has been disabled by an operator."), 403)


def authorize_device(user: User, device_id: str, use: Use = Use.OPERATE) -> Device:
    """The device, if this user may use it so; otherwise an error.

    Another user's device answers exactly like a missing one, so device ids cannot be
    probed. Owners may still read a disabled device (to see that it is disabled) but only
    operators may operate it."""
    device = visible_devices(user).filter(device_id=device_id).first()
    if device is None:
        raise device_not_found()
    if use is Use.OPERATE and not device.enabled and not operates_any_device(user):
        raise device_disabled()
    return device


def device_quota(user: User) -> int:
    """How many devices this user may bind (WAL-5: from their monthly cards)."""
    return quota_from_cards(user)


def devices_used(user: User) -> int:
    """The devices counted against the user's quota: the ones bound to them."""
    return Device.objects.filter(owner=user).count()


def check_device_quota(user: User, device_id: str) -> None:
    """Refuse binding device_id to user if it would exceed the user's quota. Re-pairing a
    device the user already owns never counts twice."""
    quota = device_quota(user)
    used = Device.objects.filter(owner=user).exclude(device_id=device_id).count()
    if used >= quota:
        raise ActionError(
            "device_quota_exceeded",
            _(
                "Your account may bind %(quota)d device(s) and already has %(used)d. "
                "Remove a device or get a monthly card with a larger quota."
            )
            % {"quota": quota, "used": used},
            403,
            details={"quota": quota, "used": used},
        )


@dataclass(frozen=True)
class QuotaUse:
    """How many of a user's computers are enabled against how many their cards allow."""

    quota: int
    enabled: int

    @property
    def excess(self) -> int:
        return max(0, self.enabled - self.quota)


def quota_use(user: User) -> QuotaUse:
    enabled = Device.objects.filter(owner=user, enabled=True).count()
    return QuotaUse(quota=quota_from_cards(user), enabled=enabled)
