"""Money in the operators' console: find any user, adjust their wallet (created by the
first adjustment), read wallets and the ledger. Amounts are typed and shown in the
currency's major unit; the ledger keeps integers in the minor unit."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from codexpanel.adminkit import CsvExportMixin, ScopedAdminMixin
from codexpanel.errors import ActionError

from .. import actions
from ..models import LEDGER_MAX, LedgerEntry, Wallet
from ..money import MoneyField, currency, format_money, major_text
from .base import ScopedAdmin, signed_money

Kind = LedgerEntry.Kind
FIND_LIMIT = 50
FIND_MAX_LENGTH = 150


class AdjustmentForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[(kind.value, kind.label) for kind in Kind if kind in actions.ADJUSTABLE],
    )
    amount = MoneyField(
        label=_("Amount"),
        maximum=LEDGER_MAX,
        help_text=_(
            "In the currency's major unit, such as 50 or 50.25. Recharges, gifts and refunds "
            "add it, a deduction takes it away; only a correction may be negative."
        ),
    )
    reason = forms.CharField(label=_("Reason"), max_length=500)
    idempotency_key = forms.CharField(
        label=_("Idempotency key"),
        max_length=actions.MAX_KEY_LENGTH,
        widget=forms.HiddenInput,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, amount = data.get("kind"), data.get("amount")
        if kind is None or amount is None:
            return data
        if amount == 0:
            self.add_error("amount", _("Enter an amount other than zero."))
        elif amount < 0 and kind == Kind.DEDUCT:
            self.add_error(
                "amount",
                _("Enter a deduction as a positive amount: it is taken from the balance."),
            )
        elif amount < 0 and kind != Kind.CORRECTION:
            self.add_error(
                "amount",
                _("Enter the amount without a minus sign: a %(kind)s adds it to the balance.")
                % {"kind": Kind(kind).label.lower()},
            )
        return data

    def signed_amount(self) -> int:
        kind, amount = self.cleaned_data["kind"], self.cleaned_data["amount"]
        return -amount if kind == Kind.DEDUCT else amount


def done_message(user: User, kind: str, amount: int, balance: int) -> str:
    """What an adjustment did, naming the user, the change and the balance it left."""
    parts = {"user": user, "amount": format_money(abs(amount)), "balance": format_money(balance)}
    if kind == Kind.RECHARGE:
        text = gettext("Recharged %(user)s by %(amount)s — balance %(balance)s")
    elif kind == Kind.GIFT:
        text = gettext("Gave %(user)s a gift of %(amount)s — balance %(balance)s")
    elif kind == Kind.DEDUCT:
        text = gettext("Deducted %(amount)s from %(user)s — balance %(balance)s")
    elif kind == Kind.REFUND:
        text = gettext("Refunded %(amount)s to %(user)s — balance %(balance)s")
    else:
        parts["amount"] = signed_money(amount)
        text = gettext("Corrected the balance of %(user)s by %(amount)s — balance %(balance)s")
    return text % parts


class LedgerInline(ScopedAdminMixin, admin.TabularInline):
    # Shown to whoever holds the scope, not to holders of Django's model permissions.
    scope = "adjust_wallet"
    read_only = True
    model = LedgerEntry
    fields = ("created_at", "kind", "change", "balance", "reason", "actor")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-id",)
    max_num = 0

    @admin.display(description=_("amount"))
    def change(self, entry: LedgerEntry) -> str:
        # The inline's blank template row has no entry behind it.
        return "" if entry.pk is None else signed_money(entry.amount)

    @admin.display(description=_("balance after"))
    def balance(self, entry: LedgerEntry) -> str:
        return "" if entry.pk is None else format_money(entry.balance_after)


@admin.register(Wallet)
class WalletAdmin(ScopedAdmin):
    scope = "adjust_wallet"
    # Shown, never saved: a save would write back a balance read before a concurrent
    # adjustment. Money moves only through the adjustment form.
    read_only = True
    list_display = ("user", "shown_balance", "updated_at", "adjust_link")
    search_fields = ("user__username", "=user__user_id", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("user", "shown_balance", "updated_at", "adjust_link")
    exclude = ("balance",)
    inlines = [LedgerInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a wallet appears with its first adjustment

    @admin.display(description=_("balance"), ordering="balance")
    def shown_balance(self, wallet: Wallet) -> str:
        return format_money(wallet.balance)

    @admin.display(description=_("Adjust"))
    def adjust_link(self, wallet: Wallet) -> str:
        url = reverse("admin:wallet_adjust", args=[wallet.user_id])
        return format_html('<a href="{}">{}</a>', url, _("Adjust balance"))

    def get_urls(self) -> list[Any]:
        return [
            path("find/", self.admin_site.admin_view(self.find_view), name="wallet_find"),
            path(
                "adjust/<int:user_pk>/",
                self.admin_site.admin_view(self.adjust_view),
                name="wallet_adjust",
            ),
            *super().get_urls(),
        ]

    def find_view(self, request: HttpRequest) -> HttpResponse:
        """Any user, with a wallet or not yet, by username, email or user id."""
        if not self._allowed(request):
            raise PermissionDenied
        query = request.GET.get("q", "").strip()
        error, found = "", []
        if len(query) > FIND_MAX_LENGTH or not query.isprintable():
            error = gettext("Search by at most %(max)d printable characters.") % {
                "max": FIND_MAX_LENGTH
            }
        elif query:
            matches = Q(username__icontains=query) | Q(email__icontains=query)
            matches |= Q(user_id__iexact=query)
            users = User.objects.filter(matches).select_related("wallet").order_by("username")
            found = [
                {
                    "user": user,
                    "balance": format_money(user.wallet.balance)
                    if hasattr(user, "wallet")
                    else None,
                    "adjust": reverse("admin:wallet_adjust", args=[user.pk]),
                }
                for user in users[: FIND_LIMIT + 1]
            ]
        return self.page(
            request,
            "admin/wallet/find.html",
            gettext("Find a user to adjust their balance"),
            query=query,
            error=error,
            found=found[:FIND_LIMIT],
            more=len(found) > FIND_LIMIT,
            limit=FIND_LIMIT,
        )

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
                entry = done.entry
                if done.replayed:
                    note = gettext(
                        "Already done with this key; nothing changed. "
                        "%(user)s's balance: %(balance)s"
                    ) % {"user": user, "balance": format_money(done.entry.wallet.balance)}
                else:
                    note = done_message(user, entry.kind, entry.amount, entry.balance_after)
                self.message_user(request, note, messages.SUCCESS)
                wallet = Wallet.objects.get(user=user)
                return HttpResponseRedirect(reverse("admin:wallet_wallet_change", args=[wallet.pk]))
        wallet = Wallet.objects.filter(user=user).first()
        return self.page(
            request,
            "admin/wallet/adjust.html",
            gettext("Adjust the balance of %(user)s") % {"user": user},
            form=form,
            target=user,
            balance=format_money(wallet.balance if wallet else 0),
            has_wallet=wallet is not None,
        )


def _major(minor: int) -> Decimal:
    return Decimal(major_text(minor))


@admin.register(LedgerEntry)
class LedgerEntryAdmin(CsvExportMixin, ScopedAdmin):
    scope = "adjust_wallet"
    read_only = True
    csv_name = "ledger"
    csv_columns = {
        "created": lambda e: e.created_at,
        "username": lambda e: e.wallet.user.username,
        "user_id": lambda e: e.wallet.user.user_id,
        "kind": lambda e: e.kind,
        "amount": lambda e: _major(e.amount),
        "balance_after": lambda e: _major(e.balance_after),
        "currency": lambda e: currency(),
        "amount_minor": lambda e: e.amount,
        "reason": lambda e: e.reason,
        "actor": lambda e: e.actor.username if e.actor else "",
        "idempotency_key": lambda e: e.idempotency_key,
    }
    list_display = ("created_at", "wallet", "kind", "change", "balance", "reason", "actor")
    list_filter = ("kind", ("created_at", admin.DateFieldListFilter))
    date_hierarchy = "created_at"
    search_fields = (
        "wallet__user__username",
        "wallet__user__email",
        "=wallet__user__user_id",
        "reason",
        "idempotency_key",
    )
    list_select_related = ("wallet__user", "actor")
    readonly_fields = [field.name for field in LedgerEntry._meta.fields]

    @admin.display(description=_("amount"), ordering="amount")
    def change(self, entry: LedgerEntry) -> str:
        return signed_money(entry.amount)

    @admin.display(description=_("balance after"), ordering="balance_after")
    def balance(self, entry: LedgerEntry) -> str:
        return format_money(entry.balance_after)
