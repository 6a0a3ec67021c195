"""The only writers of devices and device tokens (SPEC DEV-1, DEV-6)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from accounts import audit
from accounts.models import User
from codexpanel import clock, tokens
from codexpanel.errors import ActionError

from .access import check_device_quota, quota_use
from .models import TOKEN_PREFIX, Device, DeviceToken
from .signals import announce_access_revoked


class DeviceTokenRefused(Exception):
    """A presented device token does not identify a usable device. `reason` is stable:
    the device socket turns each into its own close code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def mint_device_token() -> tokens.Minted:
    return tokens.mint(TOKEN_PREFIX, 32)


def authenticate_device_token(plaintext: str) -> Device:
    return resolve_device_token(plaintext).device


def resolve_device_token(plaintext: str) -> DeviceToken:
    """The active token, with its device and owner, if the device and its owner are
    enabled. Identity comes only from here: nothing the client says about itself."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 128:
        raise DeviceTokenRefused("invalid_token", _("This device token is not valid."))
    token = (
        DeviceToken.objects.select_related("device__owner")
        .filter(token_hash=tokens.digest(plaintext))
        .first()
    )
    if token is None or not tokens.matches(plaintext, token.token_hash):
        raise DeviceTokenRefused("invalid_token", _("This device token is not valid."))
    if not token.active:
        raise DeviceTokenRefused(
            "token_revoked",
            _("This device token was revoked. Run the installer again to pair this computer."),
        )
    device = token.device
    if not device.enabled:
        raise DeviceTokenRefused(
            "device_disabled", _("This device has been disabled by an operator.")
        )
    if not device.owner.is_active:
        raise DeviceTokenRefused("owner_disabled", _("The account owning this device is disabled."))
    return token


def _revoke_active_token(device: Device, reason: str, actor: User | None) -> int | None:
    """Revoke the device's active token; returns its pk, or None if it had none."""
    active = DeviceToken.objects.filter(device=device, revoked_at__isnull=True)
    token_pk = active.values_list("pk", flat=True).first()
    if token_pk is None:
        return None
    DeviceToken.objects.filter(pk=token_pk, revoked_at__isnull=True).update(
        revoked_at=clock.now(), revoked_reason=reason, revoked_by=actor
    )
    return token_pk


@dataclass(frozen=True)
class Binding:
    device: Device
    created: bool
    previous_owner: User | None


def token_proves_device(plaintext: str, device_id: str) -> bool:
    """Whether plaintext is the active token of device_id, whatever the device's state:
    proof that its holder has the computer that device_id names."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 128:
        return False
    token = (
        DeviceToken.objects.filter(
            token_hash=tokens.digest(plaintext),
            revoked_at__isnull=True,
            device__device_id=device_id,
        )
        .only("token_hash")
        .first()
    )
    return token is not None and tokens.matches(plaintext, token.token_hash)


@transaction.atomic
def bind_device(
    *,
    owner: User,
    device_id: str,
    name: str,
    platform: str,
    agent_version: str,
    workspace: str,
    token_hash: str,
    token_hint: str,
    bound_by: User,
    allow_rebind: bool,
) -> Binding:
    """Make token_hash the device's only active token, binding the device to owner.

    Called when a setup flow completes (SET-7): a reinstall replaces the token; a rebind,
    when allowed, moves the device to the new owner, who inherits nothing of the old
    binding but the record's identity (SET-4). Either way the old token stops working
    and its live socket is closed."""
    now = clock.now()
    # get_or_create retries the lookup if a concurrent pairing inserted the row first,
    # and the lock then serializes the two.
    device, created = Device.objects.select_for_update().get_or_create(
        device_id=device_id,
        defaults={"owner": owner, "name": name, "created_at": now, "bound_at": now},
    )
    previous_owner = None
    if not created and not device.enabled:
        raise ActionError(
            "device_disabled", _("This device has been disabled by an operator."), 403
        )
    if device.owner_id != owner.pk:
        if not allow_rebind:
            raise ActionError(
                "device_rebind_required",
                _("This computer was bound to another account meanwhile. Run the installer again."),
                409,
            )
        previous_owner = device.owner
        device.owner = owner
        device.bound_at = now
        device.capabilities = {}
        device.control_state = {}
        device.codex = {}
        device.last_error = ""
    device.name = name
    device.platform = platform
    device.agent_version = agent_version
    device.workspace = workspace
    device.mode = Device.Mode.HOST_RUNTIME
    device.bound_by = bound_by
    device.full_clean(exclude=["owner", "bound_by"], validate_unique=False)
    device.save()
    if not created:
        reason = DeviceToken.Reason.REBOUND if previous_owner else DeviceToken.Reason.REINSTALLED
        revoked = _revoke_active_token(device, reason, bound_by)
        if revoked is not None:
            announce_access_revoked(device.pk, device.device_id, reason, token_pk=revoked)
    DeviceToken.objects.create(
        device=device, token_hash=token_hash, hint=token_hint, created_at=now
    )
    return Binding(device, created, previous_owner)


@transaction.atomic
def revoke_device_token(device: Device, actor: User) -> bool:
    """Cut a device off: its agent must pair again. Returns False if it had no token."""
    revoked = _revoke_active_token(device, DeviceToken.Reason.REVOKED, actor)
    if revoked is None:
        return False
    audit.record(actor, "device.revoke_token", device.owner, subject=device.device_id)
    announce_access_revoked(
        device.pk, device.device_id, DeviceToken.Reason.REVOKED, token_pk=revoked
    )
    return True


@transaction.atomic
def set_device_enabled(device: Device, enabled: bool, actor: User | None = None) -> None:
    before = Device.objects.select_for_update().values_list("enabled", flat=True).get(pk=device.pk)
    Device.objects.filter(pk=device.pk).update(enabled=enabled)
    device.enabled = enabled
    if not enabled:
        announce_access_revoked(device.pk, device.device_id, "device_disabled")
    audit.record(
        actor,
        "device.enable" if enabled else "device.disable",
        device.owner,
        subject=device.device_id,
        before={"enabled": before},
        after={"enabled": enabled},
    )


@transaction.atomic
def disable_beyond_quota(owner: User, device_pks: list[int], actor: User) -> int:
    """An operator picks which of a user's computers to disable after their quota fell
    below what they hold (a card revoked or expired): at least the excess, all of them the
    owner's enabled computers. Returns how many were disabled."""
    locked = list(
        Device.objects.select_for_update()
        .filter(owner=owner, enabled=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    use = quota_use(owner)
    picked = set(device_pks)
    if not picked <= set(locked):
        raise ActionError(
            "invalid_request", _("Pick only this user's computers that are enabled."), 400
        )
    if len(picked) < use.excess:
        raise ActionError(
            "invalid_request",
            _("Pick at least %(excess)d computer(s): %(user)s may keep %(quota)d enabled.")
            % {"excess": use.excess, "user": owner, "quota": use.quota},
            400,
        )
    for device in Device.objects.filter(pk__in=picked).select_related("owner"):
        set_device_enabled(device, False, actor)
    return len(picked)


@transaction.atomic
def assign_owner(device: Device, owner: User, actor: User) -> Device:
    """ADM-4: an operator binds a device to another account. The agent keeps its token,
    but its live socket closes so it reconnects as the new owner's device; like a rebind
    by pairing (SET-4), the new owner inherits nothing of the old binding."""
    locked = Device.objects.select_for_update().select_related("owner").get(pk=device.pk)
    if locked.owner_id == owner.pk:
        return locked
    check_device_quota(owner, locked.device_id)
    before = {"owner": locked.owner.user_id}
    locked.owner = owner
    locked.bound_at = clock.now()
    locked.bound_by = actor
    locked.capabilities = {}
    locked.control_state = {}
    locked.codex = {}
    locked.last_error = ""
    locked.save(
        update_fields=[
            "owner",
            "bound_at",
            "bound_by",
            "capabilities",
            "control_state",
            "codex",
            "last_error",
        ]
    )
    announce_access_revoked(locked.pk, locked.device_id, "owner_changed")
    audit.record(
        actor,
        "device.bind",
        owner,
        subject=locked.device_id,
        before=before,
        after={"owner": owner.user_id},
    )
    return locked


@transaction.atomic
def rename_device(device: Device, name: str, actor: User) -> Device:
    """Give a device the name its owner knows it by; the agent keeps its own id. Recorded,
    as an operator may rename anyone's computer."""
    before = device.name
    device.name = name
    device.save(update_fields=["name"])
    audit.record(
        actor,
        "device.rename",
        device.owner,
        subject=device.device_id,
        before={"name": before},
        after={"name": name},
    )
    return device


@transaction.atomic
def remove_device(device: Device) -> None:
    """Unbind and forget a device, freeing its place in the owner's quota."""
    device_pk, device_id = device.pk, device.device_id
    device.delete()
    announce_access_revoked(device_pk, device_id, "device_removed")
