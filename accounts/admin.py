from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from codexpanel.adminkit import CsvExportMixin, ReadOnlyAdminMixin, ScopedAdminMixin

from . import actions, audit
from .models import AuditRecord, SignInFailure, User

READ_AUDIT = "accounts.read_audit"


class UserChangeFormNoRoles(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = ("username", "user_id", "email", "is_active", "groups")


class UserCreationFormNoRoles(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email")


@admin.register(User)
class UserAdmin(ScopedAdminMixin, DjangoUserAdmin):
    # Accounts are disabled, never deleted: their ledger and audit history remain.
    scope = "manage_users"
    form = UserChangeFormNoRoles
    add_form = UserCreationFormNoRoles
    list_display = ("username", "user_id", "email", "is_active", "last_login", "date_joined")
    list_filter = ("is_active", "groups")
    search_fields = ("username", "user_id", "email")
    ordering = ("username",)
    filter_horizontal = ("groups",)
    readonly_fields = ("last_login", "date_joined", "money")
    fieldsets = (
        (None, {"fields": ("username", "user_id", "password")}),
        (_("Contact"), {"fields": ("email",)}),
        (_("Access"), {"fields": ("is_active", "groups")}),
        (_("Wallet and cards"), {"fields": ("money",)}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "usable_password", "password1", "password2"),
            },
        ),
    )
    actions = ["disable_users", "enable_users", "end_sessions"]

    @admin.display(description=_("Balance and quota"))
    def money(self, user: User) -> str:
        from wallet.models import Wallet
        from wallet.money import format_money
        from wallet.quota import device_quota

        wallet = Wallet.objects.filter(user=user).first()
        return format_html(
            '{} · {} · <a href="{}">{}</a> · <a href="{}?user={}">{}</a>',
            _("balance %(balance)s") % {"balance": format_money(wallet.balance if wallet else 0)},
            _("device quota %(quota)s") % {"quota": device_quota(user)},
            reverse("admin:wallet_adjust", args=[user.pk]),
            _("Adjust balance"),
            reverse("admin:wallet_entitlement_add"),
            user.pk,
            _("Grant a card"),
        )

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            audit.record(
                request.user,
                "user.enable" if obj.is_active else "user.disable",
                obj,
                before={"enabled": not obj.is_active},
                after={"enabled": obj.is_active},
            )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        before = sorted(form.instance.groups.values_list("name", flat=True)) if change else []
        super().save_related(request, form, formsets, change)
        after = sorted(form.instance.groups.values_list("name", flat=True))
        if before != after:
            audit.record(
                request.user,
                "user.groups",
                form.instance,
                before={"groups": before},
                after={"groups": after},
            )

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            audit.record(request.user, "user.password_reset", User.objects.get(pk=id))
        return response

    @admin.action(
        description=_("Disable selected users (ends their sessions)"), permissions=["change"]
    )
    def disable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset.filter(is_active=True):
            actions.disable_user(user, request.user)
        self.message_user(request, _("Disabled."), messages.SUCCESS)

    @admin.action(description=_("Enable selected users"), permissions=["change"])
    def enable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset.filter(is_active=False):
            actions.enable_user(user, request.user)
        self.message_user(request, _("Enabled."), messages.SUCCESS)

    @admin.action(description=_("Sign selected users out everywhere"), permissions=["change"])
    def end_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            actions.end_all_sessions(user)
        self.message_user(request, _("Their sessions have ended."), messages.SUCCESS)


@admin.register(AuditRecord)
class AuditRecordAdmin(CsvExportMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: records are written by the action functions, never by hand. Every
    operator reads the records of their own actions; the read_audit scope opens all."""

    list_display = ("created_at", "actor", "action", "target_user", "subject")
    list_filter = ("action", ("created_at", admin.DateFieldListFilter))
    date_hierarchy = "created_at"
    search_fields = (
        "actor__username",
        "actor__email",
        "=actor__user_id",
        "target_user__username",
        "target_user__email",
        "=target_user__user_id",
        "subject",
    )
    list_select_related = ("actor", "target_user")
    readonly_fields = ("created_at", "actor", "action", "target_user", "subject", "before", "after")
    csv_name = "audit"
    csv_columns = {
        "when": lambda r: r.created_at,
        "operator": lambda r: r.actor.username if r.actor else "",
        "operator_id": lambda r: r.actor.user_id if r.actor else "",
        "action": lambda r: r.action,
        "user": lambda r: r.target_user.username if r.target_user else "",
        "user_id": lambda r: r.target_user.user_id if r.target_user else "",
        "subject": lambda r: r.subject,
        "before": lambda r: json.dumps(r.before, ensure_ascii=False, sort_keys=True),
        "after": lambda r: json.dumps(r.after, ensure_ascii=False, sort_keys=True),
    }

    @staticmethod
    def reads_all(request: HttpRequest) -> bool:
        return request.user.is_active and request.user.has_perm(READ_AUDIT)

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditRecord]:
        records = super().get_queryset(request)
        return records if self.reads_all(request) else records.filter(actor=request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not request.user.is_staff:
            return False
        return obj is None or self.reads_all(request) or obj.actor_id == request.user.pk


@admin.register(SignInFailure)
class SignInFailureAdmin(ScopedAdminMixin, admin.ModelAdmin):
    # Who tries which names from where is account security: the user managers' business.
    scope = "manage_users"
    read_only = True
    list_display = ("at", "username", "network", "reason")
    list_filter = ("reason", ("at", admin.DateFieldListFilter))
    search_fields = ("username", "network")
    readonly_fields = ("at", "username", "network", "reason")
