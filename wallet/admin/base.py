"""What the wallet's admin pages share: the scope gate and money as operators read it."""

from __future__ import annotations

from django.contrib import admin

from codexpanel.adminkit import ScopedAdminMixin

from ..money import format_money


class ScopedAdmin(ScopedAdminMixin, admin.ModelAdmin):
    pass


def signed_money(minor: int) -> str:
    """A change as the ledger shows it: "+¥50.00", "-¥5.00"."""
    return f"+{format_money(minor)}" if minor > 0 else format_money(minor)
