"""A py-evm key-value database in one SQLite file.

Every write goes into one open SQLite transaction; `commit()` makes the writes so far
durable. Reads use the same connection, so they see uncommitted writes. A small
write-through cache in front answers most reads (py-evm reads the same trie nodes over and
over); `rollback()` empties it.

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

    def __init__(
        self, path: Path | str, *, synchronous: Synchronous = "NORMAL", cache_entries: int = 8192
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        self.path = Path(path)
        self._cache: dict[bytes, bytes] = {}
        self._cache_entries = cache_entries
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

    def _remember(self, key: bytes, value: bytes) -> None:
        if len(self._cache) >= self._cache_entries:
            del self._cache[next(iter(self._cache))]  # oldest first
        self._cache[key] = value

    def __getitem__(self, key: bytes) -> bytes:
        try:
            return self._cache[key]
        except KeyError:
            pass
        row = self._db.execute(_GET, (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        value: bytes = row[0]
        self._remember(key, value)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._write().execute(_PUT, (key, value))
        self._cache.pop(key, None)
        self._remember(key, value)

    def __delitem__(self, key: bytes) -> None:
        self._cache.pop(key, None)
        if self._write().execute(_DELETE, (key,)).rowcount == 0:
            raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        if key in self._cache:
            return True
        return self._db.execute(_EXISTS, (key,)).fetchone() is not None

    def commit(self) -> None:
        """Make all writes so far durable (see the module docstring for how durable)."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")

    def rollback(self) -> None:
        """Drop all writes since the last `commit()`."""
        self._cache.clear()  # it may hold some of them
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
