"""A py-evm key-value database in one SQLite file.

Every write goes into one open SQLite transaction; `commit()` makes the writes so far
durable. Reads use the same connection, so they see uncommitted writes.

Durability (WAL journal):

* ``synchronous="NORMAL"`` (default): a committed transaction survives a crash or
  ``kill -9`` of the process, because it is already in the WAL file the kernel holds.
  A power loss or kernel crash can lose the last few commits (the file stays consistent).
* ``synchronous="FULL"``: the WAL is fsynced on every commit, so commits also survive a
  power loss, at the price of one fsync per commit.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Literal

from eth.db.backends.base import BaseDB

Synchronous = Literal["NORMAL", "FULL"]

_GET = "SELECT v FROM kv WHERE k = ?"
_EXISTS = "SELECT 1 FROM kv WHERE k = ?"
_PUT = "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)"
_DELETE = "DELETE FROM kv WHERE k = ?"


class SqliteDB(BaseDB):
    """Bytes-to-bytes store in table ``kv``; writes are buffered until `commit()`.

    Not thread-safe: the caller serializes access (one connection, one open transaction).
    """

    def __init__(self, path: Path | str, *, synchronous: Synchronous = "NORMAL") -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        self.path = Path(path)
        # Owner-only; SQLite gives the -wal and -shm files the same mode.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        # isolation_level=None: no implicit transactions; we BEGIN and COMMIT ourselves.
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False
        )
        conn = self._conn
        if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
            raise RuntimeError(f"{self.path}: SQLite refused WAL journal mode")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA cache_size=-32768")  # 32 MiB page cache
        conn.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self.path}: database is closed")
        return self._conn

    def _write(self) -> sqlite3.Connection:
        conn = self._db
        if not conn.in_transaction:
            conn.execute("BEGIN")
        return conn

    def __getitem__(self, key: bytes) -> bytes:
        row = self._db.execute(_GET, (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        value: bytes = row[0]
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._write().execute(_PUT, (key, value))

    def __delitem__(self, key: bytes) -> None:
        if self._write().execute(_DELETE, (key,)).rowcount == 0:
            raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        return self._db.execute(_EXISTS, (key,)).fetchone() is not None

    @property
    def has_uncommitted(self) -> bool:
        """True while writes are waiting for `commit()`."""
        return self._conn is not None and self._conn.in_transaction

    def commit(self) -> None:
        """Make all writes so far durable (see the module docstring for how durable)."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")

    def rollback(self) -> None:
        """Drop all writes since the last `commit()`."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def close(self) -> None:
        """Drop uncommitted writes, fold the WAL into the main file and close."""
        if self._conn is None:
            return
        self.rollback()
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()
        self._conn = None
