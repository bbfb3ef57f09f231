"""Decode logs into named events with the ABIs of the contracts in an address book."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from ledger._abi import checksummed, normalise
from ledger.artifacts import load_artifact


@dataclass(frozen=True)
class Event:
    """One decoded log."""

    contract: str
    name: str
    args: dict[str, Any]
    address: str
    block_number: int
    transaction_hash: str
    log_index: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (bytes as 0x-hex)."""
        return {
            "contract": self.contract,
            "event": self.name,
            "args": {k: _jsonable(v) for k, v in self.args.items()},
            "blockNumber": self.block_number,
            "transactionHash": self.transaction_hash,
            "logIndex": self.log_index,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class _EventAbi:
    name: str
    indexed: list[tuple[str, str]]
    data: list[tuple[str, str]]


def _event_abis(contract_name: str) -> dict[bytes, _EventAbi]:
    out = {}
    for entry in load_artifact(contract_name).abi:
        if entry["type"] != "event" or entry.get("anonymous"):
            continue
        types = ",".join(i["type"] for i in entry["inputs"])
        topic = keccak(text=f"{entry['name']}({types})")
        out[topic] = _EventAbi(
            name=entry["name"],
            indexed=[(i["name"], i["type"]) for i in entry["inputs"] if i["indexed"]],
            data=[(i["name"], i["type"]) for i in entry["inputs"] if not i["indexed"]],
        )
    return out


def _hex(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


def _int(value: Any) -> int:
    """A quantity as web3 formats it (int) or as a JSON-RPC node sends it (hex string)."""
    return int(value, 16) if isinstance(value, str) else int(value)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else bytes.fromhex(str(value).removeprefix("0x"))


class EventDecoder:
    """Decodes logs emitted by known contracts (address -> contract name)."""

    def __init__(self, contracts: Mapping[str, str]) -> None:
        self._names = {to_checksum_address(a): n for a, n in contracts.items()}
        self._abis = {a: _event_abis(n) for a, n in self._names.items()}

    def register(self, address: str, contract_name: str) -> None:
        """Decode the logs of `address` (a contract created at run time) as `contract_name`."""
        address = to_checksum_address(address)
        if address not in self._names:
            self._names[address] = contract_name
            self._abis[address] = _event_abis(contract_name)

    def addresses(self) -> list[str]:
        """Every address whose logs are decoded."""
        return list(self._names)

    def decode(self, log: Mapping[str, Any]) -> Event | None:
        """The decoded event, or None for a log of an unknown contract or event."""
        address = checksummed(log["address"])
        topics = [_bytes(t) for t in log["topics"]]
        abi = self._abis.get(address, {}).get(topics[0]) if topics else None
        if abi is None:
            return None
        args: dict[str, Any] = {}
        for (name, kind), topic in zip(abi.indexed, topics[1:], strict=True):
            args[name] = normalise(abi_decode([kind], topic)[0])
        values = abi_decode([k for _, k in abi.data], _bytes(log["data"]))
        for (name, _), value in zip(abi.data, values, strict=True):
            args[name] = normalise(value)
        return Event(
            contract=self._names[address],
            name=abi.name,
            args=args,
            address=address,
            block_number=_int(log["blockNumber"]),
            transaction_hash=_hex(log["transactionHash"]),
            log_index=_int(log["logIndex"]),
        )

    def decode_all(self, logs: Iterable[Mapping[str, Any]]) -> list[Event]:
        """Decoded events of `logs` in order, unknown logs left out."""
        return [e for e in (self.decode(log) for log in logs) if e is not None]
