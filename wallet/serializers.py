from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .models import CardPlan, Entitlement, LedgerEntry


class PlanSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    price = serializers.IntegerField()
    durationDays = serializers.IntegerField(source="duration_days")
    deviceQuota = serializers.IntegerField(source="device_quota")


class CardSerializer(serializers.Serializer):
    plan = PlanSerializer()
    source = serializers.CharField()
    startsAt = serializers.DateTimeField(source="starts_at")
    endsAt = serializers.DateTimeField(source="ends_at")


class EntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = serializers.IntegerField()
    balanceAfter = serializers.IntegerField(source="balance_after")
    reason = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")


class WalletSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    deviceQuota = serializers.IntegerField()
    devicesUsed = serializers.IntegerField()
    cards = CardSerializer(many=True)
    plans = PlanSerializer(many=True)


class LedgerSerializer(serializers.Serializer):
    entries = EntrySerializer(many=True)
    before = serializers.IntegerField(allow_null=True)


class PurchaseRequestSerializer(serializers.Serializer):
    plan = serializers.SlugField(max_length=64)
    idempotencyKey = serializers.CharField(max_length=128)


class PurchaseSerializer(serializers.Serializer):
    card = CardSerializer()
    entry = EntrySerializer()
    balance = serializers.IntegerField()


def purchase_payload(card: Entitlement, entry: LedgerEntry, balance: int) -> dict[str, Any]:
    return PurchaseSerializer({"card": card, "entry": entry, "balance": balance}).data


def plans_payload(plans: list[CardPlan]) -> Any:
    return PlanSerializer(plans, many=True).data
