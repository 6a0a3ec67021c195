"""Web Push subscriptions and their keys (SPEC CON-6): the relay's VAPID key, each
browser's subscription with what it wants to be told, and the single-use answer tokens a
notification carries. What is sent, and how, is in push_sender."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from codexpanel import clock
from codexpanel.errors import ActionError

from .models import PUSH_KINDS, Device, PushAction, PushSubscription, VapidKey

ACTION_LIFETIME = timedelta(days=1)
MAX_SUBSCRIPTIONS_PER_USER = 20


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _public_key(private: ec.EllipticCurvePrivateKey) -> str:
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64(point)


def vapid_keys() -> tuple[str, str]:
    """(private key PEM, public key as the browser's applicationServerKey). Given by
    CODEXPANEL_VAPID_PRIVATE_KEY, or made on first use and kept in the database, so every
    relay process signs with the same key."""
    given = settings.CODEXPANEL_VAPID_PRIVATE_KEY
    if given:
        private = serialization.load_pem_private_key(given.encode(), password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise ValueError("CODEXPANEL_VAPID_PRIVATE_KEY must be a P-256 key")
        return given, _public_key(private)
    kept = VapidKey.objects.order_by("pk").first()
    if kept is None:
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        try:
            with transaction.atomic():
                # pk 1 only: two processes starting at once keep one key between them.
                VapidKey.objects.create(
                    pk=1, private_pem=pem, public_key=_public_key(private), created_at=clock.now()
                )
        except IntegrityError:
            pass
        kept = VapidKey.objects.get(pk=1)
    return kept.private_pem, kept.public_key


def check_endpoint(endpoint: str) -> None:
    """Push services are public HTTPS hosts. Refusing addresses and local names keeps a
    subscription from making the relay post to its own network. (Tests on loopback turn
    this off with CODEXPANEL_PUSH_ALLOW_HTTP.)"""
    refused = ActionError("invalid_subscription", _("A push endpoint is an https:// URL."))
    parts = urlsplit(endpoint)
    if settings.CODEXPANEL_PUSH_ALLOW_HTTP:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise refused
        return
    host = parts.hostname or ""
    if parts.scheme != "https" or parts.port not in (None, 443) or parts.username:
        raise refused
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise refused  # an address, not a push service's name
    if "." not in host or host.endswith((".local", ".localhost", ".internal", ".lan")):
        raise refused


def _key_field(value: Any, name: str, size: int) -> str:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (TypeError, ValueError, AttributeError):
        raw = b""
    if not isinstance(value, str) or len(raw) != size:
        raise ActionError(
            "invalid_subscription",
            _("The subscription's %(name)s key is not valid.") % {"name": name},
        )
    return value


def clean_kinds(kinds: Any) -> list[str]:
    if not isinstance(kinds, list) or any(kind not in PUSH_KINDS for kind in kinds):
        message = _("kinds lists what to be told about: %(kinds)s.") % {
            "kinds": ", ".join(PUSH_KINDS)
        }
        raise ActionError("invalid_request", message)
    return [kind for kind in PUSH_KINDS if kind in kinds]


@transaction.atomic
def subscribe(
    user: User, subscription: dict[str, Any], kinds: list[str], label: str, session_key: str
) -> PushSubscription:
    """Keep (or renew) this browser's subscription for user."""
    endpoint = subscription.get("endpoint")
    keys = subscription.get("keys") if isinstance(subscription.get("keys"), dict) else {}
    if not isinstance(endpoint, str) or len(endpoint) > 1000:
        raise ActionError("invalid_subscription", _("A push endpoint is an https:// URL."))
    check_endpoint(endpoint)
    p256dh = _key_field(keys.get("p256dh"), "p256dh", 65)
    auth = _key_field(keys.get("auth"), "auth", 16)
    if PushSubscription.objects.filter(user=user).exclude(endpoint=endpoint).count() >= (
        MAX_SUBSCRIPTIONS_PER_USER
    ):
        raise ActionError(
            "too_many_subscriptions", _("Turn notifications off on a browser you no longer use.")
        )
    # An endpoint belongs to one browser profile; whoever subscribes it now owns it.
    PushSubscription.objects.filter(endpoint=endpoint).exclude(user=user).delete()
    kept, _created = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "user": user,
            "p256dh": p256dh,
            "auth": auth,
            "kinds": clean_kinds(kinds),
            "label": label[:120],
            "session_key": session_key or "",
            "created_at": clock.now(),
        },
    )
    return kept


def subscription_of(user: User, endpoint: Any) -> PushSubscription:
    found = PushSubscription.objects.filter(user=user, endpoint=endpoint).first()
    if found is None:
        raise ActionError("subscription_not_found", _("This browser is not subscribed."), 404)
    return found


def forget_session(session_key: str) -> int:
    """Signing out of a browser ends its notifications."""
    if not session_key:
        return 0
    return PushSubscription.objects.filter(session_key=session_key).delete()[0]


def forget_user(user: User) -> int:
    return PushSubscription.objects.filter(user=user).delete()[0]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_action(user: User, device: Device, request_id: str, decision: Any) -> str:
    """A token that answers this request with this decision, once, as this user."""
    token = "cpa_" + secrets.token_urlsafe(24)
    PushAction.objects.create(
        token_hash=_token_hash(token),
        user=user,
        device=device,
        request_id=request_id,
        decision=decision,
        expires_at=clock.now() + ACTION_LIFETIME,
    )
    return token


def action_refused() -> ActionError:
    return ActionError("invalid_action", _("This notification can no longer answer."), 403)


@transaction.atomic
def redeem_action(token: Any) -> PushAction:
    """The action a notification's button carries, marked used. Refused once used, when
    expired or unknown, all alike."""
    refused = action_refused()
    if not isinstance(token, str) or not token.startswith("cpa_") or len(token) > 64:
        raise refused
    action = (
        PushAction.objects.select_for_update()
        .select_related("user", "device")
        .filter(token_hash=_token_hash(token))
        .first()
    )
    if action is None or action.used_at is not None or action.expires_at <= clock.now():
        raise refused
    if not action.user.is_active:
        raise refused
    action.used_at = clock.now()
    action.save(update_fields=["used_at"])
    return action


def prune_actions() -> int:
    return PushAction.objects.filter(expires_at__lt=clock.now()).delete()[0]
