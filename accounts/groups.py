"""The permission groups the relay creates itself."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

ADMINISTRATORS = "Administrators"


def ensure_default_groups() -> Group:
    """Create (or refresh) the Administrators group: every permission the relay knows,
    including the custom scopes. Runs after every migrate, so permissions of apps added
    later reach it too."""
    group, _ = Group.objects.get_or_create(name=ADMINISTRATORS)
    group.permissions.set(Permission.objects.all())
    return group
