"""Devices in the operators' console (SPEC ADM-4). Records are read-only here: every
change goes through devices.actions, like the API's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from codexpanel.adminkit import ScopedAdminMixin
from codexpanel.errors import ActionError

from . import actions, admin_events  # noqa: F401 - admin_events registers the event log
from .access import check_device_quota
from .models import Device, DeviceToken


class DeviceOwnerForm(forms.ModelForm):
    """The one field an operator may change here: whom the device belongs to (ADM-4)."""

    class Meta:
        model = Device
        fields = ("owner",)

    def clean_owner(self) -> Any:
        owner = self.cleaned_data["owner"]
        if self.instance.pk and owner.pk != self.instance.owner_id:
            try:
                check_device_quota(owner, self.instance.device_id)
            except ActionError as error:
                raise forms.ValidationError(error.message, code=error.code) from error
        return owner


class DeviceTokenInline(ScopedAdminMixin, admin.TabularInline):
    # Shown to whoever holds the scope, not to holders of Django's model permissions.
    scope = "operate_any_device"
    read_only = True
    model = DeviceToken
    fields = ("hint", "created_at", "revoked_at", "revoked_reason", "revoked_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-created_at",)


@admin.register(Device)
class DeviceAdmin(ScopedAdminMixin, admin.ModelAdmin):
    # Operating other people's devices; owners remove theirs, operators disable or rebind.
    scope = "operate_any_device"
    list_display = (
        "name",
        "device_id",
        "owner",
        "enabled",
        "online",
        "last_heartbeat_at",
        "agent_version",
        "codex_version",
        "platform",
    )
    list_filter = ("enabled", "online", "mode", "platform")
    search_fields = ("name", "device_id", "owner__username", "owner__user_id")
    list_select_related = ("owner",)
    form = DeviceOwnerForm
    readonly_fields = [field.name for field in Device._meta.fields if field.name != "owner"]
    inlines = [DeviceTokenInline]
    actions = ["disable_devices", "enable_devices", "revoke_tokens"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # devices come from pairing (SET-7)

    @admin.display(description=_("Codex"))
    def codex_version(self, device: Device) -> str:
        return (device.codex or {}).get("version") or "—"

    def save_model(self, request: HttpRequest, obj: Device, form: Any, change: bool) -> None:
        if "owner" in form.changed_data:
            actions.assign_owner(Device.objects.get(pk=obj.pk), obj.owner, request.user)

    @admin.action(
        description=_("Disable selected devices (closes their connections)"),
        permissions=["change"],
    )
    def disable_devices(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        for device in queryset.filter(enabled=True):
            actions.set_device_enabled(device, False, request.user)
        self.message_user(request, _("Disabled."), messages.SUCCESS)

    @admin.action(description=_("Enable selected devices"), permissions=["change"])
    def enable_devices(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        for device in queryset.filter(enabled=False):
            actions.set_device_enabled(device, True, request.user)
        self.message_user(request, _("Enabled."), messages.SUCCESS)

    @admin.action(
        description=_("Revoke the tokens of selected devices (their agents must pair again)"),
        permissions=["change"],
    )
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        for device in queryset:
            actions.revoke_device_token(device, request.user)
        self.message_user(request, _("Tokens revoked."), messages.SUCCESS)
