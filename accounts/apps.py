from typing import Any

from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_migrate


def _ensure_groups(sender: AppConfig, **kwargs: Any) -> None:
    from .groups import ensure_default_groups

    ensure_default_groups()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and permissions"

    def ready(self) -> None:
        from .models import User
        from .signals import groups_changed

        m2m_changed.connect(
            groups_changed, sender=User.groups.through, dispatch_uid="accounts.groups_changed"
        )
        # After every app's migrate, so Administrators also gets permissions added later.
        post_migrate.connect(_ensure_groups, dispatch_uid="accounts.ensure_groups")
