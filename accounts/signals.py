"""IAM-9: when a user's sessions end, everything holding a live connection for them hears
about it once the change is committed (browser streams and device sockets connect here)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.dispatch import Signal

# Sent with user_pk after commit; receivers close that user's live connections.
user_sessions_ended = Signal()


def announce_sessions_ended(user: Any) -> None:
    pk = user.pk
    transaction.on_commit(lambda: user_sessions_ended.send(sender=type(user), user_pk=pk))


def end_sessions(user: Any) -> None:
    """End every session of this user at their next request, in every relay process."""
    type(user).objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    user.refresh_from_db(fields=["session_epoch"])
    announce_sessions_ended(user)


def groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    """A change of permission groups ends the sessions it touches (IAM-9), from either
    side of the relation: user.groups.add(...) or group.user_set.remove(...)."""
    from django.contrib.auth import get_user_model

    if not reverse:
        if (action in {"post_add", "post_remove"} and pk_set) or action == "post_clear":
            end_sessions(instance)
        return
    members = get_user_model().objects.all()
    if action == "pre_clear":
        affected = members.filter(groups=instance)
    elif action in {"post_add", "post_remove"} and pk_set:
        affected = members.filter(pk__in=pk_set)
    else:
        return
    for user in affected:
        end_sessions(user)
