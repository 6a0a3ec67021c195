"""Delete events older than CODEXPANEL_EVENT_RETENTION_DAYS. Relay processes also do this
hourly while they serve sockets; run it from cron where no process is always up."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from devices.eventlog import prune_events


class Command(BaseCommand):
    help = "Delete events older than the retention period (CODEXPANEL_EVENT_RETENTION_DAYS)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = prune_events()
        days = settings.CODEXPANEL_EVENT_RETENTION_DAYS
        self.stdout.write(f"Deleted {deleted} event(s) older than {days} day(s).")
