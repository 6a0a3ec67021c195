from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import actions
from .models import User


class UserChangeFormNoRoles(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = ("username", "user_id", "email", "is_active", "groups")


class UserCreationFormNoRoles(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeFormNoRoles
    add_form = UserCreationFormNoRoles
    list_display = ("username", "user_id", "email", "is_active", "last_login", "date_joined")
    list_filter = ("is_active", "groups")
    search_fields = ("username", "user_id", "email")
    ordering = ("username",)
    filter_horizontal = ("groups",)
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("username", "user_id", "password")}),
        (_("Contact"), {"fields": ("email",)}),
        (_("Access"), {"fields": ("is_active", "groups")}),
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

    @admin.action(
        description=_("Disable selected users (ends their sessions)"), permissions=["change"]
    )
    def disable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset.filter(is_active=True):
            actions.disable_user(user)
        self.message_user(request, _("Disabled."), messages.SUCCESS)

    @admin.action(description=_("Enable selected users"), permissions=["change"])
    def enable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset.filter(is_active=False):
            actions.enable_user(user)
        self.message_user(request, _("Enabled."), messages.SUCCESS)

    @admin.action(description=_("Sign selected users out everywhere"), permissions=["change"])
    def end_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            actions.end_all_sessions(user)
        self.message_user(request, _("Their sessions have ended."), messages.SUCCESS)
