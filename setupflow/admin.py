"""Setup flows in the operators' console, read-only (SPEC ADM-4)."""

from __future__ import annotations

from django.contrib import admin

from codexpanel.adminkit import ReadOnlyAdminMixin

from .models import SetupFlow


@admin.register(SetupFlow)
class SetupFlowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "flow_id",
        "device_name",
        "state",
        "approved_by",
        "rebind_confirmed",
        "created_at",
        "expires_at",
        "completed_at",
    )
    list_filter = ("state", "rebind_confirmed")
    search_fields = ("flow_id", "device_id", "device_name", "approved_by__username")
    list_select_related = ("approved_by",)
    # Hashes stay out of the page: they are useless to read and need not be shown.
    fields = (
        "flow_id",
        "state",
        "denied_reason",
        "device_id",
        "device_name",
        "workspace",
        "platform",
        "agent_version",
        "started_from",
        "created_at",
        "expires_at",
        "interval",
        "wrong_attempts",
        "approved_by",
        "approved_by_groups",
        "approved_at",
        "rebind_confirmed",
        "previous_owner",
        "handed_off_at",
        "device_token_hint",
        "completed_at",
    )
    readonly_fields = fields
