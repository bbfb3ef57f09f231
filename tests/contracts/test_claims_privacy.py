"""Nothing a gateway knows about a person reaches the chain: not in any transaction's calldata, any
event, or any storage slot of any account, neither as text nor as a plain hash.

A scenario registers people (case numbers, names, birth dates, addresses, phone numbers, notes) in a dict that
stands in for the gateway's database, runs two claim programs for them (vouchers, trees, funding,
relayed claims, return after expiry) and then scans the whole chain. A negative control plants one
hash of a name, as a careless NGO might, and shows the scan finds it in all three places.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import rlp
from eth.rlp.accounts import Account as EvmAccount
from eth_account import Account
from eth_utils import keccak
from hexbytes import HexBytes
from trie import HexaryTrie
from trie.iter import NodeIterator

from governance.claim_tree import ClaimEntry, ClaimTree
from governance.vouchers import (
    ProgramRef,
    address_of,
    claim_key,
    new_client_secret,
    payout_key,
    voucher_code,
)
from ledger.claims import ClaimProgramClient, sign_claim
from ledger.embedded import EmbeddedChain
from ledger.system import Allmende
from tests.claims_support import DAY, released_program
from tests.conftest import EUR, Actors

PEOPLE = {
    "p1": {
        "case": "AKZ-2024-00117",
        "name": "Amelie Schröder",
        "birth_date": "1984-03-07",
        "address": "Hafenstraße 12, 20359 Hamburg",
        "phone": "+49 151 23456789",
        "note": "Alleinerziehend, zwei Kinder, Wohnung gekündigt",
    },
    "p2": {
        "case": "AKZ-2024-00148",
        "name": "Yusuf Demir",
        "birth_date": "1971-11-23",
        "address": "Kottbusser Damm 70, 10967 Berlin",
        "phone": "+49 176 98765432",
        "note": "Rente reicht nicht für Heizkosten",
    },
    "p3": {
        "case": "AKZ-2024-00179",
        "name": "Oksana Kovalenko",
        "birth_date": "1990-06-30",
        "address": "Lindenallee 3a, 50968 Köln",
        "phone": "+49 160 1112223",
        "note": "Geflüchtet 2022, Sprachkurs B1",
    },
    "p4": {
        "case": "AKZ-2024-00210",
        "name": "Jürgen Weiß",
        "birth_date": "1958-01-02",
        "address": "Am Markt 1, 99423 Weimar",
        "phone": "+49 3643 555010",
        "note": "Wohnungslos seit Oktober",
    },
    "p5": {
        "case": "AKZ-2024-00241",
        "name": "Fatou Diallo",
        "birth_date": "2001-09-15",
        "address": "Neckarstraße 44, 70190 Stuttgart",
        "phone": "+49 157 44455566",
        "note": "Studentin, BAföG abgelehnt",
    },
}


@dataclass
class Gateway:
    """The gateway's database: personal data, one secret per person, and what was issued."""

    people: dict[str, dict[str, str]]
    secrets: dict[str, bytes] = field(default_factory=dict)
    vouchers: dict[str, list[str]] = field(default_factory=dict)
    addresses: dict[str, list[str]] = field(default_factory=dict)  # claim keys and payout accounts

    def __post_init__(self) -> None:
        self.secrets = {pid: new_client_secret() for pid in self.people}


def _needles(gateway: Gateway) -> dict[bytes, str]:
    """Every byte string whose presence on chain would leak what the gateway knows, with a label."""
    texts: dict[str, str] = {}
    for pid, record in gateway.people.items():
        for key, value in record.items():
            texts[value] = f"{pid}.{key}"
            for part in value.replace(",", " ").split():
                if len(part) >= 5:
                    texts[part] = f"{pid}.{key} part"
        born = datetime.strptime(record["birth_date"], "%Y-%m-%d").replace(tzinfo=UTC)
        texts[born.strftime("%d.%m.%Y")] = f"{pid}.birth_date (German)"
        texts[born.strftime("%Y%m%d")] = f"{pid}.birth_date (digits)"
        for code in gateway.vouchers.get(pid, []):
            texts[code] = f"{pid} voucher code"
            texts[code.replace("-", "")] = f"{pid} voucher code"
    assert min(len(t.encode()) for t in texts) >= 5  # shorter needles turn up in random bytes by chance
    needles: dict[bytes, str] = {}
    for text, label in texts.items():
        for variant in {text, text.strip().lower()}:
            raw = variant.encode()
            needles[raw] = label
            needles[hashlib.sha256(raw).digest()] = f"sha256({label})"
            needles[keccak(raw)] = f"keccak({label})"
    for pid, record in gateway.people.items():
        born = datetime.strptime(record["birth_date"], "%Y-%m-%d").replace(tzinfo=UTC)
        needles[int(born.strftime("%Y%m%d")).to_bytes(32, "big")] = f"{pid}.birth_date (number)"
        needles[int(born.timestamp()).to_bytes(32, "big", signed=True)] = f"{pid}.birth_date (timestamp)"
    return needles


def _calldata(chain: EmbeddedChain) -> Iterator[tuple[str, bytes]]:
    w3 = chain.web3
    for number in range(w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            data = tx["input"] if "input" in tx else tx["data"]  # type: ignore[index,operator]
            yield f"calldata of {HexBytes(tx['hash']).to_0x_hex()}", bytes(data)  # type: ignore[index]


def _events(chain: EmbeddedChain) -> Iterator[tuple[str, bytes]]:
    for log in chain.web3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"}):
        where = f"event of {log['address']} in block {log['blockNumber']}"
        yield where, b"".join(bytes(t) for t in log["topics"]) + bytes(log["data"])


def _storage(chain: EmbeddedChain) -> Iterator[tuple[str, bytes]]:
    """Every storage slot (hashed key and value) of every account, in every block's state."""
    evm = chain.backend.chain
    db = evm.chaindb.db
    seen: set[bytes] = set()
    for number in range(evm.get_canonical_head().block_number + 1):
        state_root = evm.get_canonical_block_header_by_number(number).state_root
        for account_key, encoded in NodeIterator(HexaryTrie(db, state_root)).items():
            storage_root = rlp.decode(encoded, sedes=EvmAccount).storage_root
            if storage_root in seen:
                continue
            seen.add(storage_root)
            for slot, value in NodeIterator(HexaryTrie(db, storage_root)).items():
                word = rlp.decode(value).rjust(32, b"\0")
                yield f"storage of account {account_key.hex()[:12]}… in block {number}", slot + word


def scan(chain: EmbeddedChain, needles: dict[bytes, str]) -> list[tuple[str, str]]:
    """(label, where) for every needle found in calldata, events or storage."""
    found = []
    for source in (_calldata, _events, _storage):
        for where, haystack in source(chain):
            for needle, label in needles.items():
                if needle in haystack:
                    found.append((label, where))
    return found


def _run_program(
    system: Allmende, a: Actors, gateway: Gateway, fund_program: int, claimants: list[str]
) -> ClaimProgramClient:
    """Open a claim program for every registered person, issue vouchers, let `claimants` claim."""
    program = system.claims.open_program(a.ngo, fund_program, system.chain.now() + 30 * DAY)
    ref = ProgramRef(system.chain.chain_id, system.claims.address, program.program_id)
    people = sorted(gateway.people)
    entries, keys, payouts = [], {}, {}
    for index, pid in enumerate(people):
        secret = gateway.secrets[pid]
        keys[pid], payouts[pid] = claim_key(secret, ref), address_of(payout_key(secret, ref))
        entries.append(ClaimEntry(index, address_of(keys[pid]), (40 + 5 * index) * EUR))
        gateway.vouchers.setdefault(pid, []).append(voucher_code(secret, ref))
        gateway.addresses.setdefault(pid, []).extend([address_of(keys[pid]), payouts[pid]])
    tree = ClaimTree.build(entries)
    program.add_root(a.ngo, tree.cap)
    system.funds.disburse_to(a.ngo, fund_program, program.address, sum(e.amount for e in entries))
    for pid in claimants:  # at the desk: code (and PIN) typed in, the gateway signs, the relayer submits
        index = people.index(pid)
        claim = sign_claim(keys[pid], program.domain, index, payouts[pid], system.chain.now() + 600)
        proof = tree.proof(index)
        program.claim(
            a.relayer, claim, root_id=1, position=proof.position, amount=proof.amount, proof=proof.proof
        )
    return program


def _scenario(system: Allmende, a: Actors) -> tuple[Gateway, list[ClaimProgramClient]]:
    gateway = Gateway(PEOPLE)
    fund_program = released_program(system, a, 2_000 * EUR)
    winter = _run_program(system, a, gateway, fund_program, ["p1", "p2", "p4"])
    school = _run_program(system, a, gateway, fund_program, ["p1", "p3", "p4", "p5"])
    system.chain.advance_time(31 * DAY)
    for program in (winter, school):
        program.return_unclaimed(a.ngo)
    return gateway, [winter, school]


def test_no_personal_data_nor_its_hash_reaches_the_chain(system: Allmende, actors: Actors) -> None:
    chain = system.chain
    assert isinstance(chain, EmbeddedChain)
    gateway, programs = _scenario(system, actors)
    needles = _needles(gateway)
    assert len(needles) > 300
    assert scan(chain, needles) == []
    # The scenario did happen: claims were paid to the payout accounts the gateway derived.
    assert all(system.balance(gateway.addresses[pid][1]) > 0 for pid in ("p1", "p2", "p4"))
    assert [len(p.fundings()) for p in programs] == [1, 1]


def test_a_person_is_not_linkable_across_programs(system: Allmende, actors: Actors) -> None:
    gateway, programs = _scenario(system, actors)
    for pid, (key_1, payout_1, key_2, payout_2) in gateway.addresses.items():
        assert len({key_1, payout_1, key_2, payout_2}) == 4, pid
        assert gateway.vouchers[pid][0] != gateway.vouchers[pid][1]
    on_chain = {p.address: set() for p in programs}
    for event in system.events():
        if event.contract == "ClaimProgram":
            on_chain[event.address] |= {v for v in event.args.values() if isinstance(v, str)}
    winter, school = (on_chain[p.address] for p in programs)
    assert winter and school and not winter & school


def test_the_scan_finds_a_leaked_hash_in_calldata_events_and_storage(
    system: Allmende, actors: Actors
) -> None:
    chain = system.chain
    assert isinstance(chain, EmbeddedChain)
    gateway, _ = _scenario(system, actors)
    careless = keccak(PEOPLE["p3"]["name"].strip().lower().encode())  # "just a hash" of a name
    system.funds.create_program(actors.ngo, system.token.address, careless)
    found = scan(chain, _needles(gateway))
    assert {label for label, _ in found} == {"keccak(p3.name)"}
    places = {where.split(" ")[0] for _, where in found}
    assert places == {"calldata", "event", "storage"}
    other = Account.create().address  # an unrelated address is not reported
    assert scan(chain, {bytes.fromhex(other[2:]): "unrelated"}) == []
