"""Typed access to the EuroToken contract: the calls the gateway relays, with their gas."""

from __future__ import annotations

from ledger.calls import Call
from ledger.contracts import ContractClient
from ledger.transactions import TransactionSender

GAS_MINT = 150_000
GAS_APPROVE = 100_000
GAS_TRANSFER = 120_000  # a restricted transfer asks the provider registry (47,300 measured)
GAS_REDEEM = 120_000


class EuroTokenClient(ContractClient):
    """The euro token (micro-euros): minted against fiat received, moved by transfers."""

    def __init__(self, sender: TransactionSender, address: str) -> None:
        super().__init__(sender, "EuroToken", address)

    def mint_call(self, to: str, amount: int, fiat_reference: bytes) -> Call:
        """The treasurer mints `amount` to `to` against the fiat transfer `fiat_reference` names."""
        return self.build("mint", to, amount, fiat_reference, gas=GAS_MINT)

    def approve_call(self, spender: str, amount: int) -> Call:
        """The holder lets `spender` move up to `amount` of its tokens."""
        return self.build("approve", spender, amount, gas=GAS_APPROVE)

    def transfer_call(self, to: str, amount: int) -> Call:
        """The holder sends `amount` to `to` (restricted aid only to an admitted provider)."""
        return self.build("transfer", to, amount, gas=GAS_TRANSFER)

    def redeem_call(self, amount: int, payout_reference: bytes) -> Call:
        """The holder burns `amount` to be paid out in euros under `payout_reference` (cash money only)."""
        return self.build("redeem", amount, payout_reference, gas=GAS_REDEEM)
