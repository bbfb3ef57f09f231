"""Gateway throughput: relayed operations by signed-in users over real HTTP vs straight through ledger/.

Both runs use a durable embedded chain and the same kinds of operations: clients claiming their
aid (signed with their claim keys), clients casting quadratic ballots in a budget round (signed with
their round's voting keys), clients paying at a shop's counter on their phones (a payment request
the shop made before, confirmed by the signed-in client: a token transfer from their account) and an
NGO paying single disbursements, 32 concurrent callers.
Sign-in is done before the clock starts. The HTTP run talks to `allmende serve` in its own process.

Latency is also measured open-loop: the same mix on a fresh deployment, arriving as a Poisson process
at half the capacity the closed runs measured, each request on its own schedule (`api.open_loop.*`).
With callers that wait for their answers, latency is only the number of callers over throughput.
"""

from __future__ import annotations

import base64
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account

from api.gateway import Gateway
from api.principals import Principal
from api.services.rounds import RoundSpec
from api.settings import Settings
from governance.pseudonyms import Purpose, pseudonym_key
from governance.voters import vote_address, vote_key
from governance.vouchers import ProgramRef, payout_address, program_index
from ledger.claims import sign_claim
from ledger.participatory_budget import ballot_arrays

CONCURRENCY = 32
CLIENTS = 192  # each claims once
DISBURSEMENTS = 64
PAYMENTS = 32  # clients after the disbursements' pay at a shop's counter on their phones
BALLOTS = 96  # the first clients each cast one ballot
ROUNDS = 3  # pairs of runs (HTTP and direct) measured
OPEN_LOOP_SHARE = 0.5  # the open-loop run offers this share of the capacity the closed runs measured
OPEN_LOOP_THREADS = 256  # enough that arrivals never wait for a free thread at that rate
PROPOSALS = 5
WORK_PREFIX = {"process": "api.chain_process.", "in_process": "api.in_process.", "direct": "chain.direct_"}
"""Where each run's work figures (CPU ms per operation, operations per block) go in the results."""
PIN = "2468"
EUR = 1_000_000


def _settings(data_dir: Path, key: str) -> Settings:
    """The single-process arrangement: the direct path is measured with the chain in this process."""
    return Settings(
        environment="test",
        data_dir=data_dir,
        master_key=key,  # type: ignore[arg-type]  # pydantic converts it
        relay_wait_ms=3.0,
        chain_process=False,
    )


def _prepare(data_dir: Path, key: str) -> dict[str, Any]:
    """Organisations, a funded program, clients with vouchers and a claim program granting each of them."""
    gw = Gateway.open(_settings(data_dir, key))
    try:
        admin = gw.bootstrap_admin()
        assert admin is not None
        funder, _ = gw.create_organisation("funder", "Bench funder")
        funder2, _ = gw.create_organisation("funder", "Bench approver")
        ngo, ngo_key = gw.create_organisation("ngo", "Bench NGO")
        admin_org = gw.organisation(admin[0].id)
        gw.execute("bench", admin_org, gw.system.token.mint_call(funder.address, 10_000_000 * EUR, bytes(32)))
        program = gw.execute(
            "bench", ngo, gw.system.funds.create_program_call(gw.system.token.address, bytes(32))
        )
        pid = program.event("ProgramCreated").args["programId"]
        lot = gw.execute(
            "bench", funder, gw.system.funds.deposit_call(gw.system.token.address, 1_000_000 * EUR, 0, 0)
        )
        lot_id = lot.event("LotDeposited").args["lotId"]
        gw.execute("bench", funder, gw.system.funds.allocate_call(lot_id, pid, 1_000_000 * EUR))
        gw.execute("bench", funder, gw.system.funds.set_program_approver_call(pid, funder2.address, True))
        tranche = gw.execute(
            "bench", ngo, gw.system.funds.request_tranche_call(pid, 1_000_000 * EUR, bytes(32))
        )
        gw.execute(
            "bench",
            funder2,
            gw.system.funds.approve_tranche_call(tranche.event("TrancheRequested").args["trancheId"]),
        )
        regs = [gw.clients.register(ngo.id, {"name": f"Client {i}"}, PIN) for i in range(CLIENTS)]
        expiry = int((datetime.now(UTC) + timedelta(days=60)).timestamp())
        opened = gw.claims.open_program(
            ngo.id, pid, expiry, "Bench claims", [(r.client_id, 10 * EUR) for r in regs]
        )
        round_lot = (
            gw.execute(
                "bench", funder, gw.system.funds.deposit_call(gw.system.token.address, 10_000 * EUR, 0, 0)
            )
            .event("LotDeposited")
            .args["lotId"]
        )
        gw.execute("bench", funder, gw.system.funds.set_lot_allocator_call(round_lot, ngo.address, True))
        now = gw.chain.now()
        spec = RoundSpec(
            "Bench round", "", [(round_lot, 10_000 * EUR)], 100, now + 60, now + 60 * 86_400, EUR, 2_000 * EUR
        )
        round_id = gw.rounds.create(ngo.id, spec).round_id
        for i in range(PROPOSALS):
            gw.rounds.submit_proposal(ngo.id, round_id, pid, 1_000 * EUR, f"Proposal {i}", "")
        gw.advance_time(61)  # voting is open
        ngo_principal = Principal(ngo.id, "ngo", ngo.name, ngo.address, ("*",))
        shop, _, _ = gw.providers.admit_new(
            ngo_principal, "Bench shop", "Weg 1", "20457", "Hamburg", ["food"]
        )
        shop_principal = Principal(shop.provider_id, "provider", shop.name, shop.account, ("*",))
        paying = regs[DISBURSEMENTS : DISBURSEMENTS + PAYMENTS]
        gw.funds.disburse(ngo_principal, pid, [(r.account, 5 * EUR) for r in paying], "bench payments")
        codes = [gw.payments.request(shop_principal, 2 * EUR, "bench").code for _ in paying]
        return {
            "ngo_key": ngo_key,
            "ngo_id": ngo.id,
            "program": pid,
            "claim_program": opened.claim_program_id,
            "round": round_id,
            "codes": [r.voucher_code for r in regs],
            "accounts": [r.account for r in regs],
            "shop": shop.account,
            "payments": list(zip(range(DISBURSEMENTS, DISBURSEMENTS + PAYMENTS), codes, strict=True)),
        }
    finally:
        gw.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ballot(i: int) -> dict[int, int]:
    """Client `i`'s ballot: 36 + 16 + at most 36 of 100 credits."""
    return {1 + i % PROPOSALS: 6, 1 + (i + 1) % PROPOSALS: 4, 1 + (i + 3) % PROPOSALS: 1 + i % 6}


def _timed(ops: list[Any], run: Any) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()

    def one(op: Any) -> None:
        t = time.perf_counter()
        run(op)
        with lock:
            latencies.append((time.perf_counter() - t) * 1000)

    start = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, ops))
    return len(ops) / (time.perf_counter() - start), latencies


def _open_loop(ops: list[Any], run: Any, rate_per_s: float, seed: int = 7) -> tuple[float, list[float]]:
    """Send `ops` as a Poisson process of `rate_per_s` arrivals a second, whatever the answers: each
    request leaves at its scheduled time on a thread of its own (up to OPEN_LOOP_THREADS at once), and
    its latency counts from that time, so a slow answer cannot hold the next arrivals back (closed
    loops hide queueing that way). Returns the achieved rate and the latencies in ms."""
    rng = random.Random(seed)
    at, schedule = 0.0, []
    for _ in ops:
        at += rng.expovariate(rate_per_s)
        schedule.append(at)
    latencies: list[float] = []
    lock = threading.Lock()

    def one(op: Any, due: float) -> None:
        run(op)
        with lock:
            latencies.append((time.perf_counter() - due) * 1000)

    start = time.perf_counter()
    with ThreadPoolExecutor(OPEN_LOOP_THREADS) as pool:
        futures = []
        for op, offset in zip(ops, schedule, strict=True):
            due = start + offset
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            futures.append(pool.submit(one, op, due))
        for f in futures:
            f.result()
    return len(ops) / (time.perf_counter() - start), latencies


def _cpu_seconds(data_dir: Path) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the gateway serving `data_dir` and by its chain
    process, read from /proc (empty where there is no /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for pid in (p for p in os.listdir("/proc") if p.isdigit()) if os.path.isdir("/proc") else ():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if str(data_dir) not in command:
            continue
        name = "chain" if "ledger.chain_process" in command else "gateway" if " serve " in command else None
        if name is not None:
            used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return used


def _block_number(http: httpx.Client) -> int:
    """The chain's height, through the gateway's read-only JSON-RPC endpoint."""
    answer = http.post("/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})
    return int(answer.json()["result"], 16)


def _send(http: httpx.Client, setup: dict[str, Any], ngo: dict[str, str], op: tuple[str, Any]) -> Any:
    """One operation of the mix over HTTP: a client's claim, ballot or payment, or an NGO's payment."""
    kind, arg = op
    if kind == "claim":
        return http.post(
            f"/v1/client/claims/{setup['claim_program']}", headers={"Authorization": f"Bearer {arg}"}
        )
    if kind == "buy":
        token, code = arg
        return http.post(f"/v1/client/payments/{code}", headers={"Authorization": f"Bearer {token}"})
    if kind == "ballot":
        i, token = arg
        votes = [{"proposalId": p, "votes": v} for p, v in sorted(_ballot(i).items())]
        return http.put(
            f"/v1/client/rounds/{setup['round']}/ballot",
            headers={"Authorization": f"Bearer {token}"},
            json={"votes": votes},
        )
    return http.post(
        f"/v1/ngo/programs/{setup['program']}/disbursements",
        headers=ngo,
        json={"payments": [{"address": arg, "amount": "1"}]},
    )


def http_run(
    data_dir: Path,
    key: str,
    setup: dict[str, Any],
    open_rate_per_s: float | None = None,
    *,
    chain_process: bool = True,
) -> tuple[float, list[float], dict[str, float]]:
    """The operations over real HTTP against `allmende serve` in a subprocess: ops/s, latencies and
    where the work went (CPU ms per operation of the gateway's and the chain's process, operations
    per block), with CONCURRENCY callers that each wait for their answer, or arriving open-loop at a
    fixed rate. `chain_process` picks the arrangement: the embedded chain in a process of its own, or
    in the gateway's."""
    port = _free_port()
    env = {
        **os.environ,
        "ALLMENDE_MASTER_KEY": key,
        "ALLMENDE_ENVIRONMENT": "test",
        "ALLMENDE_RELAY_WAIT_MS": "3",
        "ALLMENDE_CHAIN_PROCESS": "true" if chain_process else "false",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as http:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.1)
            with ThreadPoolExecutor(8) as pool:
                tokens = list(
                    pool.map(
                        lambda code: http.post(
                            "/v1/client/session", json={"voucherCode": code, "pin": PIN}
                        ).json()["token"],
                        setup["codes"],
                    )
                )
            ngo = {"Authorization": f"Bearer {setup['ngo_key']}"}
            ops: list[tuple[str, Any]] = [("claim", t) for t in tokens]
            ops += [("pay", a) for a in setup["accounts"][:DISBURSEMENTS]]
            ops += [("ballot", (i, t)) for i, t in enumerate(tokens[:BALLOTS])]
            ops += [("buy", (tokens[i], code)) for i, code in setup["payments"]]
            ops.sort(key=lambda o: hash(str(o[1])))  # interleave the kinds

            def run(op: tuple[str, Any]) -> None:
                r = _send(http, setup, ngo, op)
                if r.status_code != (200 if op[0] in ("ballot", "buy") else 201):  # put, or confirmed
                    raise RuntimeError(f"{op[0]} failed: {r.status_code} {r.text}")

            cpu_before, height = _cpu_seconds(data_dir), _block_number(http)
            if open_rate_per_s is None:
                ops_per_s, latencies = _timed(ops, run)
            else:
                ops_per_s, latencies = _open_loop(ops, run, open_rate_per_s)
            cpu_after, blocks = _cpu_seconds(data_dir), _block_number(http) - height
    finally:
        server.terminate()
        server.wait(30)
    work = {
        f"{name}_cpu_ms_per_op": (cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / len(ops)
        for name in cpu_after
    }
    work["ops_per_block"] = len(ops) / max(blocks, 1)
    return ops_per_s, latencies, work


def direct_run(data_dir: Path, key: str, setup: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """The same operations signed and relayed straight through ledger/ (forwarder + relayer): ops/s,
    and the CPU ms per operation of this process (signing and the chain) and operations per block."""
    gw = Gateway.open(_settings(data_dir, key))
    try:
        sessions = [gw.clients.sign_in(code, PIN, "bench")[1] for code in setup["codes"]]
        system = gw.system
        program = system.claims.program(setup["claim_program"])
        ref = ProgramRef(gw.chain.chain_id, system.claims.address, setup["claim_program"])
        tree = gw.claims._tree(setup["claim_program"], 1)
        ngo = gw.organisation_account(gw.organisation(setup["ngo_id"]))
        ngo_nonce = [system.forwarding.nonce(ngo.address)]
        nonce_lock = threading.Lock()
        ops: list[tuple[str, Any]] = [("claim", (i, s)) for i, s in enumerate(sessions)]
        ops += [("pay", a) for a in setup["accounts"][:DISBURSEMENTS]]
        ops += [("ballot", (i, s)) for i, s in enumerate(sessions[:BALLOTS])]
        ops += [("buy", sessions[i]) for i, _ in setup["payments"]]
        round_id = setup["round"]
        round_ref = gw.rounds.ref(round_id)
        roll = gw.rounds.roll(round_id)
        ops.sort(key=lambda o: hash(str(o[1])))
        deadline = gw.chain.now() + 3600

        def run(op: tuple[str, Any]) -> None:
            kind, arg = op
            if kind == "ballot":
                i, session = arg
                ids, votes = ballot_arrays(_ballot(i))
                membership = roll.proof(vote_address(session.root.public(), round_ref))
                data = system.budget.encode("castBallot", round_id, ids, votes, membership)
                voter = Account.from_key(vote_key(session.root, round_ref))
                request = system.forwarding.sign(
                    voter, system.budget.address, data, gas=300_000, nonce=0, deadline=deadline
                )
            elif kind == "buy":  # the payment's one leg: the client's account pays the shop
                payer = Account.from_key(pseudonym_key(arg.root, Purpose.ACCOUNT, 0))
                data = system.token.transfer_call(setup["shop"], 2 * EUR).data
                request = system.forwarding.sign(
                    payer, system.token.address, data, gas=150_000, nonce=0, deadline=deadline
                )
            elif kind == "claim":
                index, session = arg
                claim_key = pseudonym_key(session.root, Purpose.CLAIM, program_index(ref))
                recipient = payout_address(session.root.public(), ref)
                signed = sign_claim(claim_key, program.domain, index, recipient, deadline)
                proof = tree.proof(index)
                call = program.claim_call(
                    signed, root_id=1, position=proof.position, amount=10 * EUR, proof=proof.proof
                )
                data = call.data
                account = Account.from_key(claim_key)
                request = system.forwarding.sign(
                    account, program.address, data, gas=200_000, nonce=0, deadline=deadline
                )
            else:
                data = system.funds.encode("disburse", setup["program"], [arg], [EUR], bytes(32))
                with nonce_lock:
                    nonce = ngo_nonce[0]
                    ngo_nonce[0] += 1
                    request = system.forwarding.sign(
                        ngo, system.funds.address, data, gas=200_000, nonce=nonce, deadline=deadline
                    )
                    future = gw.relayer.submit(request)
                future.result(120)
                return
            gw.relayer.relay(request)

        cpu, height = time.process_time(), gw.chain.web3.eth.block_number
        ops_per_s, _ = _timed(ops, run)
        work = {
            "cpu_ms_per_op": (time.process_time() - cpu) * 1000 / len(ops),
            "ops_per_block": len(ops) / max(gw.chain.web3.eth.block_number - height, 1),
        }
        return ops_per_s, work
    finally:
        gw.close()


def api_throughput(rounds: int = ROUNDS) -> dict[str, float]:
    """Both arrangements over HTTP and the direct path, `rounds` times each, in rotating order so
    that load from elsewhere on the machine hits every side of each ratio alike. Throughputs and
    ratios are medians over rounds; latencies are quantiles over every HTTP request of every round
    of the default arrangement (the chain in a process of its own)."""
    key = base64.b64encode(os.urandom(32)).decode()
    rates: dict[str, list[float]] = {"process": [], "in_process": [], "direct": []}
    latencies: dict[str, list[float]] = {"process": [], "in_process": []}
    work: dict[str, list[float]] = {}
    for i in range(rounds):
        with (
            tempfile.TemporaryDirectory() as a,
            tempfile.TemporaryDirectory() as b,
            tempfile.TemporaryDirectory() as c,
        ):
            dirs = {"process": Path(a), "in_process": Path(b), "direct": Path(c)}
            setups = {name: _prepare(path, key) for name, path in dirs.items()}
            order = ["direct", "process", "in_process"]
            order = order[i % 3 :] + order[: i % 3]
            for name in order:
                if name == "direct":
                    rate, used = direct_run(dirs[name], key, setups[name])
                else:
                    rate, lat, used = http_run(dirs[name], key, setups[name], chain_process=name == "process")
                    latencies[name] += lat
                rates[name].append(rate)
                for figure, value in used.items():
                    work.setdefault(WORK_PREFIX[name] + figure, []).append(value)
    ratios = {
        name: statistics.median(r / d for r, d in zip(rates[name], rates["direct"], strict=True))
        for name in ("process", "in_process")
    }
    q = statistics.quantiles(latencies["process"], n=100)
    iq = statistics.quantiles(latencies["in_process"], n=100)
    capacity = statistics.median(rates["process"])
    open_rate = OPEN_LOOP_SHARE * capacity
    with tempfile.TemporaryDirectory() as d:
        open_setup = _prepare(Path(d), key)
        achieved, open_latencies, _ = http_run(Path(d), key, open_setup, open_rate_per_s=open_rate)
    oq = statistics.quantiles(open_latencies, n=100)
    return {
        "api.open_loop.rate_per_s": round(open_rate, 1),
        "api.open_loop.achieved_per_s": round(achieved, 1),
        "api.open_loop.p50_ms": round(oq[49], 1),
        "api.open_loop.p99_ms": round(oq[98], 1),
        "api.ops_per_s": round(capacity, 1),
        "api.latency_p50_ms": round(q[49], 1),
        "api.latency_p99_ms": round(q[98], 1),
        "chain.direct_ops_per_s": round(statistics.median(rates["direct"]), 1),
        "api.overhead_ratio": round(ratios["process"], 3),
        "api.chain_process.ops_per_s": round(capacity, 1),
        "api.chain_process.ratio": round(ratios["process"], 3),
        "api.in_process.ops_per_s": round(statistics.median(rates["in_process"]), 1),
        "api.in_process.ratio": round(ratios["in_process"], 3),
        "api.in_process.latency_p50_ms": round(iq[49], 1),
        "api.in_process.latency_p99_ms": round(iq[98], 1),
        "api.rounds": rounds,
        **{figure: round(statistics.median(values), 2) for figure, values in work.items()},
    }


if __name__ == "__main__":
    for metric, value in api_throughput().items():
        print(f"{metric:28} {value:>10}")
