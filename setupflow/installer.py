"""The installer's side of the setup flow (SPEC SET-1, SET-5, SET-6, SET-7): start, poll,
terminal-token login, install context and complete. Like setupflow/actions.py, every step
is a conditional UPDATE on the state it expects."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Least
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.models import User
from codexpanel import clock, tokens
from codexpanel.errors import ActionError, rate_limited
from codexpanel.net import client_ip, client_network
from devices.access import check_device_quota
from devices.actions import bind_device, mint_device_token, token_proves_device
from devices.models import Device

from .actions import approve
from .lookup import (
    FLOW_ID_PREFIX,
    SECRET_PREFIX,
    SETUP_TOKEN_PREFIX,
    denied,
    expired,
    flow_for_installer,
    flow_for_setup_token,
    guarded_check,
    not_pending,
)
from .models import CODE_ALPHABET, CODE_LENGTH, SetupFlow
from .policies import setup_start_by_ip

# RFC 8628 §3.5: each slow_down adds five seconds to the interval.
SLOW_DOWN_STEP = 5
MAX_INTERVAL = 60
# A client that sleeps exactly `interval` between polls may arrive a little early.
POLL_GRACE = timedelta(milliseconds=500)
# Finished flows stay visible to operators for a day, then go.
KEEP_FINISHED = timedelta(days=1)


@dataclass(frozen=True)
class Profile:
    device_id: str
    device_name: str
    workspace: str = ""
    platform: str = ""
    agent_version: str = ""
    device_token: str = ""


@dataclass(frozen=True)
class Started:
    flow: SetupFlow
    flow_secret: str
    code: str


@dataclass(frozen=True)
class Handoff:
    device_token: str
    setup_token: str
    flow: SetupFlow


# --- start -------------------------------------------------------------------------------


def _purge_finished() -> None:
    cutoff = clock.now() - KEEP_FINISHED
    stale = SetupFlow.objects.filter(expires_at__lt=cutoff).values_list("pk", flat=True)[:500]
    SetupFlow.objects.filter(pk__in=list(stale)).delete()


def start_flow(request: HttpRequest, profile: Profile) -> Started:
    """SET-1: open a flow for the installer; limited per address and in total."""
    network = client_network(request)
    policy = setup_start_by_ip()
    wait = policy.retry_after(network)
    if wait:
        raise rate_limited(wait)
    now = clock.now()
    _purge_finished()
    pending = SetupFlow.objects.filter(state=SetupFlow.State.PENDING, expires_at__gt=now)
    if pending.count() >= settings.CODEXPANEL_DESKTOP_SETUP_MAX_PENDING:
        raise ActionError(
            "setup_busy",
            _("Too many computers are waiting to be paired right now. Try again in a minute."),
            503,
            retry_after=60,
        )
    policy.hit(network)
    flow_id = FLOW_ID_PREFIX + secrets.token_urlsafe(16)
    secret = tokens.mint(SECRET_PREFIX, 32)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    flow = SetupFlow.objects.create(
        flow_id=flow_id,
        secret_hash=secret.digest,
        code_hash=SetupFlow.hash_code(flow_id, code),
        device_id=profile.device_id,
        device_name=profile.device_name,
        workspace=profile.workspace,
        platform=profile.platform,
        agent_version=profile.agent_version,
        started_from=client_ip(request),
        holds_device_token=bool(profile.device_token)
        and token_proves_device(profile.device_token, profile.device_id),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.CODEXPANEL_DESKTOP_SETUP_TTL_SECONDS),
        interval=settings.CODEXPANEL_DESKTOP_SETUP_POLL_INTERVAL_SECONDS,
    )
    return Started(flow, secret.plaintext, code)


def approve_with_terminal_token(
    flow_id: str, flow_secret: str, token: str, *, confirm_rebind: bool
) -> Handoff:
    """SET-6: the installer approves its own flow with the person's terminal token and
    collects its tokens in the same answer. `device_rebind_required` leaves the token
    unused, so it can be sent again with confirmRebind."""
    flow = flow_for_installer(flow_id, flow_secret)
    if flow.state == SetupFlow.State.DENIED:
        raise denied()
    if flow.is_expired(clock.now()):
        raise expired()
    if guarded_check(flow, lambda: tokens.matches(token, flow.terminal_token_hash)) is not None:
        raise ActionError(
            "invalid_terminal_token",
            _("That terminal token is not valid for this setup. Generate a new one."),
            401,
        )
    if flow.terminal_token_expires_at is None or flow.terminal_token_expires_at <= clock.now():
        raise ActionError(
            "terminal_token_expired",
            _("That terminal token has expired. Generate a new one on the setup page."),
            401,
        )
    with transaction.atomic():
        approve(flow, flow.terminal_token_user, confirm_rebind)
        SetupFlow.objects.filter(pk=flow.pk).update(
            terminal_token_hash="", terminal_token_expires_at=None
        )
        handoff = hand_off(flow)
        if handoff is None:  # another request collected the tokens between the two steps
            raise not_pending()
    return handoff


# --- poll and hand-off -------------------------------------------------------------------


def hand_off(flow: SetupFlow) -> Handoff | None:
    """Mint the device and setup tokens for an approved flow, once. Only their hashes are
    kept; None if they were already collected."""
    now = clock.now()
    device_token = mint_device_token()
    setup_token = tokens.mint(SETUP_TOKEN_PREFIX, 32)
    collected = SetupFlow.objects.filter(
        pk=flow.pk, state=SetupFlow.State.APPROVED, handed_off_at__isnull=True
    ).update(
        handed_off_at=now,
        device_token_hash=device_token.digest,
        device_token_hint=device_token.plaintext[:12],
        setup_token_hash=setup_token.digest,
        setup_token_expires_at=now
        + timedelta(seconds=settings.CODEXPANEL_DESKTOP_SETUP_TOKEN_TTL_SECONDS),
    )
    if not collected:
        return None
    flow.refresh_from_db()
    return Handoff(device_token.plaintext, setup_token.plaintext, flow)


def _slow_down(flow: SetupFlow) -> ActionError:
    SetupFlow.objects.filter(pk=flow.pk).update(
        interval=Least(F("interval") + SLOW_DOWN_STEP, MAX_INTERVAL)
    )
    flow.refresh_from_db(fields=["interval"])
    return ActionError(
        "slow_down",
        _("Polling too fast. Wait %(seconds)d seconds between polls.") % {"seconds": flow.interval},
        429,
        retry_after=flow.interval,
        details={"interval": flow.interval},
    )


def poll_flow(flow_id: str, flow_secret: str) -> tuple[SetupFlow, Handoff | None]:
    """SET-5: where the installer's flow stands; the first poll after approval carries
    the tokens, later ones do not."""
    flow = flow_for_installer(flow_id, flow_secret)
    now = clock.now()
    if flow.state in (SetupFlow.State.PENDING, SetupFlow.State.APPROVED):
        earliest = now - timedelta(seconds=flow.interval) + POLL_GRACE
        on_time = SetupFlow.objects.filter(pk=flow.pk).filter(
            Q(last_polled_at__isnull=True) | Q(last_polled_at__lte=earliest)
        )
        if not on_time.update(last_polled_at=now):
            raise _slow_down(flow)
    if flow.is_expired(now) or flow.state != SetupFlow.State.APPROVED:
        return flow, None
    return flow, hand_off(flow)


# --- install context and complete (SET-7) ------------------------------------------------


def install_context(setup_token: str, relay_url: str) -> dict[str, Any]:
    from agent import __version__
    from agent.protocol import device_wss_url

    flow = flow_for_setup_token(setup_token)
    return {
        "relayUrl": relay_url,
        "userId": flow.approved_by.user_id,
        "deviceId": flow.device_id,
        "deviceName": flow.device_name,
        "workspace": flow.workspace,
        "agentVersion": __version__,
        "deviceWssUrl": device_wss_url(relay_url),
        "heartbeatIntervalSeconds": settings.CODEXPANEL_HEARTBEAT_INTERVAL_SECONDS,
    }


@transaction.atomic
def complete_flow(setup_token: str, updates: dict[str, str]) -> Device:
    """SET-7: activate the device token. Until now the device's previous token (if any)
    kept working, so an install that fails before this point cuts nobody off."""
    flow = flow_for_setup_token(setup_token)
    consumed = SetupFlow.objects.filter(
        pk=flow.pk, state=SetupFlow.State.APPROVED, setup_token_hash=flow.setup_token_hash
    ).update(state=SetupFlow.State.COMPLETED, completed_at=clock.now(), setup_token_hash="")
    if not consumed:
        raise ActionError(
            "invalid_setup_token", _("This setup token is not valid or was already used."), 401
        )
    # Locking the owner serializes completions per user, so two at once cannot both take
    # the last place in the quota (SET-8: checked at approve, enforced here).
    owner = User.objects.select_for_update().get(pk=flow.approved_by_id)
    if not owner.is_active:
        raise ActionError("account_disabled", _("This account is disabled."), 403)
    current_owner = (
        Device.objects.filter(device_id=flow.device_id).values_list("owner", flat=True).first()
    )
    if current_owner != owner.pk:
        check_device_quota(owner, flow.device_id)
    binding = bind_device(
        owner=owner,
        device_id=flow.device_id,
        name=flow.device_name,
        platform=updates.get("platform") or flow.platform,
        agent_version=updates.get("agentVersion") or flow.agent_version,
        workspace=updates.get("workspace") or flow.workspace,
        token_hash=flow.device_token_hash,
        token_hint=flow.device_token_hint,
        bound_by=flow.approved_by,
        allow_rebind=flow.rebind_confirmed,
    )
    SetupFlow.objects.filter(pk=flow.pk).update(previous_owner=binding.previous_owner)
    return binding.device
