"""Standard Ethereum tooling reads the embedded chain through the gateway's read-only /rpc.

The web3 client here uses no project code: a plain `Web3(HTTPProvider(url))` and the committed ABI
file, as a block explorer or an auditor's own script would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner
from web3 import HTTPProvider, Web3

from api.cli import app
from ledger import json_rpc
from ledger.chain_reading import get_logs
from ledger.json_rpc import LIMIT_EXCEEDED, MAX_BATCH, METHOD_NOT_FOUND
from tests.e2e._demo_chain import ServedDemo, served_demo

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "ledger" / "artifacts"

WRITE_METHODS = [
    ("eth_sendTransaction", [{"from": "0x" + "11" * 20, "to": "0x" + "22" * 20, "value": "0x1"}]),
    ("eth_sendRawTransaction", ["0x02f86b"]),
    ("eth_sign", ["0x" + "11" * 20, "0xdeadbeef"]),
    ("eth_signTransaction", [{"from": "0x" + "11" * 20}]),
    ("eth_signTypedData", ["0x" + "11" * 20, {}]),
    ("eth_signTypedData_v3", ["0x" + "11" * 20, {}]),
    ("eth_signTypedData_v4", ["0x" + "11" * 20, {}]),
    ("personal_sign", ["0xdeadbeef", "0x" + "11" * 20, ""]),
    ("personal_sendTransaction", [{"from": "0x" + "11" * 20}, ""]),
    ("personal_unlockAccount", ["0x" + "11" * 20, "", 60]),
    ("personal_importRawKey", ["11" * 32, ""]),
    ("personal_newAccount", [""]),
    ("evm_mine", []),
    ("evm_increaseTime", [3600]),
    ("evm_setNextBlockTimestamp", [2_000_000_000]),
    ("evm_snapshot", []),
    ("evm_revert", ["0x1"]),
    ("hardhat_setBalance", ["0x" + "11" * 20, "0xffff"]),
    ("hardhat_setCode", ["0x" + "11" * 20, "0x00"]),
    ("hardhat_setStorageAt", ["0x" + "11" * 20, "0x0", "0x" + "00" * 32]),
    ("hardhat_impersonateAccount", ["0x" + "11" * 20]),
    ("hardhat_mine", ["0x10"]),
    ("anvil_setBalance", ["0x" + "11" * 20, "0xffff"]),
    ("anvil_setCode", ["0x" + "11" * 20, "0x00"]),
    ("anvil_impersonateAccount", ["0x" + "11" * 20]),
    ("anvil_mine", ["0x1"]),
    ("miner_start", []),
    ("debug_setHead", ["0x1"]),
    ("admin_addPeer", ["enode://x"]),
    ("eth_newFilter", [{}]),
    ("eth_subscribe", ["newHeads"]),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDemo]:
    with served_demo(tmp_path_factory.mktemp("demo")) as served:
        yield served


def _rpc(url: str, body: Any) -> httpx.Response:
    return httpx.post(url, json=body, timeout=60)


def test_a_plain_web3_client_reads_blocks_receipts_logs_and_views(demo: ServedDemo) -> None:
    w3 = Web3(HTTPProvider(demo.rpc))
    book = json.loads(demo.book.read_text())
    assert w3.eth.chain_id == book["chainId"]
    head = w3.eth.block_number
    assert head > 10

    fund_ledger = book["contracts"]["FundLedger"]
    abi = json.loads((ARTIFACTS / "FundLedger.json").read_text())["abi"]
    ledger = w3.eth.contract(address=fund_ledger["address"], abi=abi)
    logs = w3.eth.get_logs(
        {"fromBlock": fund_ledger["deploy_block"], "toBlock": head, "address": ledger.address}
    )
    decoded = []
    for log in logs:
        for event in ("LotDeposited", "ProgramCreated"):
            try:
                decoded.append(getattr(ledger.events, event)().process_log(log))
            except Exception:
                continue
    assert {e["event"] for e in decoded} == {"LotDeposited", "ProgramCreated"}

    first = decoded[0]
    block = w3.eth.get_block(first["blockNumber"], full_transactions=True)
    assert block["hash"] == first["blockHash"]
    assert w3.eth.get_block(block["hash"])["number"] == block["number"]
    tx = w3.eth.get_transaction(first["transactionHash"])
    assert tx["blockNumber"] == block["number"] and tx["to"] == ledger.address
    assert any(t["hash"] == tx["hash"] for t in block["transactions"])
    receipt = w3.eth.get_transaction_receipt(first["transactionHash"])
    assert receipt["status"] == 1 and receipt["blockHash"] == block["hash"]
    assert any(log["logIndex"] == first["logIndex"] for log in receipt["logs"])

    assert len(w3.eth.get_code(ledger.address)) > 1000
    assert w3.eth.get_balance(ledger.address) == 0
    lot_count, program_count = ledger.functions.counts().call()[:2]
    assert lot_count == 3 and program_count == 1
    assert w3.eth.get_storage_at(ledger.address, 0) is not None
    assert w3.net.version and w3.client_version.startswith("EthereumTester")
    assert w3.eth.accounts == []  # the operator's accounts are not the reader's business


def test_every_write_method_is_refused_and_changes_nothing(demo: ServedDemo) -> None:
    before = _rpc(demo.rpc, {"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber"}).json()["result"]
    batch = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(WRITE_METHODS)]
    answers = _rpc(demo.rpc, batch).json()
    assert len(answers) == len(WRITE_METHODS)
    for (method, _), answer in zip(WRITE_METHODS, answers, strict=True):
        assert "result" not in answer, method
        assert answer["error"]["code"] == METHOD_NOT_FOUND, method
    for method, params in WRITE_METHODS[:3]:  # one at a time as well as in a batch
        answer = _rpc(demo.rpc, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
        assert answer["error"]["code"] == METHOD_NOT_FOUND
    after = _rpc(demo.rpc, {"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber"}).json()["result"]
    assert after == before


def test_batches_bodies_and_log_ranges_are_bounded(demo: ServedDemo) -> None:
    one = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    assert len(_rpc(demo.rpc, [one] * MAX_BATCH).json()) == MAX_BATCH
    too_many = _rpc(demo.rpc, [one] * (MAX_BATCH + 1)).json()
    assert too_many["error"]["code"] == -32005
    huge = httpx.post(demo.rpc, content=b"[" + b" " * 300_000 + b"]", timeout=60)
    assert huge.status_code == 413 and huge.json()["error"]["code"] == -32005
    wide = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "eth_getLogs",
        "params": [{"fromBlock": "0x0", "toBlock": hex(20_000)}],
    }
    assert _rpc(demo.rpc, wide).json()["error"]["code"] == -32005
    assert _rpc(demo.rpc, "not json").json()["error"]["code"] in (-32600, -32700)
    assert httpx.post(demo.rpc, content=b"{", timeout=60).json()["error"]["code"] == -32700


def test_a_reverting_call_answers_the_revert_data(demo: ServedDemo) -> None:
    book = json.loads(demo.book.read_text())
    w3 = Web3(HTTPProvider(demo.rpc))
    abi = json.loads((ARTIFACTS / "FundLedger.json").read_text())["abi"]
    ledger = w3.eth.contract(address=book["contracts"]["FundLedger"]["address"], abi=abi)
    data = ledger.encode_abi("getLot", args=[999])
    answer = _rpc(
        demo.rpc,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_call",
            "params": [{"to": ledger.address, "data": data}, "latest"],
        },
    ).json()
    selector = Web3.keccak(text="FundLedgerUnknownLot(uint48)")[:4].hex()
    assert answer["error"]["code"] == 3
    assert answer["error"]["data"] == "0x" + selector + (999).to_bytes(32, "big").hex()


def test_audit_and_export_round_read_through_the_gateway_that_holds_the_chain(
    demo: ServedDemo, tmp_path: Path
) -> None:
    runner = CliRunner()
    common = ["--data-dir", str(demo.data_dir), "--gateway", demo.url]
    audit = runner.invoke(app, ["audit", *common])
    assert audit.exit_code == 0, audit.output
    said = " ".join(audit.output.split())  # the console wraps long lines at its width
    assert "is in use by a running gateway" in said and "matches the contract" in said
    out = tmp_path / "round1.pb"
    exported = runner.invoke(app, ["export-round", "1", "--out", str(out), *common])
    assert exported.exit_code == 0, exported.output
    assert out.read_text(encoding="utf-8").startswith("META")


def test_without_a_gateway_the_cli_says_so_instead_of_a_traceback(demo: ServedDemo) -> None:
    result = CliRunner().invoke(
        app, ["audit", "--data-dir", str(demo.data_dir), "--gateway", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 1
    assert "cannot read the chain at http://127.0.0.1:9/rpc" in result.output


def test_the_auditors_reader_asks_again_in_halves_when_a_page_holds_too_many_logs(
    demo: ServedDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    w3 = Web3(HTTPProvider(demo.rpc))
    contracts = json.loads(demo.book.read_text())["contracts"].values()
    addresses = [c["address"] for c in contracts]
    start, head = min(c["deploy_block"] for c in contracts), w3.eth.block_number
    everything = get_logs(w3, addresses, start, head)
    per_block: dict[int, int] = {}
    for log in everything:
        per_block[log["blockNumber"]] = per_block.get(log["blockNumber"], 0) + 1
    cap = max(per_block.values())
    assert len(everything) > 2 * cap  # so the whole range is refused and asked for in pieces

    monkeypatch.setattr(json_rpc, "MAX_LOG_RESULTS", cap)
    query = {"fromBlock": hex(start), "toBlock": hex(head), "address": addresses}
    refused = _rpc(demo.rpc, {"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [query]})
    assert refused.json()["error"]["code"] == LIMIT_EXCEEDED
    paged = get_logs(w3, addresses, start, head)
    assert [(log["blockNumber"], log["logIndex"]) for log in paged] == [
        (log["blockNumber"], log["logIndex"]) for log in everything
    ]
