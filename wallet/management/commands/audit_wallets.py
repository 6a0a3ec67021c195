"""Prove WAL-1: every wallet's balance equals the sum of its entries, and each entry's
balance_after is the running total. Exits non-zero on any mismatch."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from wallet.models import Wallet


def wallet_problems(wallet: Wallet) -> list[str]:
    problems = []
    running = 0
    for entry_id, amount, balance_after in wallet.entries.order_by("id").values_list(
        "id", "amount", "balance_after"
    ):
        running += amount
        if balance_after != running:
            problems.append(
                f"entry {entry_id} says balance {balance_after}, the entries add up to {running}"
            )
    if wallet.balance != running:
        problems.append(f"balance is {wallet.balance}, the entries add up to {running}")
    return problems


class Command(BaseCommand):
    help = "Check that every wallet's balance equals the sum of its ledger entries."

    def handle(self, *args: Any, **options: Any) -> None:
        checked = 0
        failures = []
        for wallet in Wallet.objects.select_related("user").iterator():
            checked += 1
            failures += [
                f"{wallet.user} (wallet {wallet.pk}): {p}" for p in wallet_problems(wallet)
            ]
        for failure in failures:
            self.stderr.write(failure)
        if failures:
            raise CommandError(f"{len(failures)} mismatch(es) in {checked} wallet(s).")
        self.stdout.write(f"{checked} wallet(s) checked: every balance matches its ledger.")
