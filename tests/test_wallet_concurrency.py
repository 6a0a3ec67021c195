"""Money under concurrency (SPEC WAL-2, WAL-3): many relay workers adjusting one wallet at
once. Run on PostgreSQL in CI, where row locks are real (SQLite serializes every writer,
so there it only shows the rules hold)."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from codexpanel.errors import ActionError
from wallet import actions
from wallet.models import LedgerEntry, Wallet

pytestmark = pytest.mark.django_db(transaction=True)


def closing(work: Callable[[], Any]) -> Callable[[], Any]:
    """Run work on this thread's own connection, and close it after."""

    def run() -> Any:
        try:
            return work()
        except ActionError as refused:
            return refused
        finally:
            connection.close()

    return run


def test_fifty_concurrent_adjustments_with_one_key_write_exactly_one_entry(make_user):
    ada = make_user("ada")
    barrier = threading.Barrier(50)

    def adjust() -> Any:
        barrier.wait()
        return actions.adjust(
            ada, kind="recharge", amount=700, reason="top-up", idempotency_key="tap-once"
        )

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: closing(adjust)(), range(50)))
    assert all(not isinstance(result, Exception) for result in results), results
    assert sum(not result.replayed for result in results) == 1
    assert {result.entry.pk for result in results} == {LedgerEntry.objects.get().pk}
    assert Wallet.objects.get(user=ada).balance == 700


def test_two_hundred_concurrent_credits_and_debits_lose_no_update(make_user):
    ada = make_user("ada")
    actions.adjust(ada, kind="recharge", amount=1000, reason="float", idempotency_key="start")
    # A fixed mix, heavy enough on debits that some must be refused.
    steps = [-300, -50, 20, 75, -300, 400, -50]
    moves = [steps[(index * 3) % len(steps)] for index in range(200)]

    def move(index: int) -> Any:
        amount = moves[index]
        return actions.adjust(
            ada,
            kind="recharge" if amount > 0 else "deduct",
            amount=amount,
            reason=f"move {index}",
            idempotency_key=f"move-{index}",
        )

    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(lambda index: closing(lambda: move(index))(), range(200)))
    applied = [moves[i] for i, result in enumerate(results) if not isinstance(result, Exception)]
    refused = [result for result in results if isinstance(result, Exception)]
    assert refused, "the mix never reached the floor"
    assert all(result.code == "insufficient_balance" for result in refused)
    wallet = Wallet.objects.get(user=ada)
    assert wallet.balance == 1000 + sum(applied)
    assert LedgerEntry.objects.count() == 1 + len(applied)
    assert not LedgerEntry.objects.filter(balance_after__lt=0).exists()
    out = io.StringIO()
    call_command("audit_wallets", stdout=out)
    assert "every balance matches its ledger" in out.getvalue()


def test_concurrent_card_purchases_never_overdraw_the_wallet(make_user):
    from wallet.models import CardPlan, Entitlement

    ada = make_user("ada")
    CardPlan.objects.create(code="pro", name="Pro", price=400, duration_days=30, device_quota=3)
    actions.adjust(ada, kind="recharge", amount=1000, reason="float", idempotency_key="start")
    barrier = threading.Barrier(8)

    def buy(index: int) -> Any:
        barrier.wait()
        return actions.buy_card(ada, "pro", f"buy-{index}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda index: closing(lambda: buy(index))(), range(8)))
    bought = [result for result in results if not isinstance(result, Exception)]
    assert len(bought) == 2
    assert Entitlement.objects.count() == 2
    assert Wallet.objects.get(user=ada).balance == 200
