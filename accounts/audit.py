"""Audit records of operators' actions (SPEC WAL-6). Action functions call record() in the
transaction that made the change, so a change and its record land together or not at all."""

from __future__ import annotations

from typing import Any

from .models import AuditRecord, User


def record(
    actor: User | None,
    action: str,
    target_user: User | None,
    *,
    subject: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRecord:
    return AuditRecord.objects.create(
        actor=actor,
        target_user=target_user,
        action=action,
        subject=subject[:200],
        before=before or {},
        after=after or {},
    )
