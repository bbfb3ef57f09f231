"""`GET /v1/ledger/time`: the chain's clock, public, and moving with the chain, not the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from api.gateway import Gateway


def test_the_ledger_time_is_the_latest_block_and_follows_the_chain_clock(
    client: TestClient, gateway: Gateway
) -> None:
    before = client.get("/v1/ledger/time")
    assert before.status_code == 200
    first = before.json()
    latest = gateway.chain.web3.eth.get_block("latest")
    assert (first["blockNumber"], first["timestamp"]) == (latest["number"], latest["timestamp"])
    assert datetime.fromisoformat(first["iso"]) == datetime.fromtimestamp(first["timestamp"], UTC)

    gateway.advance_time(30 * 86_400)  # a demo moves the chain a month ahead of the wall clock
    later = client.get("/v1/ledger/time").json()
    assert later["blockNumber"] > first["blockNumber"]
    assert later["timestamp"] >= first["timestamp"] + 30 * 86_400
    assert later["secondsAheadOfWallClock"] >= 30 * 86_400 - 60
