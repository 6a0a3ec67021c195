"""Every state change of accounts goes through these functions; the API views, the
admin and management commands call them."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from codexpanel import clock
from codexpanel.errors import ActionError, rate_limited
from codexpanel.net import client_network

from . import audit, ratelimit
from .groups import ADMINISTRATORS, ensure_default_groups
from .models import (
    USER_ID_VALIDATOR,
    USERNAME_VALIDATOR,
    EmailLoginCode,
    SignInFailure,
    User,
)
from .signals import end_sessions

log = logging.getLogger(__name__)

# The README's example password; a production relay refuses to create an admin with it.
SAMPLE_ADMIN_PASSWORD = "Admin778899"  # noqa: S105 - the value refused, not a credential


def _invalid_credentials() -> ActionError:
    return ActionError("invalid_credentials", _("Invalid username or password."), 401)


def _locked_for(*waits: float | None) -> float | None:
    present = [w for w in waits if w]
    return max(present) if present else None


SIGN_IN_FAILURE_DAYS = 30
LOCKED_RECORD_EVERY = timedelta(minutes=1)


def record_sign_in_failure(username: str, network: str, reason: str) -> None:
    now = clock.now()
    shown = "".join(c if c.isprintable() else "\ufffd" for c in username[:150])
    network = network[:64]
    if (
        reason == SignInFailure.Reason.LOCKED
        and SignInFailure.objects.filter(
            at__gte=now - LOCKED_RECORD_EVERY, username=shown, network=network, reason=reason
        ).exists()
    ):
        return  # a locked-out flood is one row a minute, not one row a request
    SignInFailure.objects.create(at=now, username=shown, network=network, reason=reason)
    # Indexed and usually empty: keeps the table to a window an operator looks back over.
    SignInFailure.objects.filter(at__lt=now - timedelta(days=SIGN_IN_FAILURE_DAYS)).delete()


def authenticate_with_limits(request: HttpRequest, username: str, password: str) -> User:
    """Check a username and password under the login policies (IAM-6).

    A locked username or address answers 429 before the password is looked at. A wrong
    password, an unknown username and a disabled account all give the same answer."""
    ip = client_network(request)
    by_username, by_ip = ratelimit.login_by_username(), ratelimit.login_by_ip()
    wait = _locked_for(by_ip.retry_after(ip), by_username.retry_after(username))
    if wait:
        record_sign_in_failure(username, ip, SignInFailure.Reason.LOCKED)
        raise rate_limited(wait)
    user = authenticate(request, username=username, password=password)
    if user is None:
        by_username.hit(username)
        by_ip.hit(ip)
        record_sign_in_failure(username, ip, SignInFailure.Reason.INVALID)
        raise _invalid_credentials()
    by_username.reset(username)
    return user


def _validate_new_password(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ActionError("invalid_password", " ".join(exc.messages), 400) from exc


def register_user(*, username: str, password: str, email: str = "") -> User:
    """Self-service registration (IAM-5), when the relay has it switched on."""
    if not settings.CODEXPANEL_REGISTRATION_ENABLED:
        raise ActionError("registration_closed", _("Registration is closed on this relay."), 403)
    username = User.normalize_username(username.strip())
    try:
        USERNAME_VALIDATOR(username)
    except ValidationError as exc:
        raise ActionError("invalid_username", " ".join(exc.messages), 400) from exc
    email = User.objects.normalize_email(email.strip())
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise ActionError("invalid_email", _("Enter a valid email address."), 400) from exc
    candidate = User(username=username, email=email)
    _validate_new_password(password, candidate)
    if User.objects.filter(username__iexact=username).exists():
        raise ActionError("username_taken", _("That username is already taken."), 409)
    if email and User.objects.filter(email__iexact=email).exists():
        raise ActionError("email_taken", _("That email address is already in use."), 409)
    try:
        with transaction.atomic():
            return User.objects.create_user(username, password, email=email)
    except IntegrityError as exc:  # a concurrent registration won the name
        raise ActionError("username_taken", _("That username is already taken."), 409) from exc


@dataclass(frozen=True)
class BootstrapResult:
    created: bool
    user: User | None
    message: str


def bootstrap_first_admin(
    *, username: str, password: str, user_id: str = "", production: bool
) -> BootstrapResult:
    """Create the first administrator from CODEXPANEL_ADMIN_* once (IAM-3).

    Idempotent: when that admin exists nothing changes, its password included. Refuses to
    promote an existing non-admin account of the same name (someone may have registered
    it first) and, in production, the README's sample password and weak passwords."""
    username = username.strip()
    if not username:
        return BootstrapResult(
            False, None, "CODEXPANEL_ADMIN_USERNAME is not set; no admin bootstrapped."
        )
    admins = ensure_default_groups().user_set
    existing = User.objects.filter(username__iexact=username).first()
    if existing is not None:
        if not admins.filter(pk=existing.pk).exists():
            raise ActionError(
                "bootstrap_conflict",
                f"User {existing.username!r} exists but is not in {ADMINISTRATORS}; "
                "refusing to promote it. Choose another CODEXPANEL_ADMIN_USERNAME or grant "
                "the group from the admin.",
                409,
            )
        return BootstrapResult(
            False, existing, f"Admin {existing.username!r} already exists; password unchanged."
        )
    if admins.exists():
        return BootstrapResult(
            False,
            None,
            "An administrator already exists; CODEXPANEL_ADMIN_* only creates the first one.",
        )
    if not password:
        raise ActionError(
            "bootstrap_invalid", "CODEXPANEL_ADMIN_PASSWORD is required to create the first admin."
        )
    if production and password == SAMPLE_ADMIN_PASSWORD:
        raise ActionError(
            "bootstrap_invalid",
            "CODEXPANEL_ADMIN_PASSWORD is the README's sample password; choose your own.",
        )
    fields: dict[str, str] = {}
    if user_id:
        try:
            USER_ID_VALIDATOR(user_id)
        except ValidationError as exc:
            raise ActionError(
                "bootstrap_invalid", f"CODEXPANEL_ADMIN_USER_ID: {' '.join(exc.messages)}"
            ) from exc
        fields["user_id"] = user_id
    if production:
        _validate_new_password(password, User(username=username))
    with transaction.atomic():
        user = User.objects.create_superuser(username, password, **fields)
    return BootstrapResult(True, user, f"Created admin {user.username!r} (userId {user.user_id}).")


# --- Sessions end (IAM-9) --------------------------------------------------------------


def disable_user(user: User, actor: User | None = None) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit.record(actor, "user.disable", user, before={"enabled": True}, after={"enabled": False})


def enable_user(user: User, actor: User | None = None) -> None:
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit.record(actor, "user.enable", user, before={"enabled": False}, after={"enabled": True})


def set_user_groups(user: User, groups: Iterable[Group], actor: User | None = None) -> None:
    before = sorted(user.groups.values_list("name", flat=True))
    user.groups.set(list(groups))
    after = sorted(user.groups.values_list("name", flat=True))
    if before != after:
        audit.record(actor, "user.groups", user, before={"groups": before}, after={"groups": after})


def reset_password(user: User, new_password: str, actor: User | None = None) -> None:
    _validate_new_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    audit.record(actor, "user.password_reset", user)


def end_all_sessions(user: User) -> None:
    end_sessions(user)


# --- Email-code sign-in (IAM-7) ---------------------------------------------------------


def _invalid_code() -> ActionError:
    return ActionError("invalid_code", _("The code is wrong or has expired."), 401)


def request_email_code(request: HttpRequest, email: str) -> None:
    """Mail a six-digit sign-in code. The answer is the same whether or not an account
    uses the address."""
    ip = client_network(request)
    address = email.strip().casefold()
    by_ip, by_address = ratelimit.email_code_by_ip(), ratelimit.email_code_by_address()
    wait = _locked_for(by_ip.retry_after(ip), by_address.retry_after(address))
    if wait:
        raise rate_limited(wait)
    by_ip.hit(ip)
    by_address.hit(address)
    now = clock.now()
    max_codes = settings.CODEXPANEL_EMAIL_CODE_MAX_CODES
    with transaction.atomic():
        EmailLoginCode.objects.filter(expires_at__lte=now).delete()
        if EmailLoginCode.objects.filter(used_at__isnull=True).count() >= max_codes:
            raise ActionError(
                "email_code_capacity",
                _("Too many sign-in codes are outstanding. Try again in a few minutes."),
                429,
                retry_after=60,
            )
        user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
        if user is None:
            return
        # One live code per user: a new request replaces the previous one.
        EmailLoginCode.objects.filter(user=user).delete()
        code = f"{secrets.randbelow(1_000_000):06d}"
        ttl = timedelta(seconds=settings.CODEXPANEL_EMAIL_CODE_TTL_SECONDS)
        EmailLoginCode.objects.create(
            user=user,
            code_hash=EmailLoginCode.hash_code(user.pk, code),
            created_at=now,
            expires_at=now + ttl,
        )
        minutes = settings.CODEXPANEL_EMAIL_CODE_TTL_SECONDS // 60
        subject = _("Your codexpanel sign-in code")
        body = _(
            "Your codexpanel sign-in code is %(code)s. It expires in %(minutes)d minutes "
            "and works once. If you did not ask for it, ignore this email."
        ) % {"code": code, "minutes": minutes}
        recipient = user.email
        transaction.on_commit(lambda: _send_code_mail(subject, body, recipient))


def _send_code_mail(subject: str, body: str, recipient: str) -> None:
    # A mail failure must not change the answer: a 500 only for known addresses would
    # tell which addresses have accounts.
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
    except Exception:
        log.exception("Could not send a sign-in code mail")


def verify_email_code(request: HttpRequest, email: str, code: str) -> User:
    """Exchange a mailed code for a sign-in. Codes are single-use, expire, and die after
    CODEXPANEL_EMAIL_CODE_MAX_VERIFY_ATTEMPTS wrong tries; wrong tries also count as
    failed sign-ins from the caller's address."""
    ip = client_network(request)
    # Wrong codes count against the account as wrong passwords do, so asking for fresh
    # codes does not buy fresh guesses.
    account = f"email:{email.strip().casefold()}"
    by_account, by_ip = ratelimit.login_by_username(), ratelimit.login_by_ip()
    wait = _locked_for(by_ip.retry_after(ip), by_account.retry_after(account))
    if wait:
        raise rate_limited(wait)
    now = clock.now()
    max_attempts = settings.CODEXPANEL_EMAIL_CODE_MAX_VERIFY_ATTEMPTS
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
        record = None
        if user is not None:
            record = (
                EmailLoginCode.objects.select_for_update()
                .filter(user=user, used_at__isnull=True, expires_at__gt=now)
                .order_by("-created_at")
                .first()
            )
        matched = (
            record is not None
            and record.is_live(now, max_attempts)
            and constant_time_compare(record.code_hash, EmailLoginCode.hash_code(user.pk, code))
        )
        if record is not None:
            if matched:
                record.used_at = now
            else:
                record.failed_attempts += 1
            record.save(update_fields=["used_at", "failed_attempts"])
    if not matched:
        by_account.hit(account)
        by_ip.hit(ip)
        raise _invalid_code()
    by_account.reset(account)
    return user
