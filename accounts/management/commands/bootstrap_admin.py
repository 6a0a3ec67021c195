from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.actions import bootstrap_first_admin
from codexpanel.errors import ActionError


class Command(BaseCommand):
    help = (
        "Create the first administrator from CODEXPANEL_ADMIN_USERNAME, "
        "CODEXPANEL_ADMIN_USER_ID and CODEXPANEL_ADMIN_PASSWORD. Safe to run on every "
        "deploy: an existing admin is left as it is."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = bootstrap_first_admin(
                username=settings.CODEXPANEL_ADMIN_USERNAME,
                user_id=settings.CODEXPANEL_ADMIN_USER_ID,
                password=settings.CODEXPANEL_ADMIN_PASSWORD,
                production=not settings.DEBUG,
            )
        except ActionError as exc:
            raise CommandError(exc.message) from exc
        style = self.style.SUCCESS if result.created else self.style.NOTICE
        self.stdout.write(style(result.message))
