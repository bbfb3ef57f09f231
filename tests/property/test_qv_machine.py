"""A Hypothesis state machine drives a budget round on the chain next to the reference model.

Random proposals (some out of bounds), withdrawals, ballots and re-votes (some too costly, some on
withdrawn or unknown proposals, some by ineligible or late voters), then finalisation, paid in one
or several transactions. After every step the chain must agree with `governance.qv.RoundModel`.

Some rounds draw half their budget on a lot that expires after voting ends. The clock may pass that
expiry before the round is settled: payouts drawing on the lot are then refused, anyone may release
its reservation directly in the fund ledger, and anyone may abandon the round exactly while it still
holds money of the lot; the abandonment keeps what the winners paid before received and gives every
other euro back.
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from governance.errors import InvalidBallot
from governance.qv import RoundModel, SelectionRule, check_ballot, finalisation_order
from governance.qv_verify import verify_rounds
from ledger.embedded import EmbeddedChain
from ledger.exceptions import ContractRevert
from ledger.fund_events import rebuild_fund_state
from ledger.participatory_budget import RoundParams
from ledger.participatory_budget import SelectionRule as ChainRule
from ledger.revert_errors import (
    FundLedgerLotExpired,
    ParticipatoryBudgetAlreadySettled,
    ParticipatoryBudgetCostOutOfBounds,
    ParticipatoryBudgetCreditsExceeded,
    ParticipatoryBudgetFundingNotExpired,
    ParticipatoryBudgetNotCancellable,
    ParticipatoryBudgetNotCanceller,
    ParticipatoryBudgetNotEligible,
    ParticipatoryBudgetOrderNotSorted,
    ParticipatoryBudgetProposalNotActive,
    ParticipatoryBudgetRoundAbandoned,
    ParticipatoryBudgetUnknownProposal,
    ParticipatoryBudgetWrongPhase,
)
from ledger.system import Allmende
from tests._qv import EUR, Electorate, lot, program
from tests.conftest import Actors

GAS = 3_000_000  # explicit gas: no estimation round trips; reverts are replayed for their typed error
PHASES = ("proposals", "voting", "tally", "finalised", "abandoned")
EXPIRY_AFTER_VOTING = 500  # seconds between the end of voting and the expiring lot's expiry


def test_budget_round_agrees_with_the_model(
    system: Allmende, chain: EmbeddedChain, actors: Actors, voters: list[LocalAccount]
) -> None:
    a = actors
    # The round's creator is the NGO running programs[0]; both funders consent to it (name it allocator).
    creator = a.ngo
    funding_lot = lot(system, a.funder, 100_000 * EUR, allocators=(creator,))
    programs = [program(system, a.ngo), program(system, a.ngo2)]
    electorate = Electorate.of(voters)
    fund_balance = system.balance(system.funds.address)
    lot_start = system.funds.lot(funding_lot).unallocated
    viewer = a.admin.address  # an explicit `from` for views: the tester otherwise looks one up per call
    budget_sender = system.budget

    class RoundMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = chain.snapshot()
            self.start_block = chain.web3.eth.block_number + 1
            self.phase = "proposals"
            self.model: RoundModel
            self.round_id = 0
            self.proposers: dict[int, LocalAccount] = {}
            self.settled = False
            self.touched: list[LocalAccount] = []  # voters whose ballot the last step may have changed
            self.checked_phase = ""
            self.money_moved = False  # finalise or pay ran since the last check of the money
            self.tried_after_settling = False
            self.steps_in_phase = 0
            self.refused_in_phase = False
            self.paid = 0  # winners paid, by the model
            self.expiring_lot = 0  # a lot that expires after voting ends, when the round draws on one
            self.expiring_reservation = 0
            self.expiring_amount = 0  # deposited into it
            self.expired = False
            self.released_directly = False
            self.refused_abandoning = False
            self.balloted = False  # a ballot was cast: the round can no longer be cancelled

        def _enter(self, phase: str) -> None:
            self.phase, self.steps_in_phase, self.refused_in_phase = phase, 0, False

        def teardown(self) -> None:
            chain.revert(self.snapshot)
            system.sender.forget_nonces()

        @initialize(
            credits=st.integers(1, 150),
            budget=st.integers(5, 60),
            bounds=st.tuples(st.integers(1, 10), st.integers(0, 30)),
            rule=st.sampled_from(list(SelectionRule)),
            min_votes=st.integers(0, 3),
            expiring=st.sampled_from(["second", "first", "none"]),
        )
        def create(
            self,
            credits: int,
            budget: int,
            bounds: tuple[int, int],
            rule: SelectionRule,
            min_votes: int,
            expiring: str,
        ) -> None:
            min_cost = bounds[0] * EUR
            max_cost = min(min_cost + bounds[1] * EUR, budget * EUR)
            min_cost = min(min_cost, max_cost)
            now = chain.now()
            params = RoundParams(
                now + 1_000,
                now + 2_000,
                electorate.root,
                credits,
                min_cost,
                max_cost,
                ChainRule(rule),
                min_votes,
            )
            half = budget * EUR // 2
            shares = [(funding_lot, half), (funding_lot, budget * EUR - half)]
            if expiring != "none":
                self.expiring_amount = budget * EUR
                self.expiring_lot = lot(
                    system,
                    a.funder2,
                    self.expiring_amount,
                    allocators=(creator,),
                    expiry=params.voting_end + EXPIRY_AFTER_VOTING,
                )
                which = 0 if expiring == "first" else 1
                shares[which] = (self.expiring_lot, shares[which][1])
            r = budget_sender.create_round(creator, params, shares, gas=GAS)
            self.round_id = r.event("RoundCreated").args["roundId"]
            self.model = RoundModel(budget * EUR, credits, min_cost, max_cost, rule, min_votes)
            fundings = budget_sender.fundings(self.round_id)
            self.model.fundings = [(f.reservation_id, f.remaining) for f in fundings]
            self.expiring_reservation = next(
                (f.reservation_id for f in fundings if self.expiring_lot and f.lot_id == self.expiring_lot), 0
            )

        # --- proposals ----------------------------------------------------------------------

        @precondition(lambda self: self.phase == "proposals" and len(self.model.proposals) < 8)
        @rule(data=st.data(), by_client=st.booleans(), which=st.integers(0, 1))
        def submit(self, data: st.DataObject, by_client: bool, which: int) -> None:
            m = self.model
            amount = data.draw(st.integers(m.min_cost - EUR // 2, m.max_cost + EUR // 2), label="amount")
            # An NGO proposes for the program it runs; a client for the creator's program (programs[0]).
            proposer = voters[which] if by_client else (a.ngo, a.ngo2)[which]
            proof = electorate.proof(proposer) if by_client else []
            program_id = programs[0] if by_client else programs[which]
            call = (self.round_id, program_id, amount, bytes(32), proof)
            if not m.min_cost <= amount <= m.max_cost:
                self._reverts(ParticipatoryBudgetCostOutOfBounds, proposer, "submitProposal", *call)
                return
            r = budget_sender.submit_proposal(proposer, *call, gas=GAS)
            pid = m.submit(proposer.address, program_id, amount)
            assert r.event("ProposalSubmitted").args["proposalId"] == pid
            self.proposers[pid] = proposer

        @precondition(lambda self: self.phase == "proposals" and self.model.active())
        @rule(data=st.data())
        def withdraw(self, data: st.DataObject) -> None:
            pid = data.draw(st.sampled_from(self.model.active()), label="proposal")
            budget_sender.transact(self.proposers[pid], "withdrawProposal", self.round_id, pid, gas=GAS)
            self.model.withdraw(pid)

        @precondition(lambda self: self.phase == "proposals" and self.steps_in_phase >= 4)
        @rule()
        def open_voting(self) -> None:
            chain.advance_time(budget_sender.round(self.round_id).voting_start - chain.now())
            self._enter("voting")

        # --- ballots ------------------------------------------------------------------------

        @precondition(lambda self: self.phase == "voting")
        @rule(data=st.data(), who=st.integers(0, len(voters) - 1))
        def cast(self, data: st.DataObject, who: int) -> None:
            ids = st.integers(1, len(self.model.proposals) + 1)  # sometimes one too far
            votes = data.draw(st.dictionaries(ids, st.integers(0, 12), max_size=6), label="votes")
            voter = voters[who]
            self.touched.append(voter)
            try:
                expected_cost = check_ballot(votes, self.model.credits, set(self.model.active()))
            except InvalidBallot:
                error = self._expected_error(votes)
                self._reverts(
                    error, voter, "castBallot", self.round_id, *_arrays(votes), electorate.proof(voter)
                )
                return
            r = budget_sender.cast_ballot(voter, self.round_id, votes, electorate.proof(voter), gas=GAS)
            self.balloted = True
            assert r.event("BallotCast").args["creditsSpent"] == expected_cost
            self.model.cast(voter.address, votes)

        @precondition(
            lambda self: self.phase in ("voting", "tally", "abandoned") and not self.refused_in_phase
        )
        @rule()
        def cast_refused(self) -> None:
            """An ineligible voter while voting is open; anyone once it has closed (once per phase)."""
            self.refused_in_phase = True
            if self.phase == "voting":
                self._reverts(
                    ParticipatoryBudgetNotEligible, a.outsider, "castBallot", self.round_id, [], [], []
                )
            else:
                voter = voters[0]
                self._reverts(
                    ParticipatoryBudgetWrongPhase
                    if self.phase == "tally"
                    else ParticipatoryBudgetRoundAbandoned,
                    voter,
                    "castBallot",
                    self.round_id,
                    [],
                    [],
                    electorate.proof(voter),
                )

        @precondition(lambda self: self.phase == "voting" and self.steps_in_phase >= 8)
        @rule()
        def close_voting(self) -> None:
            chain.advance_time(budget_sender.round(self.round_id).voting_end - chain.now())
            self._enter("tally")

        # --- finalisation -------------------------------------------------------------------

        # An abandoned round refuses finalisation, payouts and abandonment: several rules stay enabled in
        # that phase, so that swarm testing (which turns some rules off) rarely leaves none.

        @precondition(lambda self: self.phase in ("tally", "abandoned"))
        @rule(first_payouts=st.integers(0, 3), unsorted=st.booleans())
        def finalise(self, first_payouts: int, unsorted: bool) -> None:
            if self.phase == "abandoned":
                self._reverts(ParticipatoryBudgetRoundAbandoned, a.outsider, "finalise", self.round_id, [], 0)
                return
            tallies = self.model.tallies()
            order = finalisation_order(tallies)
            swap = next((i for i in range(1, len(order)) if tallies[order[i - 1]] > tallies[order[i]]), None)
            if unsorted and swap is not None:
                bad = list(order)
                bad[swap - 1], bad[swap] = bad[swap], bad[swap - 1]
                self._reverts(
                    ParticipatoryBudgetOrderNotSorted, a.outsider, "finalise", self.round_id, bad, 2**256 - 1
                )
                return
            paid = min(first_payouts, len(self.model.selection().winners))
            if self._draws_on_expired_lot(paid):
                self._reverts(
                    FundLedgerLotExpired, a.outsider, "finalise", self.round_id, order, first_payouts
                )
                return
            budget_sender.finalise(a.outsider, self.round_id, order, first_payouts, gas=9_000_000)
            self._enter("finalised")
            self._paid(paid)

        @precondition(
            lambda self: (self.phase == "finalised" and not self.settled) or self.phase == "abandoned"
        )
        @rule(count=st.integers(1, 3))
        def pay(self, count: int) -> None:
            if self.phase == "abandoned":
                self._reverts(
                    ParticipatoryBudgetRoundAbandoned, a.outsider, "payWinners", self.round_id, count
                )
                return
            paid = min(self.paid + count, len(self.model.selection().winners))
            if self._draws_on_expired_lot(paid):
                self._reverts(FundLedgerLotExpired, a.outsider, "payWinners", self.round_id, count)
                return
            budget_sender.pay_winners(a.outsider, self.round_id, count, gas=9_000_000)
            self._paid(paid)

        def _paid(self, paid: int) -> None:
            self.paid = paid
            self.settled = paid == len(self.model.selection().winners)
            assert budget_sender.round(self.round_id).settled == self.settled
            self.money_moved = True

        def _draws_on_expired_lot(self, paid: int) -> bool:
            """Whether paying the winners up to `paid` allocates money of the expired lot."""
            if not self.expired:
                return False
            before, _ = self.model.payouts(self.paid)
            after, _ = self.model.payouts(paid)
            return any(p.reservation_id == self.expiring_reservation for p in after[len(before) :])

        # --- an expiring lot --------------------------------------------------------------------

        @precondition(
            lambda self: (
                self.expiring_lot
                and not self.expired
                and (
                    self.phase in ("tally", "finalised")
                    or (self.phase == "voting" and self.steps_in_phase >= 8)
                )
            )
        )
        @rule()
        def expire(self) -> None:
            """The clock passes the lot's expiry before (or while) the round is settled; from the voting
            phase, straight past the end of voting too (nobody finalised in time)."""
            chain.advance_time(system.funds.lot(self.expiring_lot).expiry - chain.now())
            self.expired = True
            if self.phase == "voting":
                self._enter("tally")

        @precondition(lambda self: self.expired and not self.released_directly)
        @rule()
        def release_directly(self) -> None:
            """After the expiry anyone may release the reservation in the fund ledger itself."""
            system.funds.release_reservation(a.outsider, self.expiring_reservation)
            self.released_directly = True
            self.money_moved = True

        @precondition(
            lambda self: (
                self.phase in ("tally", "finalised", "abandoned")
                and (self.expired or not self.refused_abandoning)
            )
        )
        @rule()
        def abandon(self) -> None:
            """Anyone, exactly while the round holds money of the expired lot (refused once before that)."""
            if self.phase == "abandoned":
                self._reverts(ParticipatoryBudgetRoundAbandoned, a.outsider, "abandon", self.round_id)
                return
            if self.settled:
                self._reverts(ParticipatoryBudgetAlreadySettled, a.outsider, "abandon", self.round_id)
                return
            _, rests = self.model.payouts(self.paid)
            if not (self.expired and dict(rests).get(self.expiring_reservation)):
                self.refused_abandoning = True
                self._reverts(ParticipatoryBudgetFundingNotExpired, a.outsider, "abandon", self.round_id)
                return
            r = budget_sender.abandon(a.outsider, self.round_id, gas=GAS)
            released = sum(rest for _, rest in rests)
            assert r.event("RoundAbandoned").args == {
                "roundId": self.round_id,
                "caller": a.outsider.address,
                "lotId": self.expiring_lot,
                "awarded": self.model.budget - released,
                "released": released,
            }
            self._enter("abandoned")
            self.money_moved = True
            assert rebuild_fund_state(system.events()) == system.funds.read_state([system.token.address])

        # --- cancelling before the first ballot -------------------------------------------------

        @precondition(lambda self: self.phase in ("proposals", "voting", "tally"))
        @rule(who=st.sampled_from(["creator", "funder", "funder2", "ngo2", "stranger"]))
        def cancel(self, who: str) -> None:
            """The creator or the funder of one of its lots cancels the round until its first ballot; another
            NGO, a funder with no lot in it and a stranger never."""
            account = {"creator": creator, "funder": a.funder, "funder2": a.funder2, "ngo2": a.ngo2}.get(
                who, a.outsider
            )
            allowed = who in ("creator", "funder") or (who == "funder2" and bool(self.expiring_lot))
            if self.balloted:
                self._reverts(ParticipatoryBudgetNotCancellable, account, "cancelRound", self.round_id)
                return
            if not allowed:
                self._reverts(ParticipatoryBudgetNotCanceller, account, "cancelRound", self.round_id)
                return
            r = budget_sender.cancel_round(account, self.round_id, gas=GAS)
            assert r.event("RoundCancelled").args == {
                "roundId": self.round_id,
                "account": account.address,
                "released": self.model.budget,
            }
            self._enter("abandoned")
            self.money_moved = True
            self.released_directly = True  # nothing is left reserved to release
            assert rebuild_fund_state(system.events()) == system.funds.read_state([system.token.address])

        @precondition(lambda self: self.phase == "finalised" and self.settled)
        @rule()
        def nothing_left_to_do(self) -> None:
            if not self.tried_after_settling:  # once is enough; later steps have nothing to change
                self._reverts(ParticipatoryBudgetAlreadySettled, a.outsider, "payWinners", self.round_id, 1)
                self._reverts(ParticipatoryBudgetWrongPhase, a.outsider, "finalise", self.round_id, [], 0)
                self.tried_after_settling = True

        # --- checks -------------------------------------------------------------------------

        def _expected_error(self, votes: dict[int, int]) -> type[ContractRevert]:
            """The contract checks entries in ascending id order, then the credits."""
            for pid in _arrays(votes)[0]:
                if pid not in self.model.proposals:
                    return ParticipatoryBudgetUnknownProposal
                if pid not in self.model.active():
                    return ParticipatoryBudgetProposalNotActive
            return ParticipatoryBudgetCreditsExceeded

        def _reverts(self, error: type[ContractRevert], account: LocalAccount, fn: str, *args: Any) -> None:
            try:
                budget_sender.transact(account, fn, *args, gas=GAS)
            except error:
                return
            raise AssertionError(f"{fn} did not revert with {error.__name__}")

        def _check_ballots(self, accounts: list[LocalAccount]) -> None:
            for voter in accounts:
                ids, votes, spent = budget_sender.call(
                    "ballotOf", self.round_id, voter.address, sender=viewer
                )
                assert dict(zip(ids, votes, strict=True)) == self.model.ballots.get(voter.address, {})
                assert spent == self.model.spent(voter.address) <= self.model.credits

        @invariant()
        def ballots_and_tallies_match_the_model(self) -> None:
            """Each step: the acting voter's ballot and every tally; at each phase change: every ballot."""
            self.steps_in_phase += 1
            if not self.round_id or (
                self.phase in ("finalised", "abandoned") and self.checked_phase == self.phase
            ):
                return  # nothing can change any more
            self._check_ballots(voters if self.phase != self.checked_phase else self.touched)
            self.touched, self.checked_phase = [], self.phase
            proposals = budget_sender.call("getProposals", self.round_id, sender=viewer)
            active = set(self.model.active())
            chain_tallies = {pid: p[3] for pid, p in enumerate(proposals, start=1) if pid in active}
            assert chain_tallies == self.model.tallies()

        @invariant()
        def finalised_money_follows_the_model(self) -> None:
            if not self.money_moved:
                return
            self.money_moved = False
            rnd = budget_sender.round(self.round_id)
            abandoned = self.phase == "abandoned"
            assert (rnd.abandoned, rnd.paid_count, rnd.settled) == (abandoned, self.paid, self.settled)
            selection = self.model.selection()
            finalised = rnd.finalised
            assert budget_sender.winners(self.round_id) == (list(selection.winners) if finalised else [])
            paid = sum(self.model.proposals[w].amount for w in selection.winners[: self.paid])
            assert rnd.awarded == (paid if abandoned else selection.awarded if finalised else 0) <= rnd.budget
            reserved = sum(f.remaining for f in budget_sender.fundings(self.round_id))
            assert reserved == (0 if rnd.settled or abandoned else rnd.budget - paid)
            to_programs = {pid: system.funds.program(pid).allocated for pid in programs}
            payouts, _ = self.model.payouts(self.paid)
            assert to_programs == {
                pid: sum(p.amount for p in payouts if p.program_id == pid) for pid in programs
            }
            # money is conserved: what left the lots is still reserved in the fund ledger or went to the
            # programs (the reservation of an expired lot may have been released there directly)
            lots = [funding_lot] + ([self.expiring_lot] if self.expiring_lot else [])
            in_lots = sum(system.funds.lot(lot_id).unallocated for lot_id in lots)
            held = sum(
                system.funds.reservation(f.reservation_id).amount
                for f in budget_sender.fundings(self.round_id)
            )
            assert held <= reserved
            assert in_lots + held + sum(to_programs.values()) == lot_start + self.expiring_amount
            # and never left the ledger
            assert system.balance(system.funds.address) == fund_balance + self.expiring_amount
            report = verify_rounds(system.events(from_block=self.start_block))
            assert report.ok, report.mismatches

    run_state_machine_as_test(
        RoundMachine, settings=settings(max_examples=15, stateful_step_count=40, deadline=None)
    )


def _arrays(votes: dict[int, int]) -> tuple[list[int], list[int]]:
    ids = sorted(p for p, v in votes.items() if v)
    return ids, [votes[p] for p in ids]
