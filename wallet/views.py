"""The signed-in user's wallet (SPEC CON-9): balance, ledger, cards and device quota, and
buying a card from the balance. Thin views over wallet.actions and wallet.quota."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.serializers import ErrorSerializer
from codexpanel import clock
from codexpanel.query import whole_number
from devices.access import devices_used
from devices.views import SignedInView

from . import actions
from .models import CardPlan, LedgerEntry, Wallet
from .quota import device_quota
from .serializers import (
    CardSerializer,
    EntrySerializer,
    LedgerSerializer,
    PurchaseRequestSerializer,
    PurchaseSerializer,
    WalletSerializer,
    plans_payload,
    purchase_payload,
)

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 409)}
LEDGER_PAGE = 50


class WalletView(SignedInView):
    @extend_schema(responses={200: WalletSerializer, **ERRORS}, summary="My balance, cards, quota")
    def get(self, request: Request) -> Response:
        user = request.user
        wallet = Wallet.objects.filter(user=user).first()
        # Cards bought ahead start later; they are shown with the active ones.
        cards = user.entitlements.filter(revoked_at__isnull=True, ends_at__gt=clock.now())
        return Response(
            {
                "balance": wallet.balance if wallet else 0,
                "deviceQuota": device_quota(user),
                "devicesUsed": devices_used(user),
                "cards": CardSerializer(cards.select_related("plan"), many=True).data,
                "plans": plans_payload(list(CardPlan.objects.filter(purchasable=True))),
            }
        )


class LedgerView(SignedInView):
    @extend_schema(
        parameters=[OpenApiParameter("before", int), OpenApiParameter("limit", int)],
        responses={200: LedgerSerializer, **ERRORS},
        summary="My ledger, newest first",
    )
    def get(self, request: Request) -> Response:
        before = whole_number(request, "before")
        limit = min(LEDGER_PAGE, max(1, whole_number(request, "limit") or LEDGER_PAGE))
        entries = LedgerEntry.objects.filter(wallet__user=request.user)
        if before:
            entries = entries.filter(id__lt=before)
        page = list(entries.order_by("-id")[: limit + 1])
        more = len(page) > limit
        page = page[:limit]
        return Response(
            {
                "entries": EntrySerializer(page, many=True).data,
                "before": page[-1].id if more else None,
            }
        )


class CardPurchaseView(SignedInView):
    @extend_schema(
        request=PurchaseRequestSerializer,
        responses={201: PurchaseSerializer, 200: PurchaseSerializer, **ERRORS},
        summary="Buy a monthly card from my balance (a repeated key returns the first result)",
    )
    def post(self, request: Request) -> Response:
        data = PurchaseRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        bought = actions.buy_card(
            request.user, data.validated_data["plan"], data.validated_data["idempotencyKey"]
        )
        return Response(
            purchase_payload(bought.entitlement, bought.entry, bought.entry.balance_after),
            status=200 if bought.replayed else 201,
        )
