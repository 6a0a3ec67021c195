"""Finding a setup flow by what each party holds: the installer its flowSecret, the person
the code of the setup link, the installer after approval its setupToken. Wrong codes and
tokens count against the flow (SET-3)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.models import User
from codexpanel import clock, tokens
from codexpanel.errors import ActionError
from devices.models import Device

from .models import SetupFlow

FLOW_ID_PREFIX = "sf_"
SECRET_PREFIX = "cpf_"  # noqa: S105 - a public marker
SETUP_TOKEN_PREFIX = "cps_"  # noqa: S105 - a public marker
TERMINAL_TOKEN_PREFIX = "cpt_"  # noqa: S105 - a public marker


# --- errors ------------------------------------------------------------------------------


def not_found() -> ActionError:
    return ActionError("flow_not_found", _("No such setup flow."), 404)


def expired() -> ActionError:
    return ActionError(
        "flow_expired", _("This setup link has expired. Run the installer again."), 410
    )


def denied() -> ActionError:
    return ActionError("flow_denied", _("This setup was cancelled. Run the installer again."), 410)


def not_pending() -> ActionError:
    return ActionError("flow_not_pending", _("This computer has already been approved."), 409)


# --- finding a flow ----------------------------------------------------------------------


def find_flow(flow_id: str) -> SetupFlow:
    flow = SetupFlow.objects.filter(flow_id=flow_id).select_related("approved_by").first()
    if flow is None:
        raise not_found()
    return flow


def _kill(flow: SetupFlow) -> ActionError:
    SetupFlow.objects.filter(pk=flow.pk, state=SetupFlow.State.PENDING).update(
        state=SetupFlow.State.DENIED, denied_reason=SetupFlow.DeniedReason.CODE_ATTEMPTS
    )
    return denied()


def guarded_check(flow: SetupFlow, is_right: Callable[[], bool]) -> int | None:
    """Compare a code or terminal token under the flow's guess limit (SET-3).

    Returns None when it is right, else the wrong guesses still forgiven. A guess is
    counted before it is compared, so parallel requests cannot compare more than the
    limit allows; a right one gives its count back. Five wrong guesses are forgiven and
    the sixth ends the flow. Once a flow has left `pending` there is nothing left to
    approve, so guesses are no longer counted."""
    if flow.state == SetupFlow.State.DENIED:
        raise denied()
    if flow.state != SetupFlow.State.PENDING:
        return None if is_right() else 0
    limit = settings.CODEXPANEL_DESKTOP_SETUP_MAX_CODE_ATTEMPTS
    reserved = SetupFlow.objects.filter(
        pk=flow.pk, state=SetupFlow.State.PENDING, wrong_attempts__lte=limit
    ).update(wrong_attempts=F("wrong_attempts") + 1)
    if not reserved:
        flow.refresh_from_db(fields=["state"])
        if flow.state == SetupFlow.State.PENDING:
            raise _kill(flow)
        return guarded_check(flow, is_right)
    if is_right():
        SetupFlow.objects.filter(pk=flow.pk).update(wrong_attempts=F("wrong_attempts") - 1)
        return None
    flow.refresh_from_db(fields=["wrong_attempts"])
    remaining = limit - flow.wrong_attempts
    if remaining < 0:
        raise _kill(flow)
    return remaining


def flow_for_installer(flow_id: str, flow_secret: str) -> SetupFlow:
    flow = find_flow(flow_id)
    if not tokens.matches(flow_secret, flow.secret_hash):
        raise ActionError("invalid_flow_secret", _("The setup secret does not match."), 403)
    return flow


def flow_for_browser(flow_id: str, code: str) -> SetupFlow:
    """The flow a setup link names, if its code is right. Wrong codes count against the
    flow, so neither the page nor the API is a way to guess one."""
    flow = find_flow(flow_id)
    if flow.state == SetupFlow.State.DENIED:
        raise denied()
    remaining = guarded_check(flow, lambda: flow.code_matches(code))
    if remaining is not None:
        raise ActionError(
            "invalid_code",
            _("That code does not match the one shown by the installer."),
            400,
            details={"remainingAttempts": remaining},
        )
    return flow


def require_pending(flow: SetupFlow) -> None:
    if flow.state == SetupFlow.State.DENIED:
        raise denied()
    if flow.is_expired(clock.now()):
        raise expired()
    if flow.state != SetupFlow.State.PENDING:
        raise not_pending()


def status_of(flow: SetupFlow) -> str:
    return "expired" if flow.is_expired(clock.now()) else flow.state


def rebind_required(flow: SetupFlow, user: User) -> bool:
    return Device.objects.filter(device_id=flow.device_id).exclude(owner=user).exists()


def flow_for_setup_token(setup_token: str) -> SetupFlow:
    flow = None
    if setup_token.startswith(SETUP_TOKEN_PREFIX) and len(setup_token) < 128:
        flow = (
            SetupFlow.objects.filter(setup_token_hash=tokens.digest(setup_token))
            .select_related("approved_by")
            .first()
        )
    if flow is None or not tokens.matches(setup_token, flow.setup_token_hash):
        raise ActionError(
            "invalid_setup_token", _("This setup token is not valid or was already used."), 401
        )
    if flow.state != SetupFlow.State.APPROVED:
        raise ActionError(
            "invalid_setup_token", _("This setup token is not valid or was already used."), 401
        )
    if flow.is_expired(clock.now()):
        raise ActionError(
            "setup_token_expired", _("This setup token has expired. Run the installer again."), 401
        )
    return flow
