"""The exception tree of the ledger layer: everything it raises derives from `LedgerError`."""

from __future__ import annotations

from typing import Any, ClassVar


class LedgerError(Exception):
    """Base of every error the ledger layer raises."""


class ChainInUse(LedgerError, RuntimeError):
    """The embedded chain's data directory is held by another process (a running gateway, say)."""


class CompilationError(LedgerError):
    """The Solidity sources did not compile."""


class ArtifactError(LedgerError):
    """An artifact is missing or does not match the sources."""


class DeploymentError(LedgerError):
    """The system could not be deployed, or the address book does not match the chain."""


class TransactionError(LedgerError):
    """A transaction could not be sent or was not mined."""


class TransactionNotSent(TransactionError):
    """The node did not accept the transaction (it did not revert): nothing of it is on chain."""


class ContractRevert(LedgerError):
    """A contract call reverted. Subclasses are named exactly like the Solidity custom error."""

    signature: ClassVar[str] = ""
    selector: ClassVar[bytes] = b""
    field_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *values: Any) -> None:
        self.values = values
        self.fields: dict[str, Any] = dict(zip(self.field_names, values, strict=False))
        for name, value in self.fields.items():
            setattr(self, name, value)
        shown = ", ".join(f"{k}={v!r}" for k, v in self.fields.items())
        super().__init__(f"{type(self).__name__}({shown})")


class RevertWithReason(ContractRevert):
    """A revert with a plain `Error(string)` reason (the project's contracts never use these)."""

    signature = "Error(string)"
    selector = bytes.fromhex("08c379a0")
    field_names = ("reason",)


class Panic(ContractRevert):
    """A Solidity panic (`Panic(uint256)`): an assertion, arithmetic or array bound failed."""

    signature = "Panic(uint256)"
    selector = bytes.fromhex("4e487b71")
    field_names = ("code",)


class UnknownRevert(ContractRevert):
    """A revert whose data matches no error in any Allmende ABI."""

    field_names = ("data",)


class InconsistentEvents(LedgerError):
    """The events contradict each other: rebuilding the state from them found a mismatch."""
