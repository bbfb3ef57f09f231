"""Deployment is idempotent and the address book guards against the wrong chain or code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.address_book import AddressBook
from ledger.embedded import EmbeddedChain
from ledger.exceptions import DeploymentError
from ledger.system import DEPLOY_ORDER, Allmende, deploy


def test_deploy_twice_deploys_nothing_new(tmp_path: Path) -> None:
    book_path = tmp_path / "book.json"
    with EmbeddedChain.open(None) as chain:
        admin = chain.accounts[0]
        first = deploy(chain, admin, book_path)
        head = chain.web3.eth.block_number
        second = deploy(chain, admin, book_path)
        assert second == first
        assert chain.web3.eth.block_number == head  # no transaction at all
        assert set(first.contracts) == set(DEPLOY_ORDER)
        data = json.loads(book_path.read_text())
        assert data["chainId"] == chain.chain_id
        for name, entry in data["contracts"].items():
            assert chain.web3.eth.get_code(entry["address"]), name
            assert entry["deploy_block"] > 0
        system = Allmende.connect(chain, book_path)
        assert system.funds.call("isTokenAllowed", system.token.address)


def test_deploy_resumes_a_partial_deployment(tmp_path: Path) -> None:
    book_path = tmp_path / "book.json"
    with EmbeddedChain.open(None) as chain:
        admin = chain.accounts[0]
        full = deploy(chain, admin, book_path)
        last = DEPLOY_ORDER[-1]
        partial = AddressBook(full.chain_id, {k: v for k, v in full.contracts.items() if k != last})
        partial.save(book_path)
        resumed = deploy(chain, admin, book_path)
        for name in DEPLOY_ORDER[:-1]:
            assert resumed.contracts[name] == full.contracts[name]
        assert resumed.contracts[last].address != full.contracts[last].address


def test_book_of_another_chain_is_refused(tmp_path: Path) -> None:
    book_path = tmp_path / "book.json"
    with EmbeddedChain.open(None) as chain:
        book = deploy(chain, chain.accounts[0], book_path)
    AddressBook(book.chain_id + 1, book.contracts).save(book_path)
    with EmbeddedChain.open(None) as other, pytest.raises(DeploymentError, match="is for chain"):
        deploy(other, other.accounts[0], book_path)


def test_book_pointing_at_other_code_is_refused(tmp_path: Path) -> None:
    book_path = tmp_path / "book.json"
    with EmbeddedChain.open(None) as chain:
        deploy(chain, chain.accounts[0], book_path)
    with (
        EmbeddedChain.open(None) as fresh,
        pytest.raises(DeploymentError, match="not the code the book records"),
    ):
        deploy(fresh, fresh.accounts[0], book_path)  # same chain id, but nothing deployed there
