"""The embedded chain: py-evm in this process, optionally kept on disk in SQLite.

`EmbeddedChain.open(data_dir)` keeps the whole chain (blocks, receipts, state) in
``data_dir/chain.sqlite3`` and commits after every mined block, so a transaction whose
receipt is available survives ``kill -9``. The operator's keys are in
``data_dir/operator-keys.json`` (mode 0600), unencrypted: the security boundary of the
embedded chain is the data directory itself. Whoever can read it can sign as the operator,
whoever can write it can rewrite history. Only one process at a time may open a data dir.

`EmbeddedChain.open()` without a directory runs the same chain in memory with fresh keys.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, cast

from eth.abc import AtomicDatabaseAPI, BlockHeaderAPI, ComputationAPI, SignedTransactionAPI, StateAPI
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.exceptions import CanonicalHeadNotFound, HeaderNotFound
from eth.exceptions import TransactionNotFound as EVMTransactionNotFound
from eth.vm.forks.prague import PragueVM
from eth.vm.spoof import SpoofTransaction
from eth_abi import abi
from eth_abi.exceptions import DecodingError
from eth_account import Account
from eth_account.hdaccount import generate_mnemonic, key_from_seed, seed_from_mnemonic
from eth_account.signers.local import LocalAccount
from eth_account.types import Language
from eth_keys.datatypes import PrivateKey
from eth_tester import EthereumTester
from eth_tester.backends.pyevm.main import (
    PyEVMBackend,
    _get_block_by_number,
    generate_genesis_state_for_keys,
    get_default_genesis_params,
)
from eth_tester.backends.pyevm.serializers import (
    serialize_transaction,
    serialize_transaction_receipt,
)
from eth_tester.exceptions import TransactionFailed, TransactionNotFound
from eth_typing import BlockNumber, Hash32
from eth_utils.hexadecimal import encode_hex
from web3 import EthereumTesterProvider, Web3
from web3.types import RPCEndpoint, RPCResponse

from ledger._sqlite_db import SqliteDB, Synchronous
from ledger.chain import Chain, lean_web3
from ledger.exceptions import ChainInUse

CHAIN_ID: Final = 131277322940537
"""eth-tester's chain id; web3's EthereumTesterProvider answers ``eth_chainId`` with it."""

CHAIN_FILE: Final = "chain.sqlite3"
KEYS_FILE: Final = "operator-keys.json"
LOCK_FILE: Final = "lock"

HD_PATH: Final = "m/44'/60'/0'/0/{index}"  # the common wallet path, so keys can be imported
_KEYS_FORMAT: Final = "allmende-operator-keys/1"
_CONFIG_KEY: Final = b"allmende:chain-config"
_CALL_STIPEND: Final = 2_300
_CONFIG: Final = json.dumps({"chain_id": CHAIN_ID, "vm": "prague"}, sort_keys=True).encode()


def estimate_gas(state: StateAPI, transaction: SignedTransactionAPI) -> int:
    """A gas limit under which `transaction` succeeds, found in two runs for most transactions where
    py-evm's search takes about thirteen (halving from the block's gas limit to 21,000 apart).

    One run at the block's gas limit: what it burns before refunds is the least it needs. A call
    forwards at most 63/64 of what is left, so that amount plus a call stipend, times 64/63, covers
    a transaction whose calls nest one deep, as ours mostly do; a second run confirms it. When it
    does not suffice (a forwarded request asks for its own gas, say), the limit doubles until it
    does and the answer is searched between the last two, to within the transaction's intrinsic
    gas, as py-evm's own search is."""
    computation = _run(state, transaction, state.gas_limit)
    if computation.is_error:
        raise computation.error
    burnt = state.gas_limit - computation.get_gas_remaining()
    if burnt <= transaction.intrinsic_gas:
        return int(transaction.intrinsic_gas)
    failed, enough = 0, min((burnt + _CALL_STIPEND) * 64 // 63, state.gas_limit)
    while not _succeeds(state, transaction, enough):
        if enough == state.gas_limit:  # succeeded above, fails now: not for want of gas
            raise TransactionFailed("the transaction fails at every gas limit tried")
        failed, enough = enough, min(2 * enough, state.gas_limit)
    while failed and enough - failed > transaction.intrinsic_gas:
        middle = (failed + enough) // 2
        if _succeeds(state, transaction, middle):
            enough = middle
        else:
            failed = middle
    return int(enough)


def _run(state: StateAPI, transaction: SignedTransactionAPI, gas: int) -> ComputationAPI:
    """`transaction` applied with a gas limit of `gas`, then undone."""
    trial = cast(SignedTransactionAPI, SpoofTransaction(transaction, gas=gas, gas_price=0))
    snapshot = state.snapshot()
    try:
        return state.apply_transaction(trial)
    finally:
        state.revert(snapshot)


def _succeeds(state: StateAPI, transaction: SignedTransactionAPI, gas: int) -> bool:
    try:
        return not _run(state, transaction, gas).is_error
    except Exception:  # invalid at that limit (under the calldata floor, say)
        return False


class AllmendeDevChain(MiningChain):
    """The chain class of every embedded chain; never change it for an existing data dir.

    Like eth-tester's internal class: Prague from genesis, post-merge, constant gas limit.
    """

    chain_id = CHAIN_ID
    vm_configuration = ((BlockNumber(0), PragueVM),)
    gas_estimator = staticmethod(estimate_gas)

    def create_header_from_parent(
        self, parent_header: BlockHeaderAPI, **header_params: Any
    ) -> BlockHeaderAPI:
        header_params["gas_limit"] = parent_header.gas_limit
        return super().create_header_from_parent(parent_header, **header_params)

    def get_transaction_builder(self) -> Any:
        """eth-tester builds transactions through the chain; py-evm has it on the VM."""
        return self.get_vm().get_transaction_builder()


class DurablePyEVMBackend(PyEVMBackend):  # type: ignore[misc]  # eth-tester is untyped
    """eth-tester's py-evm backend over a chain we built (maybe on SQLite).

    Commits the SQLite transaction after every mined block and after a revert, and finds
    transactions through py-evm's hash index instead of scanning every block.
    """

    def __init__(self, chain: AllmendeDevChain, account_keys: Sequence[bytes], db: SqliteDB | None) -> None:
        # No super().__init__(): it would build a fresh in-memory genesis chain.
        self.chain = chain
        self.account_keys = tuple(PrivateKey(k) for k in account_keys)
        self.db = db

    def commit(self) -> None:
        if self.db is not None:
            self.db.commit()

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = b"\x00" * 20) -> tuple[bytes, ...]:
        hashes: tuple[bytes, ...] = super().mine_blocks(num_blocks, coinbase)
        self.commit()
        return hashes

    def time_travel(self, to_timestamp: int) -> int:
        result: int = super().time_travel(to_timestamp)
        self.commit()
        return result

    def apply_withdrawals(self, withdrawals_list: list[dict[str, int | str]]) -> None:
        super().apply_withdrawals(withdrawals_list)  # mines a block, bypassing mine_blocks
        self.commit()

    def revert_to_snapshot(self, snapshot: bytes) -> None:
        # Rewrites the stored canonical head; an uncommitted revert would come back
        # to life after a crash.
        super().revert_to_snapshot(snapshot)
        self.commit()

    def reset_to_genesis(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("an embedded chain cannot be reset; open a new one")

    def call(self, transaction: dict[str, Any], block_number: Any = "latest") -> Any:
        """eth_call as nodes run it: the caller is never charged, so any address may call.

        eth-tester checks that the sender could pay the gas, which the zero address of a reader
        without keys cannot. Such a sender's balance is topped up inside the call's own snapshot.
        The block's state is built once and serves the nonce too: eth-tester's own `call` built it
        three times (for the nonce, for normalising and for running), each with cold account caches.
        """
        header = _get_block_by_number(self.chain, block_number).header
        state = self.chain.get_vm(at_header=header).state
        tx = dict(transaction)
        tx.setdefault("gas", self._max_available_gas())
        tx.setdefault("nonce", state.get_nonce(transaction["from"]))
        unsigned = self._get_normalized_and_unsigned_evm_transaction(tx, block_number)
        spoofed = SpoofTransaction(unsigned, from_=transaction["from"])
        needed = spoofed.gas * spoofed.max_fee_per_gas + spoofed.value
        topped_up = state.get_balance(spoofed.sender) < needed
        snapshot = state.snapshot()
        try:
            if topped_up:
                state.set_balance(spoofed.sender, needed)
            computation = state.apply_transaction(spoofed)  # type: ignore[arg-type]  # py-evm spoofs it
        finally:
            state.revert(snapshot)
        if computation.is_error:
            raise TransactionFailed(
                str(computation.error) if topped_up else _call_failure(self, computation.error)
            )
        return computation.output

    def _find_transaction(self, tx_hash: bytes) -> tuple[Any, SignedTransactionAPI, int]:
        pending = self.chain.get_block()
        for index, tx in enumerate(pending.transactions):
            if tx.hash == tx_hash:
                return pending, tx, index
        try:
            number, index = self.chain.chaindb.get_transaction_index(Hash32(tx_hash))
            # A revert leaves index entries behind: above the head, or pointing at a
            # block that has since been replaced.
            if number < pending.number:
                block = self.chain.get_canonical_block_by_number(number)
                if index < len(block.transactions):
                    tx = block.transactions[index]
                    if tx.hash == tx_hash:
                        return block, tx, index
        except (EVMTransactionNotFound, HeaderNotFound):
            pass
        raise TransactionNotFound(f"No transaction found for hash {encode_hex(tx_hash)}")

    def get_transaction_by_hash(self, transaction_hash: bytes) -> Any:
        block, tx, index = self._find_transaction(transaction_hash)
        is_pending = block.number == self.chain.get_block().number
        return serialize_transaction(block, tx, index, is_pending)

    def get_transaction_receipt(self, transaction_hash: bytes) -> Any:
        block, tx, index = self._find_transaction(transaction_hash)
        is_pending = block.number == self.chain.get_block().number
        receipts = block.get_receipts(self.chain.chaindb)
        return serialize_transaction_receipt(block, receipts, tx, index, is_pending, self.chain.get_vm())


class _SerializedProvider(EthereumTesterProvider):
    """EthereumTesterProvider that lets one request at a time into py-evm."""

    def __init__(self, tester: EthereumTester, lock: threading.RLock) -> None:
        super().__init__(tester)
        self._lock = lock

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._lock:
            try:
                return super().make_request(method, params)
            except (OverflowError, MemoryError) as exc:
                # web3 reads every revert as an `Error(string)` to word its message; a custom
                # error whose first argument, read as a string's offset, points at a huge length
                # makes that read overflow. The revert itself is in the context: raise it.
                if isinstance(exc.__context__, TransactionFailed):
                    raise exc.__context__ from None
                raise


def _call_failure(backend: PyEVMBackend, error: Exception) -> str:
    """The message eth-tester's own `call` gives a failed call: an `Error(string)` reason decoded."""
    if backend.is_eip838_error(error):
        try:
            return str(abi.decode(["string"], error.args[0][4:])[0])
        except (DecodingError, OverflowError, MemoryError):  # a custom error, not a reason
            pass
    return str(error)


class EmbeddedChain(Chain):
    """py-evm in this process, behind web3's EthereumTesterProvider; auto-mines each tx."""

    speaks_json_rpc = False

    def __init__(
        self,
        backend: DurablePyEVMBackend,
        private_keys: Sequence[bytes],
        *,
        data_dir: Path | None = None,
        lock_fd: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.backend = backend
        self.tester = EthereumTester(backend=backend, auto_mine_transactions=True)
        self._lock = threading.RLock()
        self._lock_fd = lock_fd
        self.web3 = lean_web3(Web3(_SerializedProvider(self.tester, self._lock)))
        self._accounts: list[LocalAccount] = [Account.from_key(k) for k in private_keys]

    @classmethod
    def open(
        cls,
        data_dir: Path | None = None,
        *,
        num_accounts: int = 10,
        synchronous: Synchronous = "NORMAL",
    ) -> EmbeddedChain:
        """Open the chain kept in `data_dir` (created with genesis on first use), or a
        fresh in-memory chain when `data_dir` is None.

        `num_accounts` funded accounts are created at genesis; a resumed chain has the
        accounts recorded in its keys file. `synchronous="FULL"` makes every block survive
        a power loss too (see `ledger._sqlite_db`).
        """
        if num_accounts < 1:
            raise ValueError("num_accounts must be at least 1")
        if data_dir is None:
            private_keys = _derive_keys(generate_mnemonic(12, Language.ENGLISH), num_accounts)
            chain = _create_genesis(AtomicDB(), private_keys)
            return cls(DurablePyEVMBackend(chain, private_keys, None), private_keys)

        data_dir = Path(data_dir)
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_fd = _lock_data_dir(data_dir)
        db: SqliteDB | None = None
        try:
            db = SqliteDB(data_dir / CHAIN_FILE, synchronous=synchronous)
            base_db = AtomicDB(db)
            keys_path = data_dir / KEYS_FILE
            if _has_chain(base_db):
                _check_config(base_db, data_dir)
                private_keys = _load_keys(keys_path)
                chain = AllmendeDevChain(base_db)
            else:
                # Keys first: a crash before the genesis commit reuses them next time.
                if keys_path.exists():
                    private_keys = _load_keys(keys_path)
                else:
                    private_keys = _write_new_keys(keys_path, num_accounts)
                chain = _create_genesis(base_db, private_keys)
                base_db[_CONFIG_KEY] = _CONFIG
                db.commit()
            backend = DurablePyEVMBackend(chain, private_keys, db)
            return cls(backend, private_keys, data_dir=data_dir, lock_fd=lock_fd)
        except BaseException:
            if db is not None:
                db.close()
            os.close(lock_fd)
            raise

    @property
    def accounts(self) -> list[LocalAccount]:
        return list(self._accounts)

    @property
    def is_embedded(self) -> bool:
        return True

    def advance_time(self, seconds: int) -> None:
        """Mine an empty block stamped exactly `seconds` (at least 1) after the latest."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            # The backend stamps the block `to_timestamp - 1`. EthereumTester.time_travel
            # would refuse (or silently skip) targets behind the pending header's clock.
            self.backend.time_travel(self.now() + max(seconds, 1) + 1)

    def snapshot(self) -> Any:
        """Remember the latest block. Snapshot ids live in this process only; a revert
        rewinds the stored chain too (durably)."""
        with self._lock:
            return self.tester.take_snapshot()

    def revert(self, snapshot: Any) -> None:
        """Make the snapshot's block the head again; may be repeated with one snapshot."""
        with self._lock:
            self.tester.revert_to_snapshot(snapshot)

    def close(self) -> None:
        """Commit, close the database and release the data dir. Idempotent."""
        with self._lock:
            db = self.backend.db
            if db is not None:
                db.commit()
                db.close()
                self.backend.db = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> EmbeddedChain:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _derive_keys(mnemonic: str, count: int) -> list[bytes]:
    seed = seed_from_mnemonic(mnemonic, "")
    return [key_from_seed(seed, HD_PATH.format(index=i)) for i in range(count)]


def _create_genesis(base_db: AtomicDatabaseAPI, private_keys: Sequence[bytes]) -> AllmendeDevChain:
    """Genesis as eth-tester makes it: 1,000,000 ether per account, Prague, post-merge."""
    state = generate_genesis_state_for_keys([PrivateKey(k) for k in private_keys])
    chain = AllmendeDevChain.from_genesis(base_db, get_default_genesis_params(), state)
    assert isinstance(chain, AllmendeDevChain)
    return chain


def _has_chain(base_db: AtomicDatabaseAPI) -> bool:
    try:
        AllmendeDevChain.get_chaindb_class()(base_db).get_canonical_head()
    except CanonicalHeadNotFound:
        return False
    return True


def _check_config(base_db: AtomicDatabaseAPI, data_dir: Path) -> None:
    stored = base_db.get(_CONFIG_KEY)
    if stored != _CONFIG:
        raise RuntimeError(
            f"{data_dir / CHAIN_FILE} was made with another chain configuration "
            f"({stored!r}, expected {_CONFIG!r})"
        )


def _lock_data_dir(data_dir: Path) -> int:
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ChainInUse(f"{data_dir} is in use by another EmbeddedChain") from None
    return fd


def _write_new_keys(path: Path, num_accounts: int) -> list[bytes]:
    """Write a fresh mnemonic with mode 0600 (atomically, fsynced) and derive its keys."""
    mnemonic = generate_mnemonic(12, Language.ENGLISH)
    private_keys = _derive_keys(mnemonic, num_accounts)
    doc = {
        "format": _KEYS_FORMAT,
        "warning": "Unencrypted operator keys of an embedded Allmende chain. Keep private.",
        "mnemonic": mnemonic,
        "hd_path": HD_PATH,
        "num_accounts": num_accounts,
        "addresses": [Account.from_key(k).address for k in private_keys],
    }
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return private_keys


def _load_keys(path: Path) -> list[bytes]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise RuntimeError(f"{path} is missing; the chain's accounts cannot sign") from None
    if doc.get("format") != _KEYS_FORMAT:
        raise RuntimeError(f"{path}: unknown format {doc.get('format')!r}")
    private_keys = _derive_keys(doc["mnemonic"], int(doc["num_accounts"]))
    if [Account.from_key(k).address for k in private_keys] != doc["addresses"]:
        raise RuntimeError(f"{path}: addresses do not match the mnemonic")
    return private_keys
