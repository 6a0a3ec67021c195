from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Exists, OuterRef, Q, QuerySet


class GroupScopeBackend(ModelBackend):
    """Django's model backend with one rule added (IAM-2): permissions come only from
    permission groups. The user model has no superuser flag and no per-user grants."""

    def _get_user_permissions(self, user_obj: Any) -> QuerySet[Permission]:
        return Permission.objects.none()

    def with_perm(
        self,
        perm: str | Permission,
        is_active: bool = True,
        include_superusers: bool = True,
        obj: Any = None,
    ) -> QuerySet[Any]:
        user_model = get_user_model()
        if obj is not None:
            return user_model._default_manager.none()
        permission_q = Q(group__user=OuterRef("pk"))
        if isinstance(perm, Permission):
            permission_q &= Q(pk=perm.pk)
        else:
            app_label, codename = perm.split(".")
            permission_q &= Q(codename=codename, content_type__app_label=app_label)
        user_q = Exists(Permission.objects.filter(permission_q))
        if is_active is not None:
            user_q &= Q(is_active=is_active)
        return user_model._default_manager.filter(user_q)
