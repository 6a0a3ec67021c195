"""The only writers of setup flows on the person's side (SPEC SET-3, SET-4, SET-6, SET-8);
the installer's side is setupflow/installer.py.

Every step that moves a flow forward is a conditional UPDATE on its expected state, so two
relay processes racing on one flow (a double-clicked Approve, two polls at once) can never
both win: exactly one approval, one hand-off of the tokens, one completion.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils.translation import gettext as _

from accounts.models import User
from codexpanel import clock, tokens
from codexpanel.errors import ActionError
from devices.access import check_device_quota, device_disabled
from devices.models import Device

from .lookup import (
    TERMINAL_TOKEN_PREFIX,
    flow_for_browser,
    not_pending,
    require_pending,
)
from .models import SetupFlow

APPROVAL_GRACE = timedelta(seconds=60)

# --- approve (browser or terminal token) -------------------------------------------------


def approve(flow: SetupFlow, user: User, confirm_rebind: bool) -> None:
    """SET-3/SET-4/SET-8, shared by the browser and the terminal token."""
    require_pending(flow)
    if not user.is_active:
        raise ActionError("account_disabled", _("This account is disabled."), 403)
    device = Device.objects.filter(device_id=flow.device_id).first()
    if device is not None and not device.enabled:
        raise device_disabled()
    rebind = device is not None and device.owner_id != user.pk
    if rebind and not flow.holds_device_token:
        # A device id alone proves nothing: anyone who learns one could otherwise take the
        # computer from its owner. Only the installer of the current binding can move it.
        raise ActionError(
            "device_bound_elsewhere",
            _(
                "This computer is bound to another account. To move it, run the installer "
                "on that computer, where its current installation proves the binding, or "
                "ask that account to remove the device."
            ),
            409,
        )
    if rebind and not confirm_rebind:
        raise ActionError(
            "device_rebind_required",
            _(
                "This computer is bound to another account and will not be switched "
                "automatically. Confirm to move it to your account."
            ),
            409,
            details={"deviceName": device.name},
        )
    if device is None or rebind:
        check_device_quota(user, flow.device_id)
    now = clock.now()
    approved = SetupFlow.objects.filter(
        pk=flow.pk, state=SetupFlow.State.PENDING, expires_at__gt=now
    ).update(
        state=SetupFlow.State.APPROVED,
        approved_by=user,
        approved_at=now,
        approved_by_groups=sorted(user.groups.values_list("name", flat=True)),
        rebind_confirmed=rebind,
        previous_owner=device.owner if rebind else None,
        # An approval in the flow's last seconds still leaves the installer time to
        # collect it.
        expires_at=Greatest(F("expires_at"), now + APPROVAL_GRACE),
    )
    if not approved:
        raise not_pending()
    flow.refresh_from_db()


def approve_flow(user: User, flow_id: str, code: str, *, confirm_rebind: bool) -> SetupFlow:
    flow = flow_for_browser(flow_id, code)
    approve(flow, user, confirm_rebind)
    return flow


def deny_flow(user: User, flow_id: str, code: str) -> SetupFlow:
    """Not my computer: end a pending flow so its installer stops waiting."""
    flow = flow_for_browser(flow_id, code)
    require_pending(flow)
    SetupFlow.objects.filter(pk=flow.pk, state=SetupFlow.State.PENDING).update(
        state=SetupFlow.State.DENIED, denied_reason=SetupFlow.DeniedReason.BY_USER
    )
    flow.refresh_from_db()
    return flow


def issue_terminal_token(user: User, flow_id: str, code: str) -> tuple[str, int]:
    """SET-6: a one-time token the signed-in person types into the installer. A new one
    replaces the previous. Returns the plaintext (shown once) and its lifetime."""
    flow = flow_for_browser(flow_id, code)
    require_pending(flow)
    now = clock.now()
    ttl = min(
        settings.CODEXPANEL_DESKTOP_SETUP_TERMINAL_TOKEN_TTL_SECONDS,
        int((flow.expires_at - now).total_seconds()),
    )
    minted = tokens.mint(TERMINAL_TOKEN_PREFIX, 18)
    SetupFlow.objects.filter(pk=flow.pk).update(
        terminal_token_hash=minted.digest,
        terminal_token_expires_at=now + timedelta(seconds=ttl),
        terminal_token_user=user,
    )
    return minted.plaintext, ttl
