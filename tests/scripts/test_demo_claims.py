"""The devnet's claim demo plays on top of the fund demo, and the books still add up."""

from __future__ import annotations

from pathlib import Path

from api.devnet import DemoCast, play_demo
from api.devnet.claims import CLAIMANTS, VOUCHERS, play_claim_program, run_claim_program
from ledger.embedded import EmbeddedChain
from ledger.fund_events import rebuild_fund_state
from ledger.system import Allmende


def test_claim_demo_issues_vouchers_pays_claims_and_returns_the_rest(tmp_path: Path) -> None:
    with EmbeddedChain.open(None, num_accounts=8) as chain:
        cast = DemoCast.from_chain(chain)
        system = Allmende.deploy(chain, cast.admin)
        play_demo(system, cast)
        before = system.funds.program(1)
        sheet = tmp_path / "vouchers.pdf"
        demo = run_claim_program(system, cast, 1, sheet)

        assert len(demo.codes) == VOUCHERS and len(set(demo.codes.values())) == VOUCHERS
        assert len(demo.claimed) == CLAIMANTS
        info = demo.program.info()
        claimed = sum(e.args["amount"] for e in system.events() if e.name == "Claimed")
        assert claimed + info.returned == info.funded
        assert demo.returned == info.returned > 0
        assert system.balance(demo.program.address) == 0
        after = system.funds.program(1)
        assert after.disbursed - before.disbursed == info.funded
        assert after.released - after.disbursed >= info.returned  # the rest is the program's again
        assert rebuild_fund_state(system.events()) == system.funds.read_state([system.token.address])
        assert sheet.read_bytes().startswith(b"%PDF")
        assert (
            play_claim_program.__doc__ and "20 vouchers" in play_claim_program.__doc__
        )  # the devnet's entry
