"""Rate-limit policies of the setup flow (SPEC SET-1)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from accounts.ratelimit import Policy


def setup_start_by_ip() -> Policy:
    """Setup flows started per source address: each start writes a row and reserves a
    pending slot, so one client must not fill the relay's pending cap by itself."""
    return Policy(
        "setup_start_by_ip",
        limit=settings.CODEXPANEL_DESKTOP_SETUP_START_MAX_ATTEMPTS,
        window=timedelta(milliseconds=settings.CODEXPANEL_DESKTOP_SETUP_START_WINDOW_MS),
        lockout=None,
        max_buckets=settings.CODEXPANEL_DESKTOP_SETUP_START_MAX_IP_BUCKETS,
    )
