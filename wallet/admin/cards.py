"""Card plans and the cards users hold, in the operators' console: grant a card, renew or
revoke it from its own page or in bulk, and when a revoked card leaves its user with more
enabled computers than their quota, pick which to disable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import formats
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.models import User
from codexpanel import clock
from codexpanel.adminkit import CsvExportMixin
from codexpanel.errors import ActionError
from devices import actions as device_actions
from devices.access import quota_use
from devices.models import Device

from .. import actions
from ..models import LEDGER_MAX, CardPlan, Entitlement
from ..money import MoneyField, format_money
from ..quota import device_quota
from .base import ScopedAdmin

ENDING_SOON = timedelta(days=7)


class CardPlanForm(forms.ModelForm):
    price = MoneyField(
        label=_("price"), maximum=LEDGER_MAX, allow_negative=False, help_text=_("What it costs.")
    )

    class Meta:
        model = CardPlan
        fields = ("code", "name", "price", "duration_days", "device_quota", "purchasable")


@admin.register(CardPlan)
class CardPlanAdmin(ScopedAdmin):
    scope = "manage_cards"
    form = CardPlanForm
    list_display = ("name", "code", "shown_price", "duration_days", "device_quota", "purchasable")
    list_filter = ("purchasable",)

    @admin.display(description=_("price"), ordering="price")
    def shown_price(self, plan: CardPlan) -> str:
        return format_money(plan.price)


class GrantForm(forms.ModelForm):
    class Meta:
        model = Entitlement
        fields = ("user", "plan")


class CardStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("active", _("Active now")),
            ("ending", _("Ending in the next 7 days")),
            ("upcoming", _("Not started yet")),
            ("expired", _("Expired")),
            ("revoked", _("Revoked")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Entitlement]) -> Any:
        now, value = clock.now(), self.value()
        live = queryset.filter(revoked_at__isnull=True)
        if value == "active":
            return live.filter(starts_at__lte=now, ends_at__gt=now)
        if value == "ending":
            return live.filter(starts_at__lte=now, ends_at__gt=now, ends_at__lte=now + ENDING_SOON)
        if value == "upcoming":
            return live.filter(starts_at__gt=now)
        if value == "expired":
            return live.filter(ends_at__lte=now)
        if value == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class PickDevicesForm(forms.Form):
    devices = forms.TypedMultipleChoiceField(
        label=_("Computers to disable"), coerce=int, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, owner: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        enabled = Device.objects.filter(owner=owner, enabled=True).order_by("-last_seen_at", "pk")
        self.fields["devices"].choices = [(device.pk, self.describe(device)) for device in enabled]

    @staticmethod
    def describe(device: Device) -> str:
        if device.online:
            state = gettext("online")
        elif device.last_seen_at:
            when = formats.date_format(device.last_seen_at, "SHORT_DATETIME_FORMAT")
            state = gettext("last seen %(when)s") % {"when": when}
        else:
            state = gettext("never connected")
        return f"{device.name or device.device_id} ({device.device_id}) · {state}"


def card_status(card: Entitlement) -> str:
    now = clock.now()
    if card.revoked_at is not None:
        return "revoked"
    if card.starts_at > now:
        return "upcoming"
    return "active" if card.ends_at > now else "expired"


@admin.register(Entitlement)
class EntitlementAdmin(CsvExportMixin, ScopedAdmin):
    scope = "manage_cards"
    change_list_template = "admin/wallet/entitlement/change_list.html"
    csv_name = "cards"
    csv_columns = {
        "username": lambda c: c.user.username,
        "user_id": lambda c: c.user.user_id,
        "plan": lambda c: c.plan.code,
        "source": lambda c: c.source,
        "status": card_status,
        "starts": lambda c: c.starts_at,
        "ends": lambda c: c.ends_at,
        "revoked": lambda c: c.revoked_at,
    }
    list_display = ("user", "plan", "source", "starts_at", "ends_at", "revoked_at", "quota_now")
    list_filter = (
        CardStatusFilter,
        "plan",
        "source",
        ("ends_at", admin.DateFieldListFilter),
        ("starts_at", admin.DateFieldListFilter),
    )
    search_fields = ("user__username", "user__email", "=user__user_id")
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

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        context = {**(extra_context or {}), "title": gettext("Grant a card")}
        return super().add_view(request, form_url, context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        # The card's fields are read-only: its page offers Renew and Revoke instead of Save.
        card = self.get_object(request, object_id)
        context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "card_revoked": card is not None and card.revoked_at is not None,
            # Nothing on the page is edited: it shows the card and offers renew and revoke.
            "title": gettext("Monthly card"),
        }
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description=_("user's device quota now"))
    def quota_now(self, card: Entitlement) -> int:
        return device_quota(card.user)

    def save_model(self, request: HttpRequest, obj: Entitlement, form: Any, change: bool) -> None:
        if change:
            return  # cards change only through renew and revoke
        granted = actions.grant_card(obj.user, obj.plan, request.user)
        obj.pk, obj.source = granted.pk, granted.source
        obj.starts_at, obj.ends_at = granted.starts_at, granted.ends_at

    def response_add(self, request: HttpRequest, obj: Entitlement, *args: Any) -> HttpResponse:
        self.message_user(
            request,
            gettext("Granted %(plan)s to %(user)s until %(end)s; their device quota is %(quota)d.")
            % {
                "plan": obj.plan,
                "user": obj.user,
                "end": formats.date_format(obj.ends_at, "DATETIME_FORMAT"),
                "quota": device_quota(obj.user),
            },
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:wallet_entitlement_change", args=[obj.pk]))

    def get_urls(self) -> list[Any]:
        def view(function: Any) -> Any:
            return self.admin_site.admin_view(function)

        return [
            path("<int:pk>/renew/", view(require_POST(self.renew_view)), name="wallet_card_renew"),
            path(
                "<int:pk>/revoke/", view(require_POST(self.revoke_view)), name="wallet_card_revoke"
            ),
            path("over-quota/<int:user_pk>/", view(self.over_quota_view), name="wallet_over_quota"),
            *super().get_urls(),
        ]

    def _card(self, request: HttpRequest, pk: int) -> Entitlement:
        if not self._allowed(request):
            raise PermissionDenied
        return get_object_or_404(Entitlement.objects.select_related("user", "plan"), pk=pk)

    def renew_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        card = self._card(request, pk)
        try:
            card = actions.renew_card(card, request.user)
        except ActionError as error:
            self.message_user(request, error.message, messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("Renewed %(plan)s of %(user)s until %(end)s.")
                % {
                    "plan": card.plan,
                    "user": card.user,
                    "end": formats.date_format(card.ends_at, "DATETIME_FORMAT"),
                },
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:wallet_entitlement_change", args=[card.pk]))

    def revoke_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        card = actions.revoke_card(self._card(request, pk), request.user)
        use = quota_use(card.user)
        if use.excess:
            self._say_over_quota(request, card.user, use)
            return HttpResponseRedirect(reverse("admin:wallet_over_quota", args=[card.user_id]))
        self.message_user(
            request,
            gettext("Revoked %(plan)s of %(user)s; their device quota is now %(quota)d.")
            % {"plan": card.plan, "user": card.user, "quota": use.quota},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:wallet_entitlement_change", args=[card.pk]))

    def _say_over_quota(self, request: HttpRequest, user: User, use: Any) -> None:
        link = reverse("admin:wallet_over_quota", args=[user.pk])
        self.message_user(
            request,
            format_html(
                '{} <a href="{}">{}</a>',
                gettext(
                    "Over quota: %(user)s now holds %(enabled)d enabled computers on a quota "
                    "of %(quota)d."
                )
                % {"user": user, "enabled": use.enabled, "quota": use.quota},
                link,
                gettext("Pick which to disable"),
            ),
            messages.WARNING,
        )

    def over_quota_view(self, request: HttpRequest, user_pk: int) -> HttpResponse:
        if not self._allowed(request):
            raise PermissionDenied
        owner = get_object_or_404(User, pk=user_pk)
        use = quota_use(owner)
        changelist = reverse("admin:wallet_entitlement_changelist")
        if not use.excess:
            self.message_user(
                request,
                gettext(
                    "Nothing to disable: %(user)s holds %(enabled)d enabled computers on a "
                    "quota of %(quota)d."
                )
                % {"user": owner, "enabled": use.enabled, "quota": use.quota},
                messages.INFO,
            )
            return HttpResponseRedirect(changelist)
        form = PickDevicesForm(owner, request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                count = device_actions.disable_beyond_quota(
                    owner, form.cleaned_data["devices"], request.user
                )
            except ActionError as error:
                form.add_error("devices", error.message)
            else:
                self.message_user(
                    request,
                    gettext(
                        "Disabled %(count)d of %(user)s's computers; %(enabled)d stay enabled "
                        "on a quota of %(quota)d."
                    )
                    % {"count": count, "user": owner, **vars(quota_use(owner))},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(changelist)
        return self.page(
            request,
            "admin/wallet/over_quota.html",
            gettext("Pick which of %(user)s's computers to disable") % {"user": owner},
            form=form,
            owner=owner,
            use=use,
        )

    @admin.action(description=_("Renew selected cards by their plan's length"))
    def renew_cards(self, request: HttpRequest, queryset: QuerySet[Entitlement]) -> None:
        renewed = 0
        try:
            for card in queryset:
                actions.renew_card(card, request.user)
                renewed += 1
        except ActionError as error:
            self.message_user(request, error.message, messages.ERROR)
        if renewed:
            self.message_user(
                request,
                gettext("Renewed %(count)d card(s).") % {"count": renewed},
                messages.SUCCESS,
            )

    @admin.action(description=_("Revoke selected cards (the quota drops at once)"))
    def revoke_cards(self, request: HttpRequest, queryset: QuerySet[Entitlement]) -> None:
        owners: dict[int, User] = {}
        count = 0
        # Listed before revoking: the list's own filter (active, ending…) would drop them.
        for card in list(queryset.select_related("user", "plan")):
            if card.revoked_at is None:
                actions.revoke_card(card, request.user)
                count += 1
            owners[card.user_id] = card.user
        revoked = gettext("Revoked %(count)d card(s).") % {"count": count}
        self.message_user(request, revoked, messages.SUCCESS)
        for owner in owners.values():
            use = quota_use(owner)
            if use.excess:
                self._say_over_quota(request, owner, use)
