"""`allmende verify` against the demo chain while a gateway serves it, through the read-only /rpc.

The whole deployment agrees; then each kind of record is tampered with, on chain where that can be
done (another build's code at a book address, a book naming a wrong role holder) and in the records
read from the chain where it cannot (stored winners, a mint, a claim, a held balance), and the check
for that kind of record must catch it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from eth_utils import to_checksum_address
from typer.testing import CliRunner

from api.cli import app
from api.verification import Records, collect, verify
from ledger.artifacts import load_artifact
from ledger.compiler import ReferenceCode, reference_build
from ledger.events import Event
from ledger.rpc import RpcChain
from ledger.system import MAX_BALANCE_READ, Allmende
from ledger.transactions import TransactionSender
from tests.e2e._demo_chain import ServedDemo, served_demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDemo]:
    with served_demo(tmp_path_factory.mktemp("verify")) as served:
        yield served


@pytest.fixture(scope="module")
def build() -> dict[str, ReferenceCode]:
    return reference_build()


@pytest.fixture(scope="module")
def records(demo: ServedDemo) -> Records:
    return collect(Allmende.connect(RpcChain(demo.rpc, []), demo.book))


def _failed(records: Records, build: dict[str, ReferenceCode], section: str) -> list[str]:
    report = verify(records, build)
    return [m for m in report.mismatches if m.startswith(section + ":")]


def test_verify_passes_on_the_demo_chain_and_writes_a_self_contained_report(
    demo: ServedDemo, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app, ["verify", "--rpc", demo.rpc, "--book", str(demo.book), "--report", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["ok"] is True
    titles = [s["title"] for s in data["sections"]]
    assert titles == [
        "Deployed code",
        "Roles",
        "Fund ledger",
        "Participatory budget rounds",
        "Claim programs",
        "Euro token",
        "Providers and restricted aid",
        "Lineage of every euro",
        "Payouts in euros",
    ]
    assert all(c["ok"] for s in data["sections"] for c in s["checks"])
    page = out.with_suffix(".html").read_text()
    assert "<svg" in page and "<script" not in page
    assert not re.findall(r"(?:src|href)=\"https?://", page)


def test_untampered_records_agree_in_every_section(records: Records, build: dict[str, ReferenceCode]) -> None:
    report = verify(records, build)
    assert report.ok, report.mismatches
    assert sum(len(s.checks) for s in report.sections) >= 20


def test_a_contract_of_another_build_at_a_book_address_is_caught(demo: ServedDemo, tmp_path: Path) -> None:
    artifact = load_artifact("EuroToken")
    runtime = bytes.fromhex(artifact.deployed_bytecode.removeprefix("0x"))
    marker = bytes.fromhex("a264697066735822")  # CBOR metadata: {"ipfs": <multihash>, ...}
    start = runtime.rindex(marker) + len(marker) + 2  # the digest after the multihash prefix 0x1220
    digest = runtime[start : start + 32]
    other = bytes(b ^ 0xFF for b in digest)  # the same code with another build's metadata hash
    init = bytes.fromhex(artifact.bytecode.removeprefix("0x"))
    assert init.count(digest) == 1
    book = json.loads(demo.book.read_text())
    args = demo.gateway.chain.web3.codec.encode(
        ["address", "address"],
        [book["contracts"]["AllmendeRoles"]["address"], book["contracts"]["AllmendeForwarder"]["address"]],
    )
    deployer = demo.gateway.chain.accounts[9]
    result = TransactionSender(demo.gateway.chain).send(deployer, None, init.replace(digest, other) + args)
    assert result.contract_address is not None
    book["contracts"]["EuroToken"]["address"] = result.contract_address
    tampered = tmp_path / "book.json"
    tampered.write_text(json.dumps(book))

    out = tmp_path / "report"
    run = CliRunner().invoke(
        app, ["verify", "--rpc", demo.rpc, "--book", str(tampered), "--report", str(out)]
    )
    assert run.exit_code == 1, run.output
    failed = [
        c["name"]
        for s in json.loads(out.with_suffix(".json").read_text())["sections"]
        if s["title"] == "Deployed code"
        for c in s["checks"]
        if not c["ok"]
    ]
    assert failed == [f"EuroToken at {result.contract_address}"]


def test_a_book_naming_a_wrong_role_holder_is_caught(
    demo: ServedDemo, records: Records, tmp_path: Path
) -> None:
    book = json.loads(demo.book.read_text())
    treasurers = sorted(a for (role, a), held in records.has_role.items() if role == "TREASURER" and held)
    assert treasurers
    good = tmp_path / "good.json"
    good.write_text(json.dumps({**book, "roles": {"TREASURER": treasurers}}))
    run = CliRunner().invoke(
        app, ["verify", "--rpc", demo.rpc, "--book", str(good), "--report", str(tmp_path / "a")]
    )
    assert run.exit_code == 0, run.output
    stranger = demo.gateway.chain.accounts[8].address
    assert stranger not in treasurers
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**book, "roles": {"TREASURER": [*treasurers[1:], stranger]}}))
    run = CliRunner().invoke(
        app, ["verify", "--rpc", demo.rpc, "--book", str(wrong), "--report", str(tmp_path / "b")]
    )
    assert run.exit_code == 1
    assert "Roles: TREASURER holders are as the book says" in run.output


def test_stored_winners_that_differ_from_the_recomputation_are_caught(
    records: Records, build: dict[str, ReferenceCode]
) -> None:
    stored = records.round_winners[1]
    tampered = replace(records, round_winners={1: list(reversed(stored))})
    assert _failed(tampered, build, "Participatory budget rounds") == [
        f"Participatory budget rounds: round 1: stored winners are the recomputed ones: "
        f"stored {list(reversed(stored))}, recomputed {stored}"
    ]


def test_a_mint_outside_the_rules_is_an_unexplained_balance(
    records: Records, build: dict[str, ReferenceCode]
) -> None:
    token = records.book.address("EuroToken")
    holder = next(iter(records.balances))
    extra = replace(records, balances={**records.balances, holder: records.balances[holder] + 1})
    assert _failed(extra, build, "Euro token")  # a balance the events do not give
    mints = [e for e in records.events if e.address == token and e.name == "Minted"]
    no_minted = replace(records, events=[e for e in records.events if e is not mints[0]])
    failed = _failed(no_minted, build, "Euro token")
    assert any("every mint is a treasurer's Minted against fiat" in m for m in failed)


def test_a_claim_counted_twice_or_a_cap_that_is_not_its_root_is_caught(
    records: Records, build: dict[str, ReferenceCode]
) -> None:
    claims = [e for e in records.events if e.name == "Claimed"]
    assert len(claims) >= 2
    twice = replace(claims[1], args={**claims[1].args, "index": claims[0].args["index"]})
    doubled = replace(records, events=[twice if e is claims[1] else e for e in records.events])
    assert any("no index claimed twice" in m for m in _failed(doubled, build, "Claim programs"))
    root_added = next(e for e in records.events if e.name == "ClaimRootAdded")
    cap = list(root_added.args["cap"])
    bad_cap = replace(root_added, args={**root_added.args, "cap": [bytes(32), *cap[1:]]})
    broken = replace(records, events=[bad_cap if e is root_added else e for e in records.events])
    assert any("is its published cap's root" in m for m in _failed(broken, build, "Claim programs"))


def test_money_the_fund_ledger_holds_beyond_its_lots_is_caught(
    records: Records, build: dict[str, ReferenceCode]
) -> None:
    more = replace(records, fund_ledger_balance=records.fund_ledger_balance + 1)
    assert [m.split(":")[1].strip() for m in _failed(more, build, "Fund ledger")] == [
        "deposited = paid out + refunded + still in the fund ledger"
    ]
    lot = next(iter(records.fund_state.lots))
    views = replace(
        records.fund_state,
        lots={**records.fund_state.lots, lot: replace(records.fund_state.lots[lot], unallocated=1)},
    )
    assert any(
        "rebuilt from events" in m for m in _failed(replace(records, fund_state=views), build, "Fund ledger")
    )


def test_the_book_must_be_for_the_chain_read(demo: ServedDemo, tmp_path: Path) -> None:
    book = json.loads(demo.book.read_text())
    other = tmp_path / "other-chain.json"
    other.write_text(json.dumps({**book, "chainId": 1}))
    run = CliRunner().invoke(
        app, ["verify", "--rpc", demo.rpc, "--book", str(other), "--report", str(tmp_path / "r")]
    )
    assert run.exit_code == 2
    assert "is for chain 1" in " ".join(run.output.split())  # rich wraps at the terminal's width


def test_an_auditor_attests_a_passing_verification_and_the_public_sees_it(
    demo: ServedDemo, tmp_path: Path
) -> None:
    _, api_key = demo.gateway.create_organisation("auditor", "Prüfstelle Nord")
    key_file = tmp_path / "auditor.key"
    key_file.write_text(api_key + "\n")
    out = tmp_path / "report"
    common = [
        "verify",
        "--rpc",
        demo.rpc,
        "--book",
        str(demo.book),
        "--report",
        str(out),
        "--gateway",
        demo.url,
    ]
    run = CliRunner().invoke(app, [*common, "--attest", "--api-key-file", str(key_file)])
    assert run.exit_code == 0, run.output
    assert "attested on chain: attestation 1" in run.output
    report = json.loads(out.with_suffix(".json").read_text())
    listed = httpx.get(f"{demo.url}/v1/public/attestations", timeout=30).json()
    assert len(listed) == 1
    digest = hashlib.sha256(out.with_suffix(".json").read_bytes()).hexdigest()
    assert listed[0]["reportHash"] == "0x" + digest
    assert (listed[0]["blockNumber"], listed[0]["blockHash"]) == (report["blockNumber"], report["blockHash"])


def test_attesting_needs_the_auditors_key_and_a_key_of_another_kind_is_refused(
    demo: ServedDemo, tmp_path: Path
) -> None:
    common = [
        "verify",
        "--rpc",
        demo.rpc,
        "--book",
        str(demo.book),
        "--report",
        str(tmp_path / "r"),
        "--gateway",
        demo.url,
    ]
    assert CliRunner().invoke(app, [*common, "--attest"]).exit_code == 2
    _, ngo_key = demo.gateway.create_organisation("ngo", "Verein")
    key_file = tmp_path / "ngo.key"
    key_file.write_text(ngo_key)
    run = CliRunner().invoke(app, [*common, "--attest", "--api-key-file", str(key_file)])
    assert run.exit_code == 2
    assert "attestation refused: 403 WrongOrganisationKind" in run.output


def test_each_programs_disbursed_figure_is_explained_and_a_gap_is_caught(
    records: Records, build: dict[str, ReferenceCode]
) -> None:
    report = verify(records, build)
    funds = next(s for s in report.sections if s.title == "Fund ledger")
    explained = next(c for c in funds.checks if c.name.startswith("program 1: disbursed"))
    assert explained.ok
    assert explained.detail == (
        "14,750.00 € = 14,000.00 € to 40 recipients + 750.00 € to claim programs, "
        "of which 195.00 € came back unclaimed"
    )
    program = records.fund_state.programs[1]
    gap = replace(
        records.fund_state, programs={1: replace(program, disbursed=program.disbursed + 195_000_000)}
    )
    failed = _failed(replace(records, fund_state=gap), build, "Fund ledger")
    assert any("program 1: disbursed = paid to recipients + paid to claim programs" in m for m in failed)


def test_restricted_money_paid_to_a_non_provider_is_caught(
    records: Records, build: dict[str, ReferenceCode]
) -> None:
    """Replayed from events: a program restricted to food, an account it marked, a food shop. A payment
    from that account to the shop passes; one to anybody else, or to the shop once suspended, fails."""
    registry, token = records.book.address("ProviderRegistry"), records.book.address("EuroToken")
    shop, person, other = ("0x" + f"{i:040x}".replace("0", "a", 1) for i in (1, 2, 3))
    last = records.events[-1]
    n = iter(range(1, 100))

    def event(address: str, name: str, **args: object) -> Event:
        block = last.block_number + next(n)
        return Event(name.split(":")[0], name.split(":")[1], dict(args), address, block, f"0x{block:064x}", 0)

    marked = [
        event(
            registry,
            "ProviderRegistry:ProviderAdmitted",
            provider=shop,
            ngo=other,
            categories=1,
            metadataHash=b"",
        ),
        event(registry, "ProviderRegistry:ProgramRuleSet", fundProgramId=7, categories=1),
        event(registry, "ProviderRegistry:AccountRestricted", token=token, account=person, fundProgramId=7),
    ]

    def paid(to: str) -> Event:
        return event(token, "EuroToken:Transfer", **{"from": person, "to": to, "value": 0})

    fine = replace(records, events=[*records.events, *marked, paid(shop)])
    assert _failed(fine, build, "Providers and restricted aid") == []
    elsewhere = replace(records, events=[*records.events, *marked, paid(other)])
    assert _failed(elsewhere, build, "Providers and restricted aid")
    suspended = event(registry, "ProviderRegistry:ProviderSuspended", provider=shop, by=other, reasonHash=b"")
    after = replace(records, events=[*records.events, *marked, suspended, paid(shop)])
    assert _failed(after, build, "Providers and restricted aid")


def test_expired_restricted_money_going_back_to_its_claim_program_is_no_payment(
    records: Records, build: dict[str, ReferenceCode]
) -> None:
    """Replayed from events: an account a restricted claim program paid (and marked) sends its rest back
    to that claim program in the transaction where the program says `ExpiredAidReclaimed`: it passes.
    The same move without that event, or to another claim program, fails."""
    registry, token = records.book.address("ProviderRegistry"), records.book.address("EuroToken")
    program, person, other = ("0x" + f"{i:040x}".replace("0", "b", 1) for i in (1, 2, 3))
    block = records.events[-1].block_number + 1

    def event(contract: str, name: str, address: str, tx: int, **args: object) -> Event:
        return Event(contract, name, dict(args), address, block + tx, f"0x{block + tx:064x}", 0)

    marked = [
        event("ProviderRegistry", "ProgramRuleSet", registry, 0, fundProgramId=7, categories=1),
        event(
            "ProviderRegistry", "AccountRestricted", registry, 1, token=token, account=person, fundProgramId=7
        ),
        event("ClaimProgram", "Claimed", program, 1, index=0, recipient=person, amount=5),
    ]

    def back(to: str, announced_by: str | None) -> list[Event]:
        moved = [event("EuroToken", "Transfer", token, 2, **{"from": person, "to": to, "value": 5})]
        if announced_by is not None:
            moved.append(
                event("ClaimProgram", "ExpiredAidReclaimed", announced_by, 2, account=person, amount=5)
            )
        return moved

    fine = replace(records, events=[*records.events, *marked, *back(program, program)])
    assert _failed(fine, build, "Providers and restricted aid") == []
    unannounced = replace(records, events=[*records.events, *marked, *back(program, None)])
    assert _failed(unannounced, build, "Providers and restricted aid")
    elsewhere = replace(records, events=[*records.events, *marked, *back(other, other)])
    assert _failed(elsewhere, build, "Providers and restricted aid")


def test_balances_read_many_to_a_call_and_equal_one_call_each(demo: ServedDemo, records: Records) -> None:
    system = Allmende.connect(RpcChain(demo.rpc, []), demo.book)
    strangers = [to_checksum_address(f"0x{i:040x}") for i in range(1, MAX_BALANCE_READ + 2)]
    # More than one read, a full one among them (within the public endpoint's gas cap), and accounts
    # holding nothing.
    holders = sorted(records.balances) + strangers
    read = system.balances(holders)
    assert read == {a: system.balance(a) for a in holders}
    assert any(read[a] for a in records.balances) and not any(read[a] for a in strangers)
