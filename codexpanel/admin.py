from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .errors import ActionError


class RateLimitedAdminLoginForm(AdminAuthenticationForm):
    """The admin's sign-in form, checked by the same login policies as the API (IAM-6),
    so /admin/login/ is no side door for password guessing."""

    def clean(self) -> dict[str, Any]:
        from accounts.actions import authenticate_with_limits

        username = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password") or ""
        try:
            self.user_cache = authenticate_with_limits(self.request, username, password)
        except ActionError as exc:
            if exc.code == "invalid_credentials":
                raise self.get_invalid_login_error() from exc
            raise forms.ValidationError(exc.message, code=exc.code) from exc
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class CodexpanelAdminSite(admin.AdminSite):
    site_header = _("codexpanel operations")
    site_title = _("codexpanel")
    index_title = _("Operations")
    login_form = RateLimitedAdminLoginForm

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        from .overview import tiles

        return super().index(request, {**(extra_context or {}), "overview": tiles(request)})
