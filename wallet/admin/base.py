"""What the wallet's admin pages share: the scope gate and money as operators read it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from codexpanel.adminkit import ScopedAdminMixin

from ..money import format_money


class ScopedAdmin(ScopedAdminMixin, admin.ModelAdmin):
    def page(self, request: HttpRequest, template: str, title: str, **extra: Any) -> Any:
        """One of the admin's own pages beside this model's list (admin/wallet/page.html)."""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            **extra,
        }
        return TemplateResponse(request, template, context)


def signed_money(minor: int) -> str:
    """A change as the ledger shows it: "+¥50.00", "-¥5.00"."""
    return f"+{format_money(minor)}" if minor > 0 else format_money(minor)
