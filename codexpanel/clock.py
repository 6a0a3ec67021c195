"""The relay's clock. Time-based rules (rate limits, expiries) read it here so tests can
move time forward instead of sleeping."""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
