"""The devnet and the demo's scenarios: a month of the fund ledger, a claim program, a participatory
budget round, played by operator-held accounts on a fresh chain. Runtime code the CLI and the demo
import (`scripts/` holds only benchmarks and developer tools)."""

from __future__ import annotations

from api.devnet.cast import BOOK_FILE, DemoCast
from api.devnet.funds import play_all, play_demo, run_devnet, summary

__all__ = ["BOOK_FILE", "DemoCast", "play_all", "play_demo", "run_devnet", "summary"]
