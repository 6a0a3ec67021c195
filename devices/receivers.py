"""Closing live connections when access ends (SPEC DEV-6, IAM-9): the signals fire after
commit in whichever process made the change; the channel layer carries the news to the
process holding the socket or stream."""

from __future__ import annotations

from typing import Any

from .groups import device_group, publish_now, user_group


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
