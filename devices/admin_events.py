"""The event log in the operators' console (SPEC §5): read-only, for operators who may
read any user's devices, filtered to what waits for an answer or to a day."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from codexpanel.adminkit import ScopedAdminMixin

from .attention import waiting_approval_ids
from .models import Event


class WaitingFilter(admin.SimpleListFilter):
    title = _("waiting")
    parameter_name = "waiting"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("approvals", _("Approvals waiting for an answer"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> Any:
        if self.value() == "approvals":
            return queryset.filter(pk__in=waiting_approval_ids())
        return queryset


@admin.register(Event)
class EventAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = "operate_any_device"
    read_only = True
    list_display = ("created_at", "event_type", "device", "user", "thread_id", "turn_id")
    list_filter = (WaitingFilter, ("created_at", admin.DateFieldListFilter), "source")
    search_fields = ("=device__device_id", "user__username", "=user__user_id", "=thread_id")
    list_select_related = ("device", "user")
    readonly_fields = [field.name for field in Event._meta.fields]
    # The unfiltered total of a long log is not worth a second count on every page.
    show_full_result_count = False
    ordering = ("-id",)
