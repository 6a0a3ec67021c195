"""Closing live connections when access ends (SPEC DEV-6, IAM-9): the signals fire after
commit in whichever process made the change; the channel layer carries the news to the
process holding the socket or stream."""

from __future__ import annotations

from typing import Any

from .realtime.groups import device_group, publish_now, user_group


def close_revoked_device(
    sender: Any, device_pk: int, reason: str, token_pk: int | None = None, **kwargs: Any
) -> None:
    publish_now(
        [
            (
                device_group(device_pk),
                {"type": "device.revoke", "reason": reason, "tokenPk": token_pk},
            )
        ]
    )


def close_user_connections(sender: Any, user_pk: int, **kwargs: Any) -> None:
    publish_now([(user_group(user_pk), {"type": "user.sessions_ended"})])


def forget_push_on_sign_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Signing out of a browser turns off its notifications."""
    from .push import forget_session

    session = getattr(request, "session", None)
    forget_session(getattr(session, "session_key", "") or "")


def forget_push_of_disabled(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A disabled account is told nothing more, on any browser."""
    if not instance.is_active:
        from .push import forget_user

        forget_user(instance)
