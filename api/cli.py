"""The `allmende` command line: compile, devnet, deploy, audit and bench."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
    from scripts.devnet import run_devnet

    if not run_devnet(data_dir, console):
        raise typer.Exit(1)


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
    from api.demo import seed_demo
    from api.gateway import Gateway
    from api.settings import Settings

    settings = Settings(data_dir=data_dir, host=host, port=port)
    gateway = Gateway.open(settings)
    try:
        if demo:
            keys = seed_demo(gateway)
            if keys is not None:
                console.print(f"demo data created; API keys for the demo organisations are in {keys}")
        if admin_key_file is not None:
            created = gateway.bootstrap_admin()
            if created is not None:
                fd = os.open(admin_key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(created[1] + "\n")
                console.print(f"admin organisation created; its API key is in {admin_key_file}")
        console.print(f"Allmende gateway on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
        uvicorn.run(create_app(settings, gateway), host=host, port=port, log_level="info")
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


@app.command()
def audit(
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC endpoint; default: the embedded chain.")] = None,
    book: Annotated[Path | None, typer.Option(help="Address book of the deployment.")] = None,
    data_dir: DataDir = Path(".allmende"),
) -> None:
    """Rebuild the fund ledger from events alone and compare it with the contracts' views."""
    from ledger.system import Allmende
    from scripts.devnet import BOOK_FILE, summary

    book_path = book or data_dir / BOOK_FILE
    if rpc is not None:
        from ledger.rpc import RpcChain

        ok = summary(Allmende.connect(RpcChain(rpc, []), book_path), console)
    else:
        from ledger.embedded import EmbeddedChain

        with EmbeddedChain.open(data_dir / "chain") as chain:
            ok = summary(Allmende.connect(chain, book_path), console)
    if not ok:
        raise typer.Exit(1)


@app.command("export-round")
def export_round(
    round_id: Annotated[int, typer.Argument(help="The participatory budget round to export.")],
    out: Annotated[Path, typer.Option(help="The .pb file to write.")] = Path("round.pb"),
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC endpoint; default: the embedded chain.")] = None,
    book: Annotated[Path | None, typer.Option(help="Address book of the deployment.")] = None,
    data_dir: DataDir = Path(".allmende"),
) -> None:
    """Write a round as a pabulib .pb file (open data), rebuilt and verified from the chain's events."""
    from governance.errors import GovernanceError
    from governance.pabulib import export_round as pb_text
    from ledger.system import Allmende
    from scripts.devnet import BOOK_FILE

    book_path = book or data_dir / BOOK_FILE
    if rpc is not None:
        from ledger.rpc import RpcChain

        events = Allmende.connect(RpcChain(rpc, []), book_path).events()
    else:
        from ledger.embedded import EmbeddedChain

        with EmbeddedChain.open(data_dir / "chain") as chain:
            events = Allmende.connect(chain, book_path).events()
    try:
        text = pb_text(events, round_id)
    except GovernanceError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote round {round_id} to {out}")


@app.command()
def bench() -> None:
    """Measure gas and throughput; writes benchmarks/results.json and docs/benchmarks.md."""
    from scripts.bench import main

    main()


if __name__ == "__main__":
    app()
