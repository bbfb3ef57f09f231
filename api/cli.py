"""The `allmende` command line: compile, devnet, serve, deploy, audit, export, bench and key rotation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from api.verification import Report
    from ledger.system import Allmende

app = typer.Typer(help="Allmende: transparent aid and participatory budgeting on a permissioned ledger.")
console = Console()

DataDir = Annotated[Path, typer.Option(help="Where the embedded chain and the address book live.")]


@app.command()
def compile() -> None:
    """Compile the contracts with the pinned solc and rewrite the committed artifacts."""
    from ledger._errorgen import write_module
    from ledger.compiler import write_artifacts

    for path in write_artifacts():
        console.print(f"wrote {path}")
    console.print(f"wrote {write_module()}")


@app.command()
def devnet(data_dir: DataDir = Path(".allmende")) -> None:
    """Run the embedded devnet: deploy, play the demo once, print where the money went."""
    from api.devnet import run_devnet

    if not run_devnet(data_dir, console):
        raise typer.Exit(1)


def _refuse_taken_port(host: str, port: int) -> None:
    """Exit with a clear message when `host`:`port` cannot be bound."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            console.print(
                f"[red]cannot listen on {host}:{port}: {exc.strerror}.[/red] "
                "Choose another port with --port (make run PORT=8080)."
            )
            raise typer.Exit(1) from exc


@app.command()
def serve(
    data_dir: DataDir = Path(".allmende"),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[bool, typer.Option(help="Seed demo organisations and money on first start.")] = False,
    admin_key_file: Annotated[
        Path | None,
        typer.Option(
            help="Create the operator's admin organisation on first start and write its API key to this "
            "file (mode 0600; never to the log). Kept as it is on later starts; with --demo the key is in "
            "the demo keys file instead."
        ),
    ] = None,
) -> None:
    """Run the HTTP gateway on the durable embedded chain (or ALLMENDE_RPC_URL)."""
    import uvicorn

    from api.app import create_app
    from api.demo import DEMO_KEYS_FILE, seed_demo
    from api.gateway import Gateway
    from api.serving import uvicorn_config
    from api.settings import Settings, SettingsError

    _refuse_taken_port(host, port)  # before seeding: a taken port should not cost a demo's minute
    settings = Settings(data_dir=data_dir, host=host, port=port)
    try:
        gateway = Gateway.open(settings)
    except SettingsError as exc:  # a setting the operator must give: say which, not a traceback
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    try:
        if demo:
            keys = seed_demo(gateway)
            if keys is not None:
                console.print(f"demo data created; API keys for the demo organisations are in {keys}")
            elif (kept := settings.data_dir / DEMO_KEYS_FILE).exists():
                console.print(f"demo data kept from an earlier start; its API keys are in {kept}")
        if admin_key_file is not None:
            created = gateway.bootstrap_admin()
            if created is not None:
                fd = os.open(admin_key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(created[1] + "\n")
                console.print(f"admin organisation created; its API key is in {admin_key_file}")
        console.print(
            f"Allmende gateway on http://{host}:{port}  (client pages: http://{host}:{port}/client/, "
            f"where the money went: http://{host}:{port}/public/, API docs: http://{host}:{port}/docs)"
        )
        uvicorn.Server(uvicorn_config(create_app(settings, gateway), settings, log_level="info")).run()
    finally:
        gateway.close()


@app.command()
def deploy(
    rpc: Annotated[str, typer.Option(help="JSON-RPC endpoint of the chain.")],
    key_file: Annotated[Path, typer.Option(help="File holding the deployer's hex private key.")],
    book: Annotated[Path, typer.Option(help="Address book to write (kept if it exists).")] = Path(
        "address-book.json"
    ),
) -> None:
    """Deploy the system (idempotently) to an external chain and write its address book."""
    from ledger.rpc import RpcChain
    from ledger.system import deploy as deploy_system

    key = key_file.read_text(encoding="utf-8").strip()
    chain = RpcChain(rpc, [key])
    result = deploy_system(chain, chain.accounts[0], book)
    for name, d in result.contracts.items():
        console.print(f"{name:20} {d.address} (block {d.deploy_block})")


GatewayUrl = Annotated[
    str,
    typer.Option(
        envvar="ALLMENDE_GATEWAY_URL",
        help="The running gateway whose read-only /rpc is read when it holds the embedded chain.",
    ),
]


@contextmanager
def _deployment(rpc: str | None, book: Path | None, data_dir: Path, gateway: str) -> Iterator[Allmende]:
    """The deployed system on a JSON-RPC node, or on the embedded chain under `data_dir` (closed after).

    While a gateway holds the embedded chain, the chain is read through the gateway's read-only
    JSON-RPC endpoint instead.
    """
    from api.devnet import BOOK_FILE
    from ledger.exceptions import ChainInUse
    from ledger.system import Allmende

    book_path = book or data_dir / BOOK_FILE
    if rpc is None:
        from ledger.embedded import EmbeddedChain

        try:
            chain = EmbeddedChain.open(data_dir / "chain")
        except ChainInUse:
            rpc = gateway.rstrip("/") + "/rpc"
            console.print(f"{data_dir / 'chain'} is in use by a running gateway; reading it through {rpc}")
        else:
            with chain:
                yield Allmende.connect(chain, book_path)
            return
    from requests.exceptions import RequestException

    from ledger.rpc import RpcChain

    try:
        system = Allmende.connect(RpcChain(rpc, []), book_path)
    except RequestException as exc:
        console.print(f"[red]cannot read the chain at {rpc}: {exc}[/red]")
        raise typer.Exit(1) from exc
    yield system


@app.command()
def audit(
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC endpoint; default: the embedded chain.")] = None,
    book: Annotated[Path | None, typer.Option(help="Address book of the deployment.")] = None,
    data_dir: DataDir = Path(".allmende"),
    gateway: GatewayUrl = "http://127.0.0.1:8000",
) -> None:
    """Rebuild the fund ledger from events alone and compare it with the contracts' views."""
    from api.devnet import summary

    with _deployment(rpc, book, data_dir, gateway) as system:
        ok = summary(system, console)
    if not ok:
        raise typer.Exit(1)


@app.command("export-round")
def export_round(
    round_id: Annotated[int, typer.Argument(help="The participatory budget round to export.")],
    out: Annotated[Path, typer.Option(help="The .pb file to write.")] = Path("round.pb"),
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC endpoint; default: the embedded chain.")] = None,
    book: Annotated[Path | None, typer.Option(help="Address book of the deployment.")] = None,
    data_dir: DataDir = Path(".allmende"),
    gateway: GatewayUrl = "http://127.0.0.1:8000",
) -> None:
    """Write a round as a pabulib .pb file (open data), rebuilt and verified from the chain's events."""
    from governance.errors import GovernanceError
    from governance.pabulib import export_round as pb_text

    with _deployment(rpc, book, data_dir, gateway) as system:
        events = system.events()
    try:
        text = pb_text(events, round_id)
    except GovernanceError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote round {round_id} to {out}")


@app.command()
def verify(
    rpc: Annotated[str, typer.Option(help="JSON-RPC endpoint of the chain: a node, or a gateway's /rpc.")],
    book: Annotated[
        Path, typer.Option(help="Address book of the deployment (its optional `roles` are checked).")
    ],
    report: Annotated[
        Path, typer.Option(help="Where to write the report: REPORT.json and REPORT.html.")
    ] = Path("verification"),
    attest: Annotated[
        bool,
        typer.Option(help="When everything agrees, attest it on chain through the gateway, as the auditor."),
    ] = False,
    api_key_file: Annotated[
        Path | None, typer.Option(help="File holding the auditor's API key (for --attest).")
    ] = None,
    gateway: GatewayUrl = "http://127.0.0.1:8000",
) -> None:
    """Verify a deployment from a chain endpoint and the committed sources alone; exit 1 on any mismatch."""
    if attest and api_key_file is None:
        console.print("[red]--attest needs --api-key-file: the auditor's API key signs the attestation[/red]")
        raise typer.Exit(2)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from api.verification import collect, render_html
    from api.verification import verify as verify_records
    from api.verification.records import book_roles
    from ledger.compiler import reference_build
    from ledger.rpc import RpcChain
    from ledger.system import Allmende

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("building the sources with the pinned compiler", total=None)
        build = reference_build()
        try:
            system = Allmende.connect(RpcChain(rpc, []), book)
            records = collect(system, book_roles(book), lambda step: bar.update(task, description=step))
        except Exception as exc:  # the endpoint, the book or a view failed: say which, no traceback
            console.print(f"[red]cannot read the deployment at {rpc}: {exc}[/red]")
            raise typer.Exit(2) from exc
        bar.update(task, description="checking")
        result = verify_records(records, build)
    table = Table(title=f"Chain {result.chain_id} up to block {result.block_number} ({result.events} events)")
    for col in ("record", "checks", "result"):
        table.add_column(col)
    for section in result.sections:
        verdict = "[green]agrees[/green]" if section.ok else "[red]MISMATCH[/red]"
        table.add_row(section.title, str(len(section.checks)), verdict)
    console.print(table)
    for line in result.mismatches:
        console.print(f"[red]{line}[/red]")
    json_path, html_path = report.with_suffix(".json"), report.with_suffix(".html")
    json_path.write_text(result.json_text(), encoding="utf-8")
    html_path.write_text(render_html(result), encoding="utf-8")
    console.print(f"report: {json_path} (sha256 {result.sha256()}) and {html_path}")
    if not result.ok:
        raise typer.Exit(1)
    if attest:
        assert api_key_file is not None
        _attest(gateway, api_key_file.read_text(encoding="utf-8").strip(), result)


def _attest(gateway: str, api_key: str, result: Report) -> None:
    """Record the verified block and the report's hash on chain, signed with the auditor's key."""
    import httpx

    digest = result.sha256()
    body = {"blockNumber": result.block_number, "blockHash": result.block_hash, "reportHash": "0x" + digest}
    try:
        response = httpx.post(
            gateway.rstrip("/") + "/v1/audit/attestations",
            json=body,
            headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": "attest-" + digest},
            timeout=120,
        )
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach the gateway at {gateway}: {exc}[/red]")
        raise typer.Exit(2) from exc
    if response.status_code != 201:
        problem = response.json() if response.headers.get("content-type", "").endswith("json") else {}
        detail = problem.get("detail", response.text[:200])
        console.print(
            f"[red]attestation refused: {response.status_code} {problem.get('code', '')} {detail}[/red]"
        )
        raise typer.Exit(2)
    made = response.json()
    console.print(
        f"attested on chain: attestation {made['attestationId']} in transaction {made['transactionHash']}"
    )


@app.command("rotate-master-key")
def rotate_master_key(
    new_key_file: Annotated[
        Path,
        typer.Option(help="File holding the new master key: base64 of 32 random bytes, like the old one."),
    ],
    old_key_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the current master key. Default: the key the gateway would load "
            "(ALLMENDE_MASTER_KEY, ALLMENDE_MASTER_KEY_FILE, or DATA_DIR/master.key in development)."
        ),
    ] = None,
    data_dir: DataDir = Path(".allmende"),
    dry_run: Annotated[
        bool, typer.Option(help="Check that everything can be moved; change nothing.")
    ] = False,
) -> None:
    """Seal every custodial key and secret under a new master key, in one checked transaction.

    Stop the gateway first. The database is ALLMENDE_DATABASE_URL, or the SQLite file in DATA_DIR.
    Afterwards start the gateway with the new key; the old one no longer opens the database.
    """
    from api.db import Database
    from api.master_key import RotationError
    from api.master_key import rotate_master_key as rotate
    from api.settings import Settings, SettingsError

    settings = Settings(data_dir=data_dir)
    if old_key_file is not None:
        settings = Settings(data_dir=data_dir, master_key=None, master_key_file=old_key_file)
    elif (
        settings.master_key is None
        and settings.master_key_file is None
        and not (data_dir / "master.key").exists()
    ):
        # the settings would make up a fresh key in development: that is never the old one
        console.print(f"[red]no master key: no {data_dir / 'master.key'}, and none in the environment[/red]")
        raise typer.Exit(1)
    if settings.database_url is None and not (data_dir / "gateway.sqlite3").exists():
        console.print(
            f"[red]no database: no {data_dir / 'gateway.sqlite3'} and no ALLMENDE_DATABASE_URL[/red]"
        )
        raise typer.Exit(1)
    try:
        old_key = settings.load_master_key()
        new_key = Settings(
            environment="production", master_key=None, master_key_file=new_key_file
        ).load_master_key()
    except (OSError, SettingsError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    db = Database(settings.db_url)
    try:
        report = rotate(db, old_key, new_key, dry_run=dry_run)
    except RotationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        db.engine.dispose()
    for label, count in report.resealed.items():
        console.print(f"{label:48} {count:>8}")
    if report.already:
        console.print(f"{'already under the new key':48} {report.already:>8}")
    if dry_run:
        console.print("dry run: every record can be moved to the new key; nothing was changed")
        return
    console.print(
        f"sealed {report.total} records under the new key. Start the gateway with it "
        f"(ALLMENDE_MASTER_KEY_FILE={new_key_file}, or replace {data_dir / 'master.key'} in development); "
        "keep the old key only as long as you keep backups made under it."
    )


@app.command()
def bench() -> None:
    """Measure gas and throughput; writes benchmarks/results.json and docs/benchmarks.md.

    The benchmarks are developer tools of a source checkout (`scripts/`, run from its top folder as
    `make bench` does); an installed gateway has no benchmarks to run."""
    import subprocess
    import sys

    if not Path("scripts/bench.py").is_file():
        console.print(
            "the benchmarks run from a source checkout of Allmende: change to its top folder and run "
            "`make bench` (or `allmende bench` there)"
        )
        raise typer.Exit(2)
    raise typer.Exit(subprocess.call([sys.executable, "-m", "scripts.bench"]))


if __name__ == "__main__":
    app()
