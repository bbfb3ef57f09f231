"""The relayer on a real JSON-RPC node that mines on a timer, as a QBFT network does with its block
period: a pool of relayer accounts, each with its own nonces, and outcomes reported only once the
configured number of blocks is built on them. And on a free-gas node, operator accounts that hold
no ether at all."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from ledger.anvil import AnvilNode, anvil_binary
from ledger.exceptions import TransactionError
from ledger.forwarding import ForwardRequest
from ledger.relayer import Relayer, RelayOutcome
from ledger.roles import Role
from ledger.rpc import RpcChain
from ledger.system import Allmende
from ledger.transactions import TransactionSender, TxResult

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        not anvil_binary().exists(), reason="node_modules/@foundry-rs/anvil is missing (npm ci)"
    ),
]

BLOCK_TIME_S = 0.25


@pytest.fixture(scope="module")
def chain() -> Iterator[RpcChain]:
    with AnvilNode(block_time=BLOCK_TIME_S) as node:
        chain = node.chain()
        yield chain
        chain.close()


@pytest.fixture(scope="module")
def relayers(chain: RpcChain) -> list[LocalAccount]:
    return chain.accounts[8:10]


@pytest.fixture(scope="module")
def system(chain: RpcChain, relayers: list[LocalAccount]) -> Allmende:
    admin = chain.accounts[0]
    system = Allmende.deploy(chain, admin)
    for relayer in relayers:
        system.grant(admin, Role.RELAYER, relayer.address)
    return system


def _approval(system: Allmende, user: LocalAccount, spender: str) -> ForwardRequest:
    token = system.token
    return system.forwarding.sign(
        user, token.address, token.encode("approve", spender, 1), gas=100_000, nonce=0
    )


def _users_in_every_lane(lanes: int, per_lane: int) -> list[LocalAccount]:
    """Fresh users, `per_lane` of them routed to each of the relayer's `lanes` (by address)."""
    users: list[LocalAccount] = []
    counts = [0] * lanes
    for _ in range(64 * lanes * per_lane):  # bounded; each draw lands in a lane with probability 1/lanes
        user = Account.create()
        lane = int(user.address, 16) % lanes
        if counts[lane] < per_lane:
            counts[lane] += 1
            users.append(user)
        if min(counts) == per_lane:
            return users
    raise AssertionError("could not draw users for every lane")


def test_pool_of_relayer_accounts_relays_with_each_accounts_own_nonces(
    system: Allmende, chain: RpcChain, relayers: list[LocalAccount]
) -> None:
    web3 = chain.web3
    spender = chain.accounts[5].address
    users = _users_in_every_lane(len(relayers), per_lane=3)
    sent_before = {r.address: web3.eth.get_transaction_count(r.address) for r in relayers}
    relayer = Relayer(system, relayers, max_batch=16, max_wait_s=0.05)
    try:
        outcomes = [
            f.result(timeout=60) for f in [relayer.submit(_approval(system, u, spender)) for u in users]
        ]
    finally:
        relayer.close()

    for user in users:
        assert system.token.call("allowance", user.address, spender) == 1
    sender_of = {
        o.transaction_hash: web3.eth.get_transaction(HexBytes(o.transaction_hash))["from"] for o in outcomes
    }
    assert set(sender_of.values()) == {r.address for r in relayers}  # both accounts of the pool sent
    for r in relayers:
        batches = [tx for tx, sender in sender_of.items() if sender == r.address]
        assert web3.eth.get_transaction_count(r.address) == sent_before[r.address] + len(batches)


def test_outcome_is_reported_only_after_the_configured_confirmations(
    system: Allmende, chain: RpcChain, relayers: list[LocalAccount]
) -> None:
    web3 = chain.web3
    user = Account.create()
    chain.confirmations = 2
    relayer = Relayer(system, relayers[:1], max_wait_s=0.0)
    head_when_reported: list[int] = []

    def note_head(_: Future[RelayOutcome]) -> None:
        head_when_reported.append(int(web3.eth.block_number))

    try:
        future = relayer.submit(_approval(system, user, chain.accounts[5].address))
        future.add_done_callback(note_head)
        outcome = future.result(timeout=60)
    finally:
        relayer.close()
        chain.confirmations = 0
    assert head_when_reported[0] >= outcome.block_number + 2
    receipt = web3.eth.get_transaction_receipt(HexBytes(outcome.transaction_hash))
    assert receipt["blockHash"] == web3.eth.get_block(outcome.block_number)["hash"]


def test_transaction_whose_block_is_replaced_before_its_confirmations_is_not_reported_done(
    chain: RpcChain,
) -> None:
    """A reorganisation drops the block of a transaction still waiting for its confirmations: the
    sender reports an error, not success, and the account's next transaction reuses the dropped
    nonce instead of waiting forever behind a gap."""
    web3, sender_account, to = chain.web3, chain.accounts[3], chain.accounts[4].address
    sender = TransactionSender(chain, receipt_timeout=3.0)
    nonce = web3.eth.get_transaction_count(sender_account.address)
    outcome: list[TxResult | BaseException] = []

    def send() -> None:
        try:
            outcome.append(sender.send(sender_account, to, b"", gas=21_000, value=1))
        except BaseException as exc:
            outcome.append(exc)

    chain.confirmations = 50
    thread = threading.Thread(target=send)
    thread.start()
    try:
        mined_in = _block_of_nonce(chain, sender_account.address, nonce)
        head = int(web3.eth.block_number)
        assert web3.provider.make_request("anvil_reorg", [head - mined_in + 1, []]).get("error") is None
        thread.join(timeout=30)
    finally:
        chain.confirmations = 0
    assert not thread.is_alive()
    assert isinstance(outcome[0], TransactionError)
    assert web3.eth.get_transaction_count(sender_account.address) == nonce  # dropped, not mined
    again = sender.send(sender_account, to, b"", gas=21_000, value=1)
    assert web3.eth.get_transaction(HexBytes(again.transaction_hash))["nonce"] == nonce


def _block_of_nonce(chain: RpcChain, address: str, nonce: int) -> int:
    """The block that mined `address`'s transaction with `nonce` (polls, bounded)."""
    web3 = chain.web3
    for _ in range(200):  # 10 s at most
        if web3.eth.get_transaction_count(address) > nonce:
            head = int(web3.eth.block_number)
            for number in range(head, max(0, head - 20), -1):
                for tx in web3.eth.get_block(number, full_transactions=True)["transactions"]:
                    if tx["from"] == address and tx["nonce"] == nonce:  # type: ignore[index]
                        return number
        time.sleep(0.05)
    raise AssertionError("the transaction was not mined")


def test_negative_confirmations_are_refused(chain: RpcChain) -> None:
    with pytest.raises(ValueError, match="confirmations"):
        RpcChain(chain.url, [], confirmations=-1)


def test_relayer_without_ether_relays_on_a_free_gas_node() -> None:
    """Zero base fee and zero-fee transactions (Besu's zeroBaseFee with --min-gas-price=0): a relayer
    account that never held ether is granted its role and relays a user's request."""
    with AnvilNode(free_gas=True) as node:
        chain = node.chain()
        admin = chain.accounts[0]
        system = Allmende.deploy(chain, admin)
        pauper = Account.create()
        system.grant(admin, Role.RELAYER, pauper.address)
        assert system.sender.fee_fields() == {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
        user, spender = Account.create(), chain.accounts[5].address
        relayer = Relayer(system, [pauper], max_wait_s=0.0)
        try:
            outcome = relayer.relay(_approval(system, user, spender), timeout=60)
        finally:
            relayer.close()
        assert system.token.call("allowance", user.address, spender) == 1
        assert chain.web3.eth.get_transaction(HexBytes(outcome.transaction_hash))["from"] == pauper.address
        assert chain.web3.eth.get_balance(pauper.address) == 0
        chain.close()
