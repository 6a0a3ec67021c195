"""DEV-6: when a device's credential stops being valid (revoked, replaced by a reinstall,
moved to another account, device disabled or removed), whatever holds its live socket hears
about it once the change is committed, in whichever relay process that is."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

# Sent after commit with device_pk, device_id (the public id), reason, and token_pk when one
# token was revoked (None: the whole device is cut off); the socket layer closes the
# device's connections that used it.
device_access_revoked = Signal()


def announce_access_revoked(
    device_pk: int, device_id: str, reason: str, token_pk: int | None = None
) -> None:
    transaction.on_commit(
        lambda: device_access_revoked.send(
            sender=None, device_pk=device_pk, device_id=device_id, reason=reason, token_pk=token_pk
        )
    )
