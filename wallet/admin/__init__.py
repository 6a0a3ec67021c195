"""Wallets and cards in the operators' console (SPEC ADM-2, ADM-3, ADM-5). Balances,
ledger entries and cards change only through wallet.actions, like the API; each page needs
its scope from a permission group: adjust_wallet for money, manage_cards for cards."""

from . import cards, wallets

__all__ = ["cards", "wallets"]
