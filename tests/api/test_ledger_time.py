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
    asked = int(datetime.now(UTC).timestamp())
    later = client.get("/v1/ledger/time").json()
    answered = int(datetime.now(UTC).timestamp()) + 1
    assert later["blockNumber"] > first["blockNumber"]
    assert later["timestamp"] >= first["timestamp"] + 30 * 86_400
    # the wall clock was read while the request ran, whatever the chain's clock was before
    ahead = later["secondsAheadOfWallClock"]
    assert later["timestamp"] - answered <= ahead <= later["timestamp"] - asked
