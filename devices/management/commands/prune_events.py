"""Delete events older than CODEXPANEL_EVENT_RETENTION_DAYS, and attached images older
than a day. Relay processes also do this hourly while they serve sockets; run it from
cron where no process is always up."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from devices.attachments import prune_attachments
from devices.realtime.eventlog import prune_events


class Command(BaseCommand):
    help = "Delete events older than the retention period, and attached images after a day."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = prune_events()
        days = settings.CODEXPANEL_EVENT_RETENTION_DAYS
        self.stdout.write(f"Deleted {deleted} event(s) older than {days} day(s).")
        images = prune_attachments()
        self.stdout.write(f"Deleted {images} attached image(s) older than a day.")
