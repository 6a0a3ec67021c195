"""Admin building blocks shared by the apps' operator pages (SPEC §5)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class ScopedAdminMixin:
    """Every permission of a page comes from one scope held through a permission group
    (IAM-2), not from Django's per-model permissions. Nothing is deleted here: history
    stays, and records are disabled, revoked or taken off sale instead."""

    scope = ""
    read_only = False

    def _allowed(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.has_perm(f"accounts.{self.scope}")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return not self.read_only and self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self.read_only and self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdminMixin:
    """Records written only by the action functions: shown, never edited here."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
