"""Wallets and cards in the operators' console (SPEC ADM-2, ADM-3, ADM-5). Balances and
ledger entries are read-only here; money moves only through the adjustment form, which
calls wallet.actions like the API does. Each page needs its scope from a permission group:
adjust_wallet for money, manage_cards for cards."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from codexpanel.adminkit import ScopedAdminMixin
from codexpanel.errors import ActionError

from . import actions
from .models import LEDGER_MAX, CardPlan, Entitlement, LedgerEntry, Wallet
from .quota import device_quota


class ScopedAdmin(ScopedAdminMixin, admin.ModelAdmin):
    pass


class AdjustmentForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            (kind.value, kind.label) for kind in LedgerEntry.Kind if kind in actions.ADJUSTABLE
        ],
    )
    amount = forms.IntegerField(
        label=_("Amount"),
        min_value=-LEDGER_MAX,
        max_value=LEDGER_MAX,
        help_text=_(
            "In minor units. Recharges, gifts and refunds add it, deductions take it away; "
            "a correction adds a positive amount and takes a negative one."
        ),
    )
    reason = forms.CharField(label=_("Reason"), max_length=500)
    idempotency_key = forms.CharField(
        label=_("Idempotency key"),
        max_length=actions.MAX_KEY_LENGTH,
        help_text=_("Submitting the same form twice with this key changes the balance once."),
    )

    def signed_amount(self) -> int:
        kind, amount = self.cleaned_data["kind"], self.cleaned_data["amount"]
        return -abs(amount) if kind in LedgerEntry.DEBITS else amount


class LedgerInline(admin.TabularInline):
    model = LedgerEntry
    fields = ("created_at", "kind", "amount", "balance_after", "reason", "actor")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-id",)
    max_num = 0

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Wallet)
class WalletAdmin(ScopedAdmin):
    scope = "adjust_wallet"
    list_display = ("user", "balance", "updated_at", "adjust_link")
    search_fields = ("user__username", "user__user_id", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("user", "balance", "updated_at", "adjust_link")
    inlines = [LedgerInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a wallet appears with its first adjustment

    @admin.display(description=_("Adjust"))
    def adjust_link(self, wallet: Wallet) -> str:
        url = reverse("admin:wallet_adjust", args=[wallet.user_id])
        return format_html('<a href="{}">{}</a>', url, _("Adjust balance"))

    def get_urls(self) -> list[Any]:
        adjust = self.admin_site.admin_view(self.adjust_view)
        return [
            path("adjust/<int:user_pk>/", adjust, name="wallet_adjust"),
            *super().get_urls(),
        ]

    def adjust_view(self, request: HttpRequest, user_pk: int) -> HttpResponse:
        if not self._allowed(request):
            raise PermissionDenied
        user = get_object_or_404(User, pk=user_pk)
        form = AdjustmentForm(request.POST or None, initial={"idempotency_key": uuid.uuid4().hex})
        if request.method == "POST" and form.is_valid():
            try:
                done = actions.adjust(
                    user,
                    kind=form.cleaned_data["kind"],
                    amount=form.signed_amount(),
                    reason=form.cleaned_data["reason"],
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    actor=request.user,
                )
            except ActionError as error:
                form.add_error(None, error.message)
            else:
                note = (
                    _("Already done earlier; nothing changed. Balance: %(balance)s")
                    if done.replayed
                    else _("Done. Balance: %(balance)s")
                )
                self.message_user(
                    request, note % {"balance": done.entry.balance_after}, messages.SUCCESS
                )
                wallet = Wallet.objects.get(user=user)
                return HttpResponseRedirect(reverse("admin:wallet_wallet_change", args=[wallet.pk]))
        wallet = Wallet.objects.filter(user=user).first()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust the balance of %(user)s") % {"user": user},
            "form": form,
            "target": user,
            "balance": wallet.balance if wallet else 0,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/wallet/adjust.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ScopedAdmin):
    scope = "adjust_wallet"
    read_only = True
    list_display = ("created_at", "wallet", "kind", "amount", "balance_after", "reason", "actor")
    list_filter = ("kind",)
    search_fields = ("wallet__user__username", "reason", "idempotency_key")
    list_select_related = ("wallet__user", "actor")
    readonly_fields = [field.name for field in LedgerEntry._meta.fields]


@admin.register(CardPlan)
class CardPlanAdmin(ScopedAdmin):
    scope = "manage_cards"
    list_display = ("name", "code", "price", "duration_days", "device_quota", "purchasable")
    list_filter = ("purchasable",)


class GrantForm(forms.ModelForm):
    class Meta:
        model = Entitlement
        fields = ("user", "plan")


@admin.register(Entitlement)
class EntitlementAdmin(ScopedAdmin):
    scope = "manage_cards"
    list_display = ("user", "plan", "source", "starts_at", "ends_at", "revoked_at", "quota_now")
    list_filter = ("plan", "source", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "user__user_id")
    list_select_related = ("user", "plan")
    actions = ["renew_cards", "revoke_cards"]

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = GrantForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return ("user", "plan", "source", "starts_at", "ends_at", "revoked_at", "quota_now")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("user", "plan") if obj is None else self.get_readonly_fields(request, obj)

    @admin.display(description=_("user's device quota now"))
    def quota_now(self, card: Entitlement) -> int:
        return device_quota(card.user)

    def save_model(self, request: HttpRequest, obj: Entitlement, form: Any, change: bool) -> None:
        if change:
            return  # cards change only through renew and revoke
        granted = actions.grant_card(obj.user, obj.plan, request.user)
        obj.pk, obj.source = granted.pk, granted.source
        obj.starts_at, obj.ends_at = granted.starts_at, granted.ends_at

    @admin.action(description=_("Renew selected cards by their plan's length"))
    def renew_cards(self, request: HttpRequest, queryset: QuerySet[Entitlement]) -> None:
        try:
            for card in queryset:
                actions.renew_card(card, request.user)
        except ActionError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(request, _("Renewed."), messages.SUCCESS)

    @admin.action(description=_("Revoke selected cards (the quota drops at once)"))
    def revoke_cards(self, request: HttpRequest, queryset: QuerySet[Entitlement]) -> None:
        for card in queryset:
            actions.revoke_card(card, request.user)
        self.message_user(request, _("Revoked."), messages.SUCCESS)
